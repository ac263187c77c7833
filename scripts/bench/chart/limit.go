package main

import (
	"fmt"
	"strings"
)

// The limit of a REST workload (issue 15): a request cannot cost less than
// the HTTP floor on its body (the floor server reading the same body and
// writing a fixed answer) plus ONNX Runtime's own run on pre-made tensors
// for its model and batch. Both are taken from the same run on the same
// core, as µs per request: the floor's is 1 / its req/s under the same
// wrk load, ORT's is BenchmarkORT's ns per run in process.

// ortRun is the BenchmarkORT case with a workload's model and batch, and
// how many of the workload's requests share one run of it.
type ortRun struct {
	bench  string
	perRun int
}

// ortRuns has no gRPC row: the floor is HTTP/1.1, and nothing measures
// what a call's HTTP/2 and protobuf cost alone (limitNote).
var ortRuns = map[string]ortRun{
	w1: {"iris-b1", 1}, w1NoMetrics: {"iris-b1", 1}, w1Bare: {"iris-b1", 1},
	"iris-rows-64": {"iris-b64", 1},
	"mlp-rows-1":   {"mlp-b1", 1},
	// The most dynamic batching can save: every run a full batch of
	// mlp_batched's max_batch_size, 32, as the 32 connections allow.
	"mlp-rows-1-batched": {"mlp-b32", 32},
	"mlp-rows-32":        {"mlp-b32", 1},
	"mlp-rows-32-v2":     {"mlp-b32", 1},
}

// limit is a workload's least cost per request, in its two parts.
type limit struct{ floorUS, ortUS float64 }

func (l limit) us() float64  { return l.floorUS + l.ortUS }
func (l limit) rps() float64 { return 1e6 / l.us() }

// limitOf is a workload's limit in this run; false when it has none or a
// part of it was not measured.
func (b *bench) limitOf(workload string) (limit, bool) {
	run, ok := ortRuns[workload]
	fl := b.get(floorOf(workload), "floor")
	ns := b.ort[run.bench]
	if !ok || fl == nil || fl.Result.RPS <= 0 || ns <= 0 {
		return limit{}, false
	}
	return limit{floorUS: 1e6 / fl.Result.RPS, ortUS: ns / 1e3 / float64(run.perRun)}, true
}

// measuredLimit is a workload's limit measured whole: the floor server's
// /ort route (floor-ort), which reads the same body, runs ORT on pre-made
// tensors of the workload's model and batch, and writes a fixed answer,
// under the same wrk load. It pays what the sum leaves out: what a request
// costs the machine at the rate the model allows, rather than at the
// floor's (on this VM, chiefly the wake-up of the load generator for
// each answer, which at the floor's rate rarely sleeps). false when not
// measured.
func (b *bench) measuredLimit(workload string) (float64, bool) {
	fo := b.get(floorOf(workload), "floor-ort")
	if _, ok := ortRuns[workload]; !ok || fo == nil || fo.Result.RPS <= 0 || strings.HasSuffix(workload, "-batched") {
		return 0, false
	}
	return fo.Result.RPS, true
}

// ofMeasured is onnxserve's req/s on a workload as a share of its
// measured limit.
func (b *bench) ofMeasured(workload string) (float64, bool) {
	o := b.get(workload, "onnxserve")
	l, ok := b.measuredLimit(workload)
	if o == nil || o.Result.RPS <= 0 || !ok {
		return 0, false
	}
	return o.Result.RPS / l, true
}

// ofLimit is onnxserve's req/s on a workload as a share of its limit's.
func (b *bench) ofLimit(workload string) (float64, bool) {
	o := b.get(workload, "onnxserve")
	l, ok := b.limitOf(workload)
	if o == nil || o.Result.RPS <= 0 || !ok {
		return 0, false
	}
	return o.Result.RPS / l.rps(), true
}

// limitCells are the results table's "limit req/s" and "of limit", then
// "measured limit req/s" and "of measured".
func limitCells(b *bench, workload string) (lim, of, measured, ofMeasured string) {
	lim, of, measured, ofMeasured = "–", "–", "–", "–"
	if l, ok := b.limitOf(workload); ok {
		lim = num(l.rps())
	}
	if share, ok := b.ofLimit(workload); ok {
		of = fmt.Sprintf("%.0f%%", 100*share)
	}
	if l, ok := b.measuredLimit(workload); ok {
		measured = num(l)
	}
	if share, ok := b.ofMeasured(workload); ok {
		ofMeasured = fmt.Sprintf("%.0f%%", 100*share)
	}
	return lim, of, measured, ofMeasured
}

