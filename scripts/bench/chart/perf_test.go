package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPartOf pins which part a sampled symbol counts for, on symbols as
// perf reports them for onnxserve, floor-ort and the kernel.
func TestPartOf(t *testing.T) {
	for _, c := range []struct {
		dso    string
		kernel bool
		sym    string
		want   string
	}{
		{"[kernel.kallsyms]", true, "_raw_spin_unlock_irqrestore", partKernel},
		{"[kernel.kallsyms]", true, "pv_native_safe_halt", partIdle},
		{"[kernel.kallsyms]", true, "default_idle_call", partIdle},
		{"libonnxruntime.so", false, "0x00000000013f7a3e", partORT},
		{"libc.so.6", false, "malloc", partCLib},
		{"libstdc++.so.6.0.30", false, "operator new", partCLib},
		{"[vdso]", false, "__vdso_clock_gettime", partVDSO},
		{"onnxserve", false, "github.com/onnxserve/onnxserve/handlers/jsontensor.vector32sAVX2.abi0", partJSON},
		{"onnxserve", false, "github.com/prometheus/client_golang/prometheus.(*histogramCounts).observe", partMetrics},
		{"onnxserve", false, "github.com/onnxserve/onnxserve/handlers/metrics.(*Metrics).Served", partMetrics},
		{"onnxserve", false, "github.com/onnxserve/onnxserve/handlers/accesslog.appendLine", partLog},
		{"onnxserve", false, "main.(*logWriter).Write.deferwrap1", partLog},
		{"onnxserve", false, "log/slog.(*Logger).Enabled", partLog},
		{"onnxserve", false, "github.com/onnxserve/onnxserve/runtime.(*Model).run", partRun},
		{"onnxserve", false, "github.com/yalue/onnxruntime_go._Cfunc_RunSessionWithBinding", partRun},
		{"onnxserve", false, "runtime.cgocall", partRun},
		{"onnxserve", false, "github.com/gin-gonic/gin.(*Context).Next", partGin},
		{"onnxserve", false, "github.com/onnxserve/onnxserve/handlers/v1.(*API).Predict", partHandlers},
		{"floor", false, "main.main.func4", partHandlers},
		{"onnxserve", false, "runtime.tryDeferToSpanScan", partGC},
		{"onnxserve", false, "runtime.scanObject", partGC},
		{"onnxserve", false, "runtime.(*mspan).writeHeapBitsSmall", partAlloc},
		{"onnxserve", false, "runtime.(*mspan).typePointersOfUnchecked", partGC},
		{"onnxserve", false, "internal/runtime/gc/scan.scanSpanPackedAVX512.abi0", partGC},
		{"onnxserve", false, "runtime.mallocgcSmallScanNoHeader", partAlloc},
		{"onnxserve", false, "runtime.memclrNoHeapPointers", partAlloc},
		{"onnxserve", false, "net/http.(*conn).readRequest", partHTTP},
		{"onnxserve", false, "net/textproto.canonicalMIMEHeaderKey", partHTTP},
		{"onnxserve", false, "internal/runtime/syscall/linux.Syscall6", partHTTP},
		{"onnxserve", false, "bufio.(*Writer).Flush", partHTTP},
		{"onnxserve", false, "internal/strconv.fmtF", partStrconv},
		{"onnxserve", false, "github.com/onnxserve/onnxserve/handlers/jsontensor.appendFloat32", partStrconv},
		{"onnxserve", false, "github.com/onnxserve/onnxserve/handlers/jsontensor.appendDecimal", partStrconv},
		{"onnxserve", false, "github.com/onnxserve/onnxserve/handlers/jsontensor.appendNested[go.shape.float32]", partJSON},
		{"onnxserve", false, "runtime.findRunnable", partSched},
		{"onnxserve", false, "internal/runtime/maps.(*Map).putSlotSmallFastStr", partSched},
		{"onnxserve", false, "aeshashbody", partOtherGo},
		{"onnxserve", false, "sync/atomic.CompareAndSwapUintptr", partOtherGo},
	} {
		if got := partOf(c.dso, c.kernel, c.sym); got != c.want {
			t.Errorf("partOf(%s, %s) = %q, want %q", c.dso, c.sym, got, c.want)
		}
	}
}

