package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a small run of bench.sh, in the files it leaves: round
// numbers, so that every expected value below is worked out by hand.
var fixture = struct{ results, ort string }{
	results: strings.Join([]string{
		// Two rounds: the faster is kept, with the higher peak RSS of both.
		`{"server":"onnxserve","workload":"iris-named-1","rss_kb":76800,"anon_kb":24576,"result":{"rps":30000,"p50_us":900,"p99_us":2000}}`,
		`{"server":"onnxserve","workload":"iris-named-1","rss_kb":71680,"anon_kb":23552,"result":{"rps":32000,"p50_us":800,"p99_us":1600}}`,
		`{"server":"floor","workload":"iris-named-1","rss_kb":10240,"result":{"rps":50000}}`,
		`{"server":"floor-ort","workload":"iris-named-1","rss_kb":20480,"result":{"rps":36000}}`,
		`{"server":"onnxserve","workload":"iris-named-1-no-metrics","rss_kb":71680,"result":{"rps":36000}}`,
		`{"server":"onnxserve","workload":"iris-named-1-no-metrics-no-access-log","skipped":"no --access-log in this build"}`,
		// No floor run of this body: no limit.
		`{"server":"onnxserve","workload":"iris-rows-64","rss_kb":71680,"result":{"rps":9000}}`,
		`{"server":"onnxserve","workload":"mlp-rows-1","rss_kb":81920,"result":{"rps":4000}}`,
		`{"server":"onnxserve","workload":"mlp-rows-1-batched","rss_kb":81920,"result":{"rps":20000}}`,
		`{"server":"floor","workload":"mlp-rows-1","rss_kb":10240,"result":{"rps":40000}}`,
		`{"server":"floor-ort","workload":"mlp-rows-1","rss_kb":20480,"result":{"rps":5000}}`,
		`{"server":"onnxserve","workload":"mlp-rows-32","rss_kb":92160,"result":{"rps":1500}}`,
		`{"server":"floor","workload":"mlp-rows-32","rss_kb":10240,"result":{"rps":10000}}`,
		`{"server":"onnxserve","workload":"mlp-rows-32-v2","rss_kb":102400,"result":{"rps":2400}}`,
		`{"server":"floor","workload":"mlp-rows-32-v2","rss_kb":10240,"result":{"rps":20000}}`,
		`{"server":"onnxserve","workload":"grpc-iris-1-raw","rss_kb":71680,"result":{"rps":30000}}`,
	}, "\n") + "\n",
	// As go test -bench prints them; one with a GOMAXPROCS suffix, as a
	// run without taskset would have.
	ort: "goos: linux\n" +
		"BenchmarkORT/iris-b1         \t     200\t      5000 ns/op\t    200000 rows/s\n" +
		"BenchmarkORT/iris-b64        \t     200\t      8000 ns/op\t   8000000 rows/s\n" +
		"BenchmarkORT/mlp-b1          \t     200\t    100000 ns/op\t     10000 rows/s\n" +
		"BenchmarkORT/mlp-b32-2       \t     200\t    320000 ns/op\t    100000 rows/s\n" +
		"BenchmarkBatcher/mlp-b1-unbatched \t 200\t 250000 ns/op\t 4000 rows/s\t 14636 B/op\t 22 allocs/op\n" +
		"PASS\n",
}

