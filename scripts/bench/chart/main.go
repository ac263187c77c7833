// Command chart turns the raw results of scripts/bench.sh into
// docs/benchmarks.md (tables, targets met or missed, the profiles that
// explain a miss) and the chart docs/img/bench.png. It is its own module
// so that the plotting library stays out of the server's dependencies.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// result is one line of results.jsonl: one wrk run against one server,
// or one grpcload run against onnxserve's gRPC port in the same form
// (its status counts are by gRPC code, and it adds client_cpu).
type result struct {
	Server   string `json:"server"`
	Workload string `json:"workload"`
	RSSKB    int    `json:"rss_kb"`
	// AnonKB is the highest RssAnon bench.sh saw during the run: the
	// memory the server allocated, without the pages of its binary and
	// libraries that VmHWM (RSSKB) counts, which depend on the page cache.
	AnonKB  int    `json:"anon_kb"`
	Load    string `json:"load"`
	Skipped string `json:"skipped"`
	Result  struct {
		Requests      int            `json:"requests"`
		RPS           float64        `json:"rps"`
		P50           float64        `json:"p50_us"`
		P99           float64        `json:"p99_us"`
		Max           float64        `json:"max_us"`
		Timeouts      int            `json:"errors_timeout"`
		ErrorsConnect int            `json:"errors_connect"`
		ErrorsRead    int            `json:"errors_read"`
		Non2xx        int            `json:"non2xx"`
		Status        map[string]int `json:"status"`
		ClientCPU     float64        `json:"client_cpu"` // grpcload's share of its core
	} `json:"result"`
}

// bench is everything one run of scripts/bench.sh left in its work dir.
type bench struct {
	results  map[string]map[string]*result   // workload → server → result
	rounds   map[string]map[string][]float64 // workload → server → each round's req/s, in order
	meta     map[string]string
	ortRows  float64            // ORT's own MLP batch-32 rate, rows/s
	ort      map[string]float64 // BenchmarkORT case ("iris-b1") → ns per run
	batcher  map[string]float64
	profiles map[string]string  // workload → pprof -top
	inproc   map[string]float64 // workload → in-process ns per request
	// perf are the profiles over HTTP (perf.go): workload → server → run.
	perf map[string]map[string]perfRun
	// baseline is an earlier run's results.jsonl (-baseline), best runs
	// by workload and server as in results; nil without one.
	baseline map[string]map[string]*result
	// baselineIs says what the baseline is, for the report (-baseline-is;
	// empty: an earlier run's, beforeTargets' words).
	baselineIs string
}

func main() {
	work := flag.String("work", ".cache/bench", "scripts/bench.sh's work directory")
	md := flag.String("md", "docs/benchmarks.md", "markdown report to write")
	png := flag.String("png", "docs/img/bench.png", "chart to write")
	baseline := flag.String("baseline", "", "an earlier run's results.jsonl, to judge \"no workload slower, peak RSS not higher\" against")
	baselineIs := flag.String("baseline-is", "", "what -baseline is, as the report says it (bench.sh's BEFORE: an older build's in the same rounds); empty: an earlier run's")
	flag.Parse()
	b, err := load(*work)
	if err != nil {
		log.Fatal(err)
	}
	if *baseline != "" {
		if b.baseline, _, err = readResults(*baseline); err != nil {
			log.Fatal(err)
		}
		b.baselineIs = *baselineIs
	}
	if err := os.MkdirAll(filepath.Dir(*png), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := drawChart(b, *png); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*md, []byte(report(b, relPath(*md, *png))), 0o644); err != nil {
		log.Fatal(err)
	}
}

func relPath(from, to string) string {
	r, err := filepath.Rel(filepath.Dir(from), to)
	if err != nil {
		return to
	}
	return filepath.ToSlash(r)
}

// readResults reads a results.jsonl: the best run of each workload on
// each server, and every round's req/s in order.
func readResults(path string) (map[string]map[string]*result, map[string]map[string][]float64, error) {
	results, rounds := map[string]map[string]*result{}, map[string]map[string][]float64{}
	err := eachLine(path, func(line string) error {
		r := &result{}
		if err := json.Unmarshal([]byte(line), r); err != nil {
			return fmt.Errorf("%s: %w: %s", filepath.Base(path), err, line)
		}
		if results[r.Workload] == nil {
			results[r.Workload] = map[string]*result{}
			rounds[r.Workload] = map[string][]float64{}
		}
		if r.Skipped == "" {
			rounds[r.Workload][r.Server] = append(rounds[r.Workload][r.Server], r.Result.RPS)
		}
		// Several rounds: keep the fastest run (interference only slows
		// a run down) and the highest peak RSS of any.
		if old := results[r.Workload][r.Server]; old != nil {
			r.RSSKB, r.AnonKB = max(r.RSSKB, old.RSSKB), max(r.AnonKB, old.AnonKB)
			if old.Result.RPS > r.Result.RPS {
				old.RSSKB, old.AnonKB = r.RSSKB, r.AnonKB
				return nil
			}
		}
		results[r.Workload][r.Server] = r
		return nil
	})
	return results, rounds, err
}

func load(work string) (*bench, error) {
	b := &bench{meta: map[string]string{}, ort: map[string]float64{},
		batcher: map[string]float64{}, profiles: map[string]string{}, inproc: map[string]float64{}}
	var err error
	if b.results, b.rounds, err = readResults(filepath.Join(work, "results.jsonl")); err != nil {
		return nil, err
	}
	if err := eachLine(filepath.Join(work, "meta.env"), func(line string) error {
		if k, v, ok := strings.Cut(line, "="); ok {
			b.meta[k] = v
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// go test -bench lines: "BenchmarkORT/mlp-b32  6246  187878 ns/op  170324 rows/s".
	rows := regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op.*?([\d.]+) rows/s`)
	if err := eachLine(filepath.Join(work, "ort.txt"), func(line string) error {
		if m := rows.FindStringSubmatch(line); m != nil {
			v, _ := strconv.ParseFloat(m[4], 64)
			if c, ok := strings.CutPrefix(m[1], "ORT/"); ok {
				b.ort[c], _ = strconv.ParseFloat(m[3], 64)
				if c == "mlp-b32" {
					b.ortRows = v
				}
			} else {
				b.batcher[m[1]] = v
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	perOp := regexp.MustCompile(`^BenchmarkPredict/(\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op`)
	for _, w := range []string{"iris-named-1", "iris-rows-64", "mlp-rows-1", "mlp-rows-32"} {
		if top, err := os.ReadFile(filepath.Join(work, "profiles", w+".txt")); err == nil {
			b.profiles[w] = string(top)
		}
		eachLine(filepath.Join(work, "profiles", w+".bench"), func(line string) error {
			if m := perOp.FindStringSubmatch(line); m != nil {
				b.inproc[w], _ = strconv.ParseFloat(m[3], 64)
			}
			return nil
		})
	}
	b.perf = loadPerf(work)
	return b, nil
}

func eachLine(path string, f func(string) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	s := bufio.NewScanner(file)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); line != "" {
			if err := f(line); err != nil {
				return err
			}
		}
	}
	return s.Err()
}

// get returns a measured result, nil when missing or skipped.
func (b *bench) get(workload, server string) *result {
	r := b.results[workload][server]
	if r == nil || r.Skipped != "" {
		return nil
	}
	return r
}

// skipped is why a workload's onnxserve run was skipped ("gRPC not
// available", "failed: …"), "" when it was measured or not recorded.
func (b *bench) skipped(workload string) string {
	if r := b.results[workload]["onnxserve"]; r != nil {
		return r.Skipped
	}
	return ""
}
