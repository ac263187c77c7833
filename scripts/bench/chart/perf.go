package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Where a request's time goes over HTTP (bench.sh's perf_profiles): perf
// sampled the server core while onnxserve, and then floor-ort (the
// measured limit), served one more wrk run of a workload. A part's µs per
// request is its share of the core's samples (idle included) times the
// core's time per request, 1 / req/s of the same run: the parts add up to
// the request's whole cost on the core, which the in-process profiles
// (the handler alone) cannot show.

// perfServers are the servers profiled, in the table's column order.
var perfServers = []string{"onnxserve", "floor-ort"}

// perfRun is one server's profile on one workload: µs per request by part.
type perfRun struct {
	rps   float64
	parts map[string]float64
}

func (r perfRun) total() float64 { return 1e6 / r.rps }

// perfLine is a line of `perf report -n --sort dso,sym --stdio`:
// "     8.99%          1797  [kernel.kallsyms]     [k] _raw_spin_unlock_irqrestore".
// Shares are taken from the samples, not the percentages, which perf
// rounds to 0.01%: a run's hundreds of one-sample symbols (ORT's, without
// names) would add up to several percent too much.
var perfLine = regexp.MustCompile(`^\s*[\d.]+%\s+(\d+)\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$`)

// readPerf reads a server's profile of a workload from dir (SERVER-WORKLOAD.txt
// and .result); false when either is missing or holds nothing.
func readPerf(dir, server, workload string) (perfRun, bool) {
	base := filepath.Join(dir, server+"-"+workload)
	raw, err := os.ReadFile(base + ".result")
	if err != nil {
		return perfRun{}, false
	}
	var res struct {
		RPS float64 `json:"rps"`
	}
	if json.Unmarshal(raw, &res) != nil || res.RPS <= 0 {
		return perfRun{}, false
	}
	samples := map[string]float64{}
	all := 0.0
	if eachLine(base+".txt", func(line string) error {
		if m := perfLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseFloat(m[1], 64)
			samples[partOf(m[2], m[3] == "k", m[4])] += n
			all += n
		}
		return nil
	}) != nil || all == 0 {
		return perfRun{}, false
	}
	run := perfRun{rps: res.RPS, parts: map[string]float64{}}
	for p, n := range samples {
		run.parts[p] = n / all * run.total()
	}
	return run, true
}

// The parts, in the words of the report.
const (
	partORT      = "ONNX Runtime (libonnxruntime)"
	partCLib     = "C libraries (libc, libstdc++: ORT's allocations, cgo)"
	partKernel   = "kernel (TCP on loopback, syscalls, waking the load generator)"
	partIdle     = "idle (the core waiting)"
	partVDSO     = "clock reads (vDSO)"
	partJSON     = "JSON numbers (handlers/jsontensor)"
	partMetrics  = "metrics (handlers/metrics, client_golang)"
	partLog      = "access log (handlers/accesslog, slog, the log writer)"
	partRun      = "run path (runtime, onnxruntime_go, cgo)"
	partGin      = "gin"
	partHandlers = "handlers (routing, /v1 and /v2 decoding and answers)"
	partGC       = "garbage collection"
	partAlloc    = "allocation"
	partHTTP     = "net/http and its syscalls (Go side)"
	partStrconv  = "number formatting (strconv, jsontensor's float32)"
	partSched    = "Go scheduler and runtime"
	partOtherGo  = "other Go (maps, hashing, sync, context, time)"
)

var (
	idleSym  = regexp.MustCompile(`^(pv_native_safe_halt|native_safe_halt|default_idle|default_idle_call|do_idle|cpuidle_\w+|acpi_idle_\w+|intel_idle\w*|poll_idle|mwait_idle\w*)$`)
	gcSym    = regexp.MustCompile(`^runtime\.(gc\w*|scan\w*|mark\w*|tryDefer\w*|findObject|greyobject|wbBuf\w*|bulkBarrier\w*|sweep\w*|bgsweep|bgscavenge|\(\*mspan\)|\(\*gcWork\)|\(\*gcBits\)|\(\*spanSet\)|\(\*sweepLocked\)|\(\*mheap\)|\(\*mcentral\)|typePointers|heapBits\w*|spanOf\w*)|^internal/runtime/gc/`)
	allocSym = regexp.MustCompile(`^runtime\.(malloc\w*|newobject|newarray|makeslice\w*|makemap\w*|growslice|nextFreeFast|memclr\w*|\(\*mcache\)|\(\*mspan\)\.(writeHeapBits\w*|nextFreeIndex))`)
	// jsontensor's float32 formatter, which takes strconv's place.
	float32Sym = regexp.MustCompile(`onnxserve/handlers/jsontensor\.(appendFloat32|appendDecimal|scaleBound)$`)
	httpSym    = regexp.MustCompile(`^(net/http|net/textproto|net/url|net\.|bufio\.|internal/poll|syscall\.|internal/runtime/syscall)`)
)