func loadFixture(t *testing.T) *bench {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"results.jsonl": fixture.results, "ort.txt": fixture.ort, "meta.env": "commit=abc1234\n",
		"profiles/mlp-rows-1.txt": "Showing nodes accounting for 2s, 100% of 2s total\n      flat  flat%   sum%        cum   cum%\n     1.50s 75.00% 75.00%      1.50s 75.00%  runtime.cgocall\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestLimit(t *testing.T) {
	b := loadFixture(t)
	if b.ortRows != 100000 || b.ort["mlp-b32"] != 320000 || b.batcher["Batcher/mlp-b1-unbatched"] != 4000 {
		t.Fatalf("ort.txt read as ortRows %v, ort %v, batcher %v", b.ortRows, b.ort, b.batcher)
	}
	for _, c := range []struct {
		workload                 string
		floorUS, ortUS, limitRPS float64 // 0s: no limit
		ofLimit                  float64 // 0: none
	}{
		// floor 1e6/50,000 = 20 µs, ORT 5,000 ns = 5 µs: 25 µs, 40,000 req/s;
		// onnxserve 32,000 (the better round) / 40,000 = 0.8.
		{"iris-named-1", 20, 5, 40000, 0.8},
		// W1's body, so W1's floor: 36,000 / 40,000 = 0.9.
		{"iris-named-1-no-metrics", 20, 5, 40000, 0.9},
		// Skipped: the limit is there, onnxserve's share is not.
		{"iris-named-1-no-metrics-no-access-log", 20, 5, 40000, 0},
		// No floor run of its body.
		{"iris-rows-64", 0, 0, 0, 0},
		// 1e6/40,000 = 25 µs + 100 µs = 125 µs: 8,000 req/s; 4,000 / 8,000 = 0.5.
		{"mlp-rows-1", 25, 100, 8000, 0.5},
		// The same floor, ORT's batch-32 run over 32 rows: 320/32 = 10 µs;
		// 35 µs: 1e6/35 = 28,571.43 req/s; 20,000 × 35 µs = 0.7.
		{"mlp-rows-1-batched", 25, 10, 1e6 / 35, 0.7},
		// 1e6/10,000 = 100 µs + 320 µs = 420 µs: 2,380.95 req/s; 1,500 × 420 µs = 0.63.
		{"mlp-rows-32", 100, 320, 1e6 / 420, 0.63},
		// 1e6/20,000 = 50 µs + 320 µs = 370 µs: 2,702.70 req/s; 2,400 × 370 µs = 0.888.
		{"mlp-rows-32-v2", 50, 320, 1e6 / 370, 0.888},
		// gRPC has no HTTP/1 floor.
		{"grpc-iris-1-raw", 0, 0, 0, 0},
	} {
		t.Run(c.workload, func(t *testing.T) {
			l, ok := b.limitOf(c.workload)
			if ok != (c.limitRPS > 0) {
				t.Fatalf("limitOf ok = %v, want %v", ok, c.limitRPS > 0)
			}
			if ok && (!near(l.floorUS, c.floorUS) || !near(l.ortUS, c.ortUS) || !near(l.rps(), c.limitRPS)) {
				t.Errorf("limit %.3f µs + %.3f µs = %.3f req/s, want %.3f + %.3f = %.3f", l.floorUS, l.ortUS, l.rps(), c.floorUS, c.ortUS, c.limitRPS)
			}
			share, ok := b.ofLimit(c.workload)
			if ok != (c.ofLimit > 0) || !near(share, c.ofLimit) {
				t.Errorf("ofLimit = %v, %v, want %v", share, ok, c.ofLimit)
			}
		})
	}
}

func TestLimitTargets(t *testing.T) {
	b := loadFixture(t)
	got := map[string]target{}
	for _, tg := range targets(b) {
		got[tg.what] = tg
	}
	for _, c := range []struct {
		what     string
		met      bool
		measured string
	}{
		// 0.8 is exactly the threshold: met.
		{"iris, 1 named-feature row (JSON): ≥ 80% of the limit", true,
			"80% (32,000 vs 40,000 req/s; limit 20.0 µs floor + 5.0 µs ORT = 25.0 µs, onnxserve 31.2 µs); 89% of the measured limit (36,000 req/s)"},
		{"MLP, 1 row (JSON, no dynamic batching): ≥ 80% of the limit", false,
			"50% (4,000 vs 8,000 req/s; limit 25.0 µs floor + 100.0 µs ORT = 125.0 µs, onnxserve 250.0 µs); 80% of the measured limit (5,000 req/s)"},
		// 0.63 ≥ 0.6; 1e6/1,500 = 666.7 µs. No floor-ort run: no measured part.
		{"MLP, 32 rows (JSON): ≥ 60% of the limit", true,
			"63% (1,500 vs 2,381 req/s; limit 100.0 µs floor + 320.0 µs ORT = 420.0 µs, onnxserve 666.7 µs)"},
		// 0.888 < 0.9; 1e6/2,400 = 416.7 µs.
		{"MLP, 32 rows, v2 binary: ≥ 90% of the limit", false,
			"89% (2,400 vs 2,703 req/s; limit 50.0 µs floor + 320.0 µs ORT = 370.0 µs, onnxserve 416.7 µs)"},
	} {
		tg, ok := got[c.what]
		switch {
		case !ok:
			t.Errorf("no target %q", c.what)
		case tg.met != c.met || tg.info || tg.measured != c.measured:
			t.Errorf("%s: met %v info %v %q, want met %v %q", c.what, tg.met, tg.info, tg.measured, c.met, c.measured)
		}
	}
	// The v2 miss: 416.7 − 370 = 46.7 µs of its own; 90% allows 370/0.9 − 370 = 41.1 µs.
	if why := got["MLP, 32 rows, v2 binary: ≥ 90% of the limit"].why; !strings.Contains(why, "46.7 µs more") || !strings.Contains(why, "allows 41.1 µs") {
		t.Errorf("v2 miss explained as %q", why)
	}
	// Without -baseline "before" is not judged here.
	for _, what := range []string{"no workload slower than before, peak RSS not higher", "no validation loosened"} {
		if tg := got[what]; !tg.info {
			t.Errorf("%q: %+v, want an info line", what, tg)
		}
	}
}