// perfFixture is a profile of 200 samples as `perf report -n --sort
// dso,sym --stdio` prints it, header included; the percentages are perf's
// rounding, which readPerf must not add up (1 sample prints as 0.01%).
const perfFixture = `# Samples: 200  of event 'cpu-clock:ppp'
# Event count (approx.): 50000000
#
# Overhead       Samples  Shared Object         Symbol
# ........  ............  ....................  ......
#
    50.00%           100  libonnxruntime.so     [.] 0x00000000013f7a3e
    30.00%            60  [kernel.kallsyms]     [k] tcp_sendmsg_locked
    10.00%            20  onnxserve             [.] runtime.scanObject
     9.50%            19  onnxserve             [.] github.com/onnxserve/onnxserve/handlers/jsontensor.vector32sAVX2.abi0
     0.01%             1  [kernel.kallsyms]     [k] pv_native_safe_halt
`

// TestReadPerf pins the µs per request of each part: its samples' share
// times 1 / req/s, worked out by hand for 10,000 req/s (100 µs a request).
func TestReadPerf(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"onnxserve-mlp-rows-1.txt": perfFixture, "onnxserve-mlp-rows-1.result": `{"requests":50000,"rps":10000.0}`,
		"floor-ort-mlp-rows-1.txt": "    100.00%           10  libonnxruntime.so     [.] 0x1\n", "floor-ort-mlp-rows-1.result": `{"rps":20000}`,
		// No result beside it: no profile.
		"onnxserve-mlp-rows-32.txt": perfFixture,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run, ok := readPerf(dir, "onnxserve", "mlp-rows-1")
	if !ok {
		t.Fatal("no profile read")
	}
	for part, want := range map[string]float64{partORT: 50, partKernel: 30, partGC: 10, partJSON: 9.5, partIdle: 0.5} {
		if !near(run.parts[part], want) {
			t.Errorf("%s: %v µs, want %v", part, run.parts[part], want)
		}
	}
	if len(run.parts) != 5 || !near(run.total(), 100) {
		t.Errorf("parts %v, total %v µs, want 5 parts and 100 µs", run.parts, run.total())
	}
	if _, ok := readPerf(dir, "onnxserve", "mlp-rows-32"); ok {
		t.Error("a profile without its wrk result was read")
	}

	// The table: onnxserve's parts against floor-ort's (50 µs, all ORT),
	// the largest difference first, and the totals.
	b := &bench{perf: map[string]map[string]perfRun{"mlp-rows-1": {}}}
	b.perf["mlp-rows-1"]["onnxserve"] = run
	b.perf["mlp-rows-1"]["floor-ort"], _ = readPerf(dir, "floor-ort", "mlp-rows-1")
	table := perfTable(b, "mlp-rows-1")
	var rows []string
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| part ") {
			rows = append(rows, line)
		}
	}
	want := []string{
		"| " + partKernel + " | 30.0 | 0.0 | +30.0 |",
		"| " + partGC + " | 10.0 | 0.0 | +10.0 |",
		"| " + partJSON + " | 9.5 | 0.0 | +9.5 |",
		"| " + partIdle + " | 0.5 | 0.0 | +0.5 |",
		"| " + partORT + " | 50.0 | 50.0 | +0.0 |",
		"| **all** | **100.0** | **50.0** | **+50.0** |",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("table rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if perfTable(b, "mlp-rows-32") != "" {
		t.Error("a table for a workload without profiles")
	}
}

// TestLimitTargetPerf pins that a missed limit target carries its
// workload's table over HTTP when both servers were profiled.
func TestLimitTargetPerf(t *testing.T) {
	b := loadFixture(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "perf"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"onnxserve-iris-named-1.txt": perfFixture, "onnxserve-iris-named-1.result": `{"rps":10000}`,
		"floor-ort-iris-named-1.txt": perfFixture, "floor-ort-iris-named-1.result": `{"rps":20000}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, "perf", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.perf = loadPerf(dir)
	for _, tg := range targets(b) {
		hasTable := strings.Contains(tg.why, "| **all** | **100.0** | **50.0** | **+50.0** |")
		if want := tg.what == "iris, 1 named-feature row (JSON): ≥ 80% of the limit"; hasTable != want {
			t.Errorf("%s: table %v, want %v", tg.what, hasTable, want)
		}
	}
}
