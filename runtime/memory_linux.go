//go:build linux

package runtime

/*
#include <malloc.h>
*/
import "C"

import (
	"bytes"
	"os"
	"strconv"
)

// ReleaseFreeMemory hands the C heap's free pages back to the kernel
// (glibc's malloc_trim). Loading a model leaves freed but still resident
// memory in glibc's arenas: onnxruntime_go reads a model's signature and
// metadata through two temporary sessions, which are built and destroyed
// before the real one, and session creation frees scratch of its own.
// glibc keeps freed memory inside an arena for reuse and only shrinks an
// arena from its top, so that memory stays resident for the life of the
// process although serving never needs it again (measured: about 6 MB of
// RSS with the bench's iris and two 784-512-512-10 MLPs, at idle and at
// the peak under load alike; nothing with models as small as those in
// models/). Cheap (a walk over the free lists) and never on the request
// path: the Repository calls it when a load, unload or poll changed the
// served models.
func ReleaseFreeMemory() { C.malloc_trim(0) }

// residentBytes is the process's resident memory now (/proc/self/statm's
// second field, in pages), or 0 when it cannot be read.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