func TestBaseline(t *testing.T) {
	for _, c := range []struct {
		name               string
		baseline           string
		speedMet, memMet   bool
		speedHas, memHas   string
		speedWant, memWant string
	}{
		{
			name: "slower and bigger",
			// iris 32,000 now against 40,000 = 80%; mlp-rows-32 1,500 against 1,000 = 150%.
			// iris peak 75 MB now (76,800 KB, the higher round) against 70 MB.
			baseline: `{"server":"onnxserve","workload":"iris-named-1","rss_kb":71680,"result":{"rps":40000}}` + "\n" +
				`{"server":"onnxserve","workload":"mlp-rows-32","rss_kb":102400,"result":{"rps":1000}}` + "\n",
			speedWant: "worst 80% of before (iris, 1 named-feature row: 32,000 vs 40,000 req/s); slower: iris, 1 named-feature row 80%",
			memWant:   "worst iris, 1 named-feature row: 75 MB vs 70 MB; higher: iris, 1 named-feature row 75 MB vs 70 MB",
		},
		{
			name: "as fast, as small",
			// 32,000 against 32,000 = 100% is not slower; 90 MB now against 100 MB = 0.9.
			baseline: `{"server":"onnxserve","workload":"iris-named-1","rss_kb":76800,"result":{"rps":32000}}` + "\n" +
				`{"server":"onnxserve","workload":"mlp-rows-32","rss_kb":102400,"result":{"rps":1000}}` + "\n" +
				// A workload only the earlier run has is left out.
				`{"server":"onnxserve","workload":"gone","rss_kb":1,"result":{"rps":1e9}}` + "\n",
			speedMet: true, memMet: true,
			speedWant: "worst 100% of before (iris, 1 named-feature row: 32,000 vs 32,000 req/s)",
			// iris 75 vs 75 MB = 1.0 is the worst.
			memWant: "worst iris, 1 named-feature row: 75 MB vs 75 MB",
		},
		{
			name: "more file pages, no more memory",
			// iris's VmHWM is 75 MB now against 70 MB, but both runs
			// sampled RssAnon: 24 MB now (24,576 KB, the higher round)
			// against 24 MB, which is what is compared. mlp-rows-32 has
			// no RssAnon now, so its VmHWM is: 90 against 100 MB.
			baseline: `{"server":"onnxserve","workload":"iris-named-1","rss_kb":71680,"anon_kb":24576,"result":{"rps":32000}}` + "\n" +
				`{"server":"onnxserve","workload":"mlp-rows-32","rss_kb":102400,"anon_kb":40960,"result":{"rps":1000}}` + "\n",
			speedMet: true, memMet: true,
			speedWant: "worst 100% of before (iris, 1 named-feature row: 32,000 vs 32,000 req/s)",
			memWant:   "worst iris, 1 named-feature row: 24 MB vs 24 MB anonymous",
		},
		{
			name:      "more memory",
			baseline:  `{"server":"onnxserve","workload":"iris-named-1","rss_kb":81920,"anon_kb":20480,"result":{"rps":32000}}` + "\n",
			speedMet:  true,
			speedWant: "worst 100% of before (iris, 1 named-feature row: 32,000 vs 32,000 req/s)",
			memWant:   "worst iris, 1 named-feature row: 24 MB vs 20 MB anonymous; higher: iris, 1 named-feature row 24 MB vs 20 MB anonymous",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := loadFixture(t)
			path := filepath.Join(t.TempDir(), "old.jsonl")
			if err := os.WriteFile(path, []byte(c.baseline), 0o644); err != nil {
				t.Fatal(err)
			}
			var err error
			if b.baseline, _, err = readResults(path); err != nil {
				t.Fatal(err)
			}
			ts := beforeTargets(b)
			if len(ts) != 3 || !ts[2].info {
				t.Fatalf("beforeTargets = %+v, want speed, memory and the review line", ts)
			}
			speed, mem := ts[0], ts[1]
			if speed.met != c.speedMet || speed.info || speed.measured != c.speedWant {
				t.Errorf("speed: met %v %q, want %v %q", speed.met, speed.measured, c.speedMet, c.speedWant)
			}
			if mem.met != c.memMet || mem.info || mem.measured != c.memWant {
				t.Errorf("memory: met %v %q, want %v %q", mem.met, mem.measured, c.memMet, c.memWant)
			}
			// The target says what the baseline is: an earlier run's
			// unless -baseline-is (bench.sh's BEFORE) names another.
			if want := "req/s ≥ the earlier run's"; !strings.HasSuffix(speed.what, want) {
				t.Errorf("speed target %q, want it to end %q", speed.what, want)
			}
			b.baselineIs = "the older build's in the same rounds (onnxserve-before)"
			if got := beforeTargets(b)[0].what; !strings.HasSuffix(got, "req/s ≥ "+b.baselineIs) {
				t.Errorf("with -baseline-is: speed target %q", got)
			}
		})
	}
}

