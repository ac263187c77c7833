package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// inflightShare is the default --max-inflight-bytes as a share of the
// memory the process may use: a quarter. Go's garbage collector (GOGC=100)
// lets the heap grow to twice what is live before it collects, so bytes
// that requests hold can take twice their size; a quarter keeps requests
// to about half the limit, and leaves the other half to what the budget
// does not count: the models' sessions (weights, ONNX Runtime's arenas),
// the responses, the Go runtime.
const inflightShare = 4

// defaultInflightBytes is the default --max-inflight-bytes: a quarter of
// the memory limit (memoryLimit), or 1 GiB when none can be read.
func defaultInflightBytes() int64 {
	if n := memoryLimit(); n > 0 {
		return n / inflightShare
	}
	return 1 << 30
}

// memoryLimit is the memory the process may use: its cgroup's limit (v2
// memory.max, v1 memory.limit_in_bytes), or the machine's RAM when that
// is less or there is no limit; 0 when neither can be read.
func memoryLimit() int64 {
	ram := meminfoTotal("/proc/meminfo")
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if n := cgroupLimit(p); n > 0 && (ram == 0 || n < ram) {
			return n
		}
	}
	return ram
}

// cgroupLimit reads a cgroup memory limit file: bytes, or "max" (v2) or
// a number past any RAM (v1) for none, which is 0 here as an unreadable
// file is.
func cgroupLimit(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// meminfoTotal is MemTotal of /proc/meminfo in bytes, 0 if unreadable.
func meminfoTotal(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 2 && fields[1] == "kB" {
				if kb, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// setMemoryLimit gives the Go runtime a soft memory limit of the budget
// and 32 MiB (for what the budget does not count: responses, outputs, the
// runtime itself), unless GOMEMLIMIT
// sets one, and returns the limit in force. Without it the collector
// (GOGC=100) lets the heap grow to twice what was live at its last
// collection: bodies the budget held and released stay resident beside
// the next ones, and 64 parallel 32 MiB bodies under a 512 MiB budget
// grew the process by 767 MB (scripts/soak.sh with GOMEMLIMIT=off). With
// a thirty-second of the budget more it grew by 528-571 MB, past the
// soak's bound of the budget and a tenth (563 MB) once in four runs on a
// busy machine; with this limit, 510-513 MB.
// The limit is soft: past it the collector runs more often, and never
// takes more than about half the CPU.
func setMemoryLimit(budget int64) int64 {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return debug.SetMemoryLimit(-1)
	}
	limit := budget + 32<<20
	debug.SetMemoryLimit(limit)
	return limit
}