// partOf is the part a sample of sym in dso (kernel: a [k] symbol) counts
// for. The Go binary's symbols are told apart by package; floor-ort's own
// (package main) are handlers.
func partOf(dso string, kernel bool, sym string) string {
	switch {
	case kernel && idleSym.MatchString(sym):
		return partIdle
	case kernel || dso == "[kernel.kallsyms]":
		return partKernel
	case strings.HasPrefix(dso, "libonnxruntime"):
		return partORT
	case strings.HasPrefix(dso, "lib") || strings.HasPrefix(dso, "ld-linux"):
		return partCLib
	case dso == "[vdso]":
		return partVDSO
	}
	switch {
	case float32Sym.MatchString(sym) || strings.HasPrefix(sym, "strconv.") || strings.HasPrefix(sym, "internal/strconv."):
		return partStrconv
	case strings.Contains(sym, "onnxserve/handlers/jsontensor"):
		return partJSON
	case strings.Contains(sym, "onnxserve/handlers/metrics") || strings.Contains(sym, "prometheus/client_golang"):
		return partMetrics
	case strings.Contains(sym, "onnxserve/handlers/accesslog") || strings.HasPrefix(sym, "log/slog") || strings.HasPrefix(sym, "main.(*logWriter)"):
		return partLog
	case strings.Contains(sym, "onnxserve/runtime") || strings.Contains(sym, "yalue/onnxruntime_go") ||
		strings.HasPrefix(sym, "runtime.cgocall") || strings.HasPrefix(sym, "runtime.asmcgocall") || strings.HasPrefix(sym, "_cgo_"):
		return partRun
	case strings.Contains(sym, "gin-gonic/gin"):
		return partGin
	case strings.Contains(sym, "github.com/onnxserve/") || strings.HasPrefix(sym, "main."):
		return partHandlers
	case allocSym.MatchString(sym): // before GC: a span's heap bits are written as it allocates
		return partAlloc
	case gcSym.MatchString(sym):
		return partGC
	case httpSym.MatchString(sym):
		return partHTTP
	case strings.HasPrefix(sym, "runtime.") || strings.HasPrefix(sym, "internal/runtime/"):
		return partSched
	}
	return partOtherGo
}

// loadPerf reads every profile of perf_profiles, whose workloads are the
// limit targets', into workload → server → run.
func loadPerf(work string) map[string]map[string]perfRun {
	dir := filepath.Join(work, "perf")
	out := map[string]map[string]perfRun{}
	for _, lt := range limitTargets {
		for _, s := range perfServers {
			if run, ok := readPerf(dir, s, lt.workload); ok {
				if out[lt.workload] == nil {
					out[lt.workload] = map[string]perfRun{}
				}
				out[lt.workload][s] = run
			}
		}
	}
	return out
}

// perfTable is a workload's parts over HTTP for onnxserve against the
// measured limit, the largest difference first; "" without both profiles.
func perfTable(b *bench, workload string) string {
	o, ok1 := b.perf[workload]["onnxserve"]
	f, ok2 := b.perf[workload]["floor-ort"]
	if !ok1 || !ok2 {
		return ""
	}
	names := map[string]bool{}
	for p := range o.parts {
		names[p] = true
	}
	for p := range f.parts {
		names[p] = true
	}
	var parts []string
	for p := range names {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool {
		di, dj := o.parts[parts[i]]-f.parts[parts[i]], o.parts[parts[j]]-f.parts[parts[j]]
		if di != dj {
			return di > dj
		}
		return parts[i] < parts[j]
	})
	var s strings.Builder
	fmt.Fprintf(&s, "Over HTTP, µs per request on the server core by where it went (`perf record -C` while one more wrk run loaded each server: onnxserve at %s req/s, floor-ort at %s; each part is its share of the core's samples times 1 / req/s, so the parts add up to the whole request):\n\n",
		num(o.rps), num(f.rps))
	s.WriteString("| part | onnxserve | measured limit (floor-ort) | difference |\n|---|---:|---:|---:|\n")
	for _, p := range parts {
		fmt.Fprintf(&s, "| %s | %.1f | %.1f | %+.1f |\n", p, o.parts[p], f.parts[p], o.parts[p]-f.parts[p])
	}
	fmt.Fprintf(&s, "| **all** | **%.1f** | **%.1f** | **%+.1f** |\n", o.total(), f.total(), o.total()-f.total())
	return s.String()
}