// TestReportLimitColumns: the results table's last two cells, and the µs
// table of the limit note, for rows worked out in TestLimit.
func TestReportLimitColumns(t *testing.T) {
	md := report(loadFixture(t), "img/bench.png")
	for _, want := range []string{
		"| floor req/s | × FastAPI | × FastAPI async | of floor | limit req/s | of limit | measured limit req/s | of measured |\n",
		// W1: floor 50,000 (64%), limit 40,000, 80%; measured 36,000:
		// 32,000 / 36,000 = 89%.
		"| 50,000 | **–** | – | 64% | 40,000 | 80% | 36,000 | 89% |\n",
		// The batched row: 28,571 req/s, 70%, and no measured limit (the
		// floor's route runs one request's batch).
		"| 28,571 | 70% | – | – |\n",
		// MLP 1 row: measured 5,000, 4,000 / 5,000 = 80%.
		"| 5,000 | 80% |\n",
		// gRPC: no limit.
		"| iris, 1 row, gRPC raw | **30,000** |",
		"| iris, 1 named-feature row | 20.0 µs | 5.0 µs | 25.0 µs (40,000 req/s) | 31.2 µs | 80% | 27.8 µs (36,000 req/s) | 89% |\n",
		"| same, dynamic batching | 25.0 µs | 10.0 µs | 35.0 µs (28,571 req/s) | 50.0 µs | 70% | – | – |\n",
		// Skipped: its limits, nothing of onnxserve's.
		"| same, --metrics=false --access-log=false | 20.0 µs | 5.0 µs | 25.0 µs (40,000 req/s) | – | – | 27.8 µs (36,000 req/s) | – |\n",
		"one run takes 5.0 µs for iris at batch 1, 8.0 µs at batch 64, 100.0 µs for the MLP at batch 1 and 320.0 µs at batch 32 (100,000 rows/s)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| iris, 1 row, gRPC raw |") && !strings.HasSuffix(line, "| – | – | – | – |") {
			t.Errorf("gRPC row %q: want no limit", line)
		}
		if strings.HasPrefix(line, "| iris, 64 rows |") && strings.Contains(line, " µs") {
			t.Errorf("iris 64 rows in the limit note without a floor: %q", line)
		}
	}
	// mlp-rows-1 misses two targets (no FastAPI run: not measured, but it
	// has a profile; 50% of the limit): its profile is shown under the
	// first, the second points at it.
	if n := strings.Count(md, "runtime.cgocall"); n != 1 {
		t.Errorf("mlp-rows-1's profile shown %d times, want 1", n)
	}
	if want := fmt.Sprintf("Its profile is under %q above.", "MLP 784-512-512-10, 1 row (15 KB JSON): ≥ 10× FastAPI req/s"); !strings.Contains(md, want) {
		t.Errorf("report lacks %q", want)
	}
}

func TestLimitLines(t *testing.T) {
	b := loadFixture(t)
	for _, c := range []struct {
		workload string
		y        float64 // share × limit req/s
	}{
		{"iris-named-1", 0.8 * 40000},       // 32,000
		{"mlp-rows-1", 0.8 * 8000},          // 6,400
		{"mlp-rows-32", 0.6 * 1e6 / 420},    // 1,428.57
		{"mlp-rows-32-v2", 0.9 * 1e6 / 370}, // 2,432.43
		{"mlp-rows-1-batched", 0},           // no limit target
		{"grpc-mlp-rows-32-raw", 0},         // no limit
	} {
		var w workload
		for _, x := range workloads {
			if x.name == c.workload {
				w = x
			}
		}
		if w.name == "" {
			t.Fatalf("no workload %q", c.workload)
		}
		found := 0.0
		for _, l := range targetLines(b, w) {
			if strings.HasSuffix(l.label, "of limit") {
				found = l.y
			}
		}
		if !near(found, c.y) {
			t.Errorf("%s: limit target line at %v, want %v", c.workload, found, c.y)
		}
	}
}