// limitNote explains the limit columns, with their parts in µs in the
// issue's layout.
func limitNote(b *bench) string {
	var s strings.Builder
	s.WriteString("**The limit** is the least a request can cost on this core: the HTTP floor on the same body (the floor server reading it and writing a fixed answer) " +
		"plus ONNX Runtime's own run for the workload's model and batch on tensors made once (`BenchmarkORT` in `./runtime`: one shared session, nothing but `Run` in the loop, " +
		"in process on the server core). Both come from this run, as µs per request (1 / req/s for the floor); **limit req/s** is 1 / their sum and **of limit** is onnxserve's req/s over it, " +
		"so what a row lacks of 100% is onnxserve's own work: routing, decoding, handing the tensors to ORT and encoding the answer. " +
		"The dynamic batching row's ORT part is the batch-32 run shared by 32 rows (its `max_batch_size` under 32 connections), the most merging can save. " +
		"The gRPC rows have no limit (–): the floor is an HTTP/1.1 server, and nothing here measures what a call's HTTP/2 frames and protobuf cost alone, so there is no floor to add ORT's run to; " +
		"their targets are set against ORT's own rate and the /v1 rate instead. " +
		"A row above 100% is one whose floor or ORT run was slowed by other work on the machine more than onnxserve's: the limit is not to be beaten, so rerun.\n\n" +
		"**The measured limit** is the same limit measured whole, in one server: the floor's `/ort/MODEL/BATCH` route (`scripts/bench/floor -model`, onnxruntime_go alone with onnxserve's default session settings) reads the same body, " +
		"runs ORT once on tensors and an IoBinding made at start, and writes the floor's fixed answer, under the same wrk load. The sum leaves out what a request costs the machine at the rate the model allows rather than at the floor's: " +
		"on a VM, chiefly waking the load generator for each answer, which at the floor's rate is rarely asleep. **of measured** is onnxserve's req/s over it.\n")
	var rows []string
	for _, w := range workloads {
		l, ok := b.limitOf(w.name)
		if !ok {
			continue
		}
		now, share := "–", "–"
		if o := b.get(w.name, "onnxserve"); o != nil && o.Result.RPS > 0 {
			now = us(1e6 / o.Result.RPS)
			share = fmt.Sprintf("%.0f%%", 100*l.us()*o.Result.RPS/1e6)
		}
		measured, ofMeasured := "–", "–"
		if m, ok := b.measuredLimit(w.name); ok {
			measured = fmt.Sprintf("%s (%s req/s)", us(1e6/m), num(m))
		}
		if x, ok := b.ofMeasured(w.name); ok {
			ofMeasured = fmt.Sprintf("%.0f%%", 100*x)
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s (%s req/s) | %s | %s | %s | %s |\n", w.title, us(l.floorUS), us(l.ortUS), us(l.us()), num(l.rps()), now, share, measured, ofMeasured))
	}
	if len(rows) > 0 {
		s.WriteString("\n| workload | HTTP floor | ORT run alone | limit (sum) | onnxserve now | of the limit | measured limit | of measured |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		s.WriteString(strings.Join(rows, ""))
	}
	return s.String()
}

// us is a time in µs: tenths below a millisecond, whole µs from there.
func us(v float64) string {
	if v >= 1000 {
		return commas(int(v+0.5)) + " µs"
	}
	return fmt.Sprintf("%.1f µs", v)
}

// limitTargets are issue 15's: onnxserve's req/s as a share of the limit.
var limitTargets = []struct {
	workload, what string
	share          float64
}{
	{w1, "iris, 1 named-feature row (JSON)", 0.8},
	{"mlp-rows-1", "MLP, 1 row (JSON, no dynamic batching)", 0.8},
	{"mlp-rows-32", "MLP, 32 rows (JSON)", 0.6},
	{"mlp-rows-32-v2", "MLP, 32 rows, v2 binary", 0.9},
}

func limitTargetsOf(b *bench) []target {
	var ts []target
	for _, lt := range limitTargets {
		t := target{what: fmt.Sprintf("%s: ≥ %.0f%% of the limit", lt.what, 100*lt.share), workload: lt.workload}
		o := b.get(lt.workload, "onnxserve")
		l, ok := b.limitOf(lt.workload)
		switch {
		case o == nil:
			t.measured = notMeasured(b, lt.workload)
		case !ok:
			t.measured = "limit not measured (floor or ORT run missing)"
		default:
			share, _ := b.ofLimit(lt.workload)
			t.met = share >= lt.share
			perReq := 1e6 / o.Result.RPS
			t.measured = fmt.Sprintf("%.0f%% (%s vs %s req/s; limit %s floor + %s ORT = %s, onnxserve %s)",
				100*share, rps(o), num(l.rps()), us(l.floorUS), us(l.ortUS), us(l.us()), us(perReq))
			if share > 1 {
				t.measured += "; over 100%, which the limit rules out: other work slowed the floor or ORT run, rerun"
			}
			if m, ok := b.ofMeasured(lt.workload); ok {
				ml, _ := b.measuredLimit(lt.workload)
				t.measured += fmt.Sprintf("; %.0f%% of the measured limit (%s req/s)", 100*m, num(ml))
			}
			t.why = fmt.Sprintf("The limit is %s per request: the floor's %s on this body and ORT's %s run. onnxserve needs %s, %s more: "+
				"its own work beyond what the floor does (routing, decoding, handing the tensors to ORT, encoding the answer). %.0f%% of the limit allows %s of it.",
				us(l.us()), us(l.floorUS), us(l.ortUS), us(perReq), us(perReq-l.us()), 100*lt.share, us(l.us()/lt.share-l.us()))
			if table := perfTable(b, lt.workload); table != "" {
				t.why += "\n\n" + table
			}
		}
		ts = append(ts, t)
	}
	return ts
}

// beforeTargets are issue 15's "no workload slower than before, peak RSS
// not higher, no validation loosened": one run cannot know before, so
// without -baseline they are stated as judged in the issue note; with an
// earlier run's results.jsonl each onnxserve workload is held to it.
func beforeTargets(b *bench) []target {
	review := target{what: "no validation loosened", measured: "judged in review of the change, not measurable here", info: true}
	if b.baseline == nil {
		return []target{{what: "no workload slower than before, peak RSS not higher",
			measured: "judged in the issue note from two runs, before and after the change (`BASELINE=old-results.jsonl scripts/bench.sh`, or the report's `-baseline`, compares them here)", info: true}, review}
	}
	is := b.baselineIs
	if is == "" {
		is = "the earlier run's"
	}
	speed := target{what: "no workload slower than before (`-baseline`): req/s ≥ " + is, met: true}
	mem := target{what: "no workload's peak RSS higher than before (`-baseline`)", met: true}
	var slower, bigger []string
	worstSpeed, worstMem := 0.0, 0.0
	var worstSpeedAt, worstMemAt string
	n := 0
	for _, w := range workloads {
		o, old := b.get(w.name, "onnxserve"), b.baseline[w.name]["onnxserve"]
		if o == nil || old == nil || old.Skipped != "" || old.Result.RPS <= 0 {
			continue
		}
		n++
		x := o.Result.RPS / old.Result.RPS
		if worstSpeedAt == "" || x < worstSpeed {
			worstSpeed, worstSpeedAt = x, fmt.Sprintf("%s: %s vs %s req/s", w.title, rps(o), rps(old))
		}
		if x < 1 {
			slower = append(slower, fmt.Sprintf("%s %.0f%%", w.title, 100*x))
		}
		if now, then, of := peaks(o, old); then > 0 {
			m := float64(now) / float64(then)
			if worstMemAt == "" || m > worstMem {
				worstMem, worstMemAt = m, fmt.Sprintf("%s: %s vs %s%s", w.title, mb(now), mb(then), of)
			}
			if now > then {
				bigger = append(bigger, fmt.Sprintf("%s %s vs %s%s", w.title, mb(now), mb(then), of))
			}
		}
	}
	if n == 0 {
		speed.met, mem.met = false, false
		speed.measured, mem.measured = "no workload in both runs", "no workload in both runs"
		return []target{speed, mem, review}
	}
	speed.met, mem.met = len(slower) == 0, len(bigger) == 0
	speed.measured = fmt.Sprintf("worst %.0f%% of before (%s)", 100*worstSpeed, worstSpeedAt)
	if len(slower) > 0 {
		speed.measured += "; slower: " + strings.Join(slower, ", ")
		speed.why = "Each run keeps every workload's best round, and other work on the machine still moves a best run by a few percent: " +
			"set a difference against the spread of the rounds, and rerun both with more rounds (`ROUNDS`) on a quiet machine, before taking it as the change's."
	}
	mem.measured = "worst " + worstMemAt
	if worstMemAt == "" {
		mem.measured = "no peak RSS in the earlier run"
		mem.met = false
	}
	if len(bigger) > 0 {
		mem.measured += "; higher: " + strings.Join(bigger, ", ")
		mem.why = "Peak RSS is the highest of the rounds' VmHWM, or of their RssAnon where both runs sampled it; VmHWM also counts the pages of the binary and its libraries that a start maps, which depend on the page cache (the same build counted 66 or 78 MB idle), so a few MB of VmHWM are not the change's."
	}
	return []target{speed, mem, review}
}

// peaks are a workload's peak memory now and in the earlier run: their
// RssAnon where both runs sampled it, which leaves out the file pages that
// VmHWM counts, else their VmHWM; of says which, for the report.
func peaks(now, then *result) (int, int, string) {
	if now.AnonKB > 0 && then.AnonKB > 0 {
		return now.AnonKB, then.AnonKB, " anonymous"
	}
	return now.RSSKB, then.RSSKB, ""
}
