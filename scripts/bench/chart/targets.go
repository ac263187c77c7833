package main

import (
	"fmt"
	"strconv"
	"strings"
)

// targets judges the target table against one run. Each miss
// carries the reasoning the report prints beside its profile.
func targets(b *bench) []target {
	var ts []target
	speedup := func(w workload) {
		o, fa, fs := b.get(w.name, "onnxserve"), b.get(w.fastapi, "fastapi"), b.get(w.fastapi, "fastapi-async")
		t := target{what: fmt.Sprintf("%s: ≥ %g× FastAPI req/s", w.title, w.target), workload: strings.TrimSuffix(w.name, "-batched")}
		if o == nil || fa == nil {
			t.measured = "not measured"
			ts = append(ts, t)
			return
		}
		x := o.Result.RPS / fa.Result.RPS
		t.met = x >= w.target
		t.measured = fmt.Sprintf("%.1f× (%s vs %s req/s; %s× FastAPI async)", x, rps(o), rps(fa), strings.TrimSuffix(ratio(o, fs), "×"))
		t.why = whySlow(b, w, o, fa)
		ts = append(ts, t)
	}
	for _, w := range workloads {
		if w.target > 0 {
			speedup(w)
		}
		if w.name == "iris-named-1" {
			o, fl := b.get(w.name, "onnxserve"), b.get(w.name, "floor")
			t := target{what: "iris, 1 named-feature row: ≥ 45% of the HTTP floor", workload: w.name}
			if o != nil && fl != nil {
				share := o.Result.RPS / fl.Result.RPS
				t.met = share >= 0.45
				t.measured = fmt.Sprintf("%.0f%% (%s vs %s req/s)", 100*share, rps(o), rps(fl))
				t.why = fmt.Sprintf("The floor answers in %.1f µs per request; onnxserve needs %.1f µs. The difference is the handler's own work (profile below): gin routing, decode, the ORT run with its cgo calls and value wrappers, and encode.",
					1e6/fl.Result.RPS, 1e6/o.Result.RPS)
			}
			ts = append(ts, t, metricsTarget(b), accessLogLine(b))
		}
	}
	ts = append(ts, v2Target(b), grpcORTTarget(b), grpcIrisTarget(b), rssTarget(b), tailTarget(b))
	ts = append(ts, overloadTargets(b)...)
	ts = append(ts, limitTargetsOf(b)...)
	return append(ts, beforeTargets(b)...)
}

// whySlow explains a missed speed-up: how far the HTTP floor itself is
// from FastAPI on the same body, and how the request's time splits.
func whySlow(b *bench, w workload, o, fa *result) string {
	fl := b.get(floorOf(w.name), "floor")
	var s strings.Builder
	if fl != nil {
		fmt.Fprintf(&s, "On this body the HTTP floor does %.1f× FastAPI, so %g× FastAPI means %.0f%% of the floor; onnxserve is at %.0f%% of it. ",
			fl.Result.RPS/fa.Result.RPS, w.target, 100*w.target*fa.Result.RPS/fl.Result.RPS, 100*o.Result.RPS/fl.Result.RPS)
	}
	switch {
	case strings.HasPrefix(w.name, "mlp-rows-1"):
		one := "about 35 µs"
		if ns := b.ort["mlp-b1"]; ns > 0 {
			one = fmt.Sprintf("%.1f µs", ns/1e3)
		}
		fmt.Fprintf(&s, "A single 784-512-512-10 row costs ONNX Runtime %s by itself (ORT alone at batch 1; %s rows/s at batch 32), and the request's budget at %g× FastAPI is %.0f µs. Dynamic batching is the design that gets there: it moves the ORT cost to about %.0f µs per row; what is left is decoding 784 floats (about 13 µs) and HTTP.",
			one, num(b.ortRows), w.target, 1e6/(w.target*fa.Result.RPS), 1e6/max(b.ortRows, 1))
	case w.name == "mlp-rows-32":
		s.WriteString("25,088 floats are 500 KB of JSON: decoding them is the largest share (about 16 ns per number), then ORT's batch-32 run. A binary body (the v2 row) removes the decoding altogether.")
	case strings.HasPrefix(w.name, "iris"):
		s.WriteString("The model run is a few µs; the rest is the JSON work on both sides and the HTTP stack, which the floor shares. Beyond what the profile shows, a leaner HTTP layer than net/http + gin (no per-request allocations, as fasthttp does) is what remains.")
	}
	return s.String()
}

// metricsShare is the share of W1's rate with --metrics=false that the
// default server, metrics on, is to keep.
const metricsShare = 0.97

// metricsTarget: W1 on the default server against W1 on the process with
// --metrics=false, each the best of its rounds; both have the access log.
func metricsTarget(b *bench) target {
	t := target{what: "metrics cost: W1 with metrics ≥ 97% of W1 with `--metrics=false`"}
	on, off := b.get(w1, "onnxserve"), b.get(w1NoMetrics, "onnxserve")
	switch {
	case on == nil:
		t.measured = notMeasured(b, w1)
	case off == nil:
		t.measured = notMeasured(b, w1NoMetrics)
	default:
		share := on.Result.RPS / off.Result.RPS
		t.met = share >= metricsShare
		t.measured = fmt.Sprintf("%.1f%% (%s vs %s req/s)", 100*share, rps(on), rps(off))
		t.why = fmt.Sprintf("With metrics a request costs %.1f µs on the core, without %.1f µs (1 / req/s): %+.1f µs; 3%% allows %.1f µs. ",
			1e6/on.Result.RPS, 1e6/off.Result.RPS, 1e6/on.Result.RPS-1e6/off.Result.RPS, (1/metricsShare-1)*1e6/off.Result.RPS) +
			"What metrics add to a REST request: the in-flight gauge up and down, the request counter by route and status (one labelled lookup), " +
			"the model's success, row and five duration counters and its request and queue histograms (found by model in a sync.Map), " +
			"and for the ORT run its exec counter and compute and batch-size histograms: atomic adds and one read-locked map lookup. " +
			"Other work on the machine can move a run by more than that: "
		if len(b.rounds[w1]["onnxserve"]) > 1 {
			t.why += "set the difference against the spread of W1's rounds (below the results) before the metrics, " +
				"and rerun with more rounds (`ROUNDS`) or on a quieter machine to tell them apart."
		} else {
			t.why += "with one round there is no spread to set the difference against; rerun with more rounds (`ROUNDS`) or on a quieter machine before blaming the metrics."
		}
	}
	return t
}

// accessLogLine: what the access log costs W1, on the two processes with
// metrics off; information, not a target.
func accessLogLine(b *bench) target {
	t := target{what: "access log cost (information): W1 with `--metrics=false` against `--metrics=false --access-log=false`", info: true}
	on, off := b.get(w1NoMetrics, "onnxserve"), b.get(w1Bare, "onnxserve")
	switch {
	case on == nil:
		t.measured = notMeasured(b, w1NoMetrics)
	case off == nil:
		t.measured = notMeasured(b, w1Bare)
	default:
		t.measured = fmt.Sprintf("%.1f%% (%s vs %s req/s; %+.1f µs per request, the line written to a file)",
			100*on.Result.RPS/off.Result.RPS, rps(on), rps(off), 1e6/on.Result.RPS-1e6/off.Result.RPS)
	}
	return t
}

func v2Target(b *bench) target {
	t := target{what: "MLP, 32 rows, v2 binary: ≥ 75% of ORT's own in-process rate"}
	o := b.get("mlp-rows-32-v2", "onnxserve")
	switch {
	case o == nil:
		t.measured = "v2 not available in this build: not measured"
		if r := b.results["mlp-rows-32-v2"]["onnxserve"]; r != nil {
			t.measured = r.Skipped + ": not measured"
		}
	case b.ortRows == 0:
		t.measured = "ORT rate not measured"
	default:
		share := o.Result.RPS * 32 / b.ortRows
		t.met = share >= 0.75
		t.measured = fmt.Sprintf("%.0f%% (%s rows/s vs %s)", 100*share, num(o.Result.RPS*32), num(b.ortRows))
		perReq, ortRun := 1e6/o.Result.RPS, 32e6/b.ortRows
		t.why = fmt.Sprintf("Each v2 request costs %.0f µs on the core; ORT's own batch-32 run is %.0f µs of it", perReq, ortRun)
		if fl := b.get("mlp-rows-32-v2", "floor"); fl != nil {
			t.why += fmt.Sprintf(" and reading the same 100 KB body over HTTP costs the floor %.0f µs", 1e6/fl.Result.RPS)
			perReq -= 1e6 / fl.Result.RPS
		}
		t.why += fmt.Sprintf(", which leaves about %.0f µs per request beyond them. ", perReq-ortRun) +
			"75% of ORT's rate allows about a third of ORT's run for all of that together, HTTP included. The handler itself is small: the body goes into a pooled buffer sized from Content-Length, placed so that the binary data starts 64-byte aligned and the input tensor is those bytes in place, and the output is appended as its bytes; in process (`go test -bench V2Infer ./handlers`) it adds about 10 µs to ORT's run. " +
			"The rest is net/http and the kernel's TCP, which cost more than the floor's because every request finds the core's caches flushed by the previous run's 2.6 MB of weights (`perf record -C 0` on the server: ORT's own run is as long as in process, with the same single intra-op thread)."
	}
	return t
}

// grpcORTShare is the share of ORT's own in-process MLP batch-32 rate that
// the gRPC raw batch-32 row is to reach.
const grpcORTShare = 0.9

// notMeasured is the measured column of a target whose onnxserve run is
// missing: why it was skipped, when it was.
func notMeasured(b *bench, workload string) string {
	if r := b.skipped(workload); r != "" {
		return r + ": not measured"
	}
	return "not measured"
}

// grpcORTTarget: the MLP batch 32 over gRPC raw against ORT's own rate,
// the same number the v2 target is judged by.
func grpcORTTarget(b *bench) target {
	t := target{what: "MLP, 32 rows, gRPC raw: ≥ 90% of ORT's own in-process rate"}
	o := b.get("grpc-mlp-rows-32-raw", "onnxserve")
	switch {
	case o == nil:
		t.measured = notMeasured(b, "grpc-mlp-rows-32-raw")
	case b.ortRows == 0:
		t.measured = "ORT rate not measured"
	default:
		share := o.Result.RPS * 32 / b.ortRows
		t.met = share >= grpcORTShare
		t.measured = fmt.Sprintf("%.0f%% (%s rows/s vs %s)", 100*share, num(o.Result.RPS*32), num(b.ortRows))
		perCall, ortRun := 1e6/o.Result.RPS, 32e6/b.ortRows
		t.why = fmt.Sprintf("Each gRPC call costs %.0f µs on the core; ORT's own batch-32 run is %.0f µs of it, which leaves "+
			"%.0f µs per call for the rest: the gRPC front end (HTTP/2 frames and flow control of the 100 KB message, "+
			"protobuf decoding, the answer; not profiled by this script) and the kernel's TCP. "+
			"90%% of ORT's rate allows %.0f µs for all of that together.", perCall, ortRun, perCall-ortRun, ortRun/9)
		if v2 := b.get("mlp-rows-32-v2", "onnxserve"); v2 != nil {
			t.why += fmt.Sprintf(" The same tensor as a REST v2 binary body costs %.0f µs per request.", 1e6/v2.Result.RPS)
		}
		t.why += "\n\n" + grpcProfile
	}
	return t
}

// grpcProfile is what `perf record -g -p` of the server under this load
// showed when the gRPC front end was last tuned; the script does not
// measure it anew.
const grpcProfile = "Where it goes (`perf record -g -p` of the server under this load, 2026-12-01, after the tuning below): " +
	"ONNX Runtime 58% of the core's samples, Go 24%, the kernel 17%. The Go share is grpc-go's transport: a reader " +
	"goroutine that takes the message in 16 KB HTTP/2 frames, one copy of them into a contiguous buffer for protobuf " +
	"(2%), the answer's frames handed to a writer goroutine that flushes them with a write of its own (7.5% of the " +
	"samples are under that write, most of it loopback TCP running the client's receive on the server's core), " +
	"allocation and GC. Already done: messages read into buffers of size classes that are not zeroed (gRPC's pool cleared " +
	"1 MiB per 100 KB message, 10% of the samples), the raw tensors used where the message was read instead of copied " +
	"out by protobuf, flow-control windows that take a tensor in one flight. What would reach 90% is a transport " +
	"without the goroutine hand-offs and per-frame copies, which grpc-go does not offer; on one core the same " +
	"message over REST's single write and read is cheaper, and larger batches raise ORT's share of every call."

// grpcIrisTarget: one iris row over gRPC, typed and raw, at least as fast
// as the same row as named features over /v1 JSON.
func grpcIrisTarget(b *bench) target {
	t := target{what: "iris, 1 row over gRPC (typed and raw): ≥ the /v1 JSON rate"}
	v1 := b.get("iris-named-1", "onnxserve")
	typed, raw := b.get("grpc-iris-1-typed", "onnxserve"), b.get("grpc-iris-1-raw", "onnxserve")
	switch {
	case v1 == nil:
		t.measured = "/v1 rate not measured"
		return t
	case typed == nil && raw == nil:
		t.measured = notMeasured(b, "grpc-iris-1-typed")
		return t
	}
	var parts, costs []string
	t.met = true
	gen := 0.0
	for _, c := range []struct {
		label, workload string
		r               *result
	}{{"typed", "grpc-iris-1-typed", typed}, {"raw", "grpc-iris-1-raw", raw}} {
		if c.r == nil {
			reason := b.skipped(c.workload)
			if reason == "" {
				reason = "not measured"
			}
			parts = append(parts, c.label+" "+reason)
			t.met = false
			continue
		}
		x := c.r.Result.RPS / v1.Result.RPS
		t.met = t.met && x >= 1
		parts = append(parts, fmt.Sprintf("%s %.2f× (%s req/s)", c.label, x, rps(c.r)))
		costs = append(costs, fmt.Sprintf("%s %.1f µs", c.label, 1e6/c.r.Result.RPS))
		gen = max(gen, c.r.Result.ClientCPU)
	}
	t.measured = strings.Join(parts, ", ") + fmt.Sprintf(" vs %s req/s on /v1", rps(v1))
	t.why = fmt.Sprintf("Over /v1 a one-row request costs %.1f µs on the core, JSON and HTTP/1.1 included; over gRPC ", 1e6/v1.Result.RPS) +
		strings.Join(costs, ", ") + ". The model run is the same few µs in both, so the difference is the front end's: HTTP/2 frames and headers, " +
		"protobuf and a stream per call against a keep-alive HTTP/1.1 request and JSON (not profiled by this script)."
	if gen >= 0.9 {
		t.why += fmt.Sprintf(" grpcload used %.0f%% of its core here: part of the limit may be the generator's.", 100*gen)
	}
	return t
}

// rssTarget: every onnxserve workload at most half FastAPI's peak RSS on
// the same request, or for a row without a FastAPI request of its own (v2
// binary, gRPC) on the JSON request with the same numbers.
func rssTarget(b *bench) target {
	t := target{what: "every workload: peak RSS ≤ 50% of FastAPI's", met: true}
	worst, worstAt := 0.0, ""
	for _, w := range workloads {
		o := b.get(w.name, "onnxserve")
		peer := w.fastapi
		if peer == "" {
			peer = w.sameNumbers
		}
		fa := b.get(peer, "fastapi")
		if o == nil || fa == nil || fa.RSSKB == 0 {
			continue
		}
		share := float64(o.RSSKB) / float64(fa.RSSKB)
		if share > worst {
			worst, worstAt = share, fmt.Sprintf("%s: %s vs %s", w.title, mb(o.RSSKB), mb(fa.RSSKB))
		}
		t.met = t.met && share <= 0.5
	}
	t.measured = fmt.Sprintf("at most %.0f%% (%s)", 100*worst, worstAt)
	idle := func(server string) string {
		kb, _ := strconv.Atoi(b.meta["idle_rss_"+server])
		return mb(kb)
	}
	t.why = fmt.Sprintf("Most of onnxserve's memory is there before the first request: %s resident when idle, against FastAPI's %s (numpy, sklearn and both models). ", idle("onnxserve"), idle("fastapi")) +
		"Measured apart on this machine: with iris alone onnxserve is 33 MB resident, mostly the pages of its binary and of libonnxruntime.so (about 17 MB) that it touches. " +
		"The Swagger UI's files stay in the binary's read-only data (swaggo/files/v2, an embed.FS), where swaggo/files v1 copied them into memory at init (−18 MB), and at start the C heap's free pages left by loading the models go back to the kernel (malloc_trim, −6 MB with these models). " +
		"Each 784-512-512-10 MLP session adds about 12 MB (weights, pre-packed weights, kernels), and this benchmark loads two (with and without dynamic batching). " +
		"A binary run straight after `go build` can count up to 10 MB more of its own file: the linker leaves it in the page cache as 2 MB folios, which the kernel maps whole (FilePmdMapped in /proc/PID/smaps_rollup); a copy of the file does not. " +
		"Under load the Go heap adds the bodies in flight (32 connections × 500 KB for the batch-32 JSON). Turning off ORT's CPU arena, memory patterns or weight pre-packing did not lower the peak (tried: ±1 MB). " +
		"What would lower it further: one session per model file shared by its batched and unbatched names (−12 MB here), and decoding from the socket in chunks rather than from a whole-body buffer."
	return t
}

// tailTarget: every measured run of every server keeps p99 within 3× p50;
// only the default onnxserve's runs are judged.
func tailTarget(b *bench) target {
	t := target{what: "every workload: p99 ≤ 3× p50", met: true}
	var over []string
	worst := 0.0
	for _, w := range workloads {
		o := b.get(w.name, "onnxserve")
		if o == nil || o.Result.P50 == 0 || w.variant() {
			continue
		}
		r := o.Result.P99 / o.Result.P50
		worst = max(worst, r)
		if r > 3 {
			t.met = false
			over = append(over, fmt.Sprintf("%s %.1f×", w.title, r))
		}
	}
	t.measured = fmt.Sprintf("worst %.1f×", worst)
	if len(over) > 0 {
		t.measured += ": " + strings.Join(over, ", ")
		t.why = "With 32 connections on one core every request queues behind the others; the tail comes from garbage collection cycles and from the Go scheduler handing the core to a request's goroutine late."
	}
	return t
}

func overloadTargets(b *bench) []target {
	pr, hz := b.get("overload-predict", "onnxserve"), b.get("overload-healthz", "onnxserve")
	health := target{what: "overload (200 connections, queue 64): /healthz p99 < 50 ms"}
	shed := target{what: "overload: excess predict requests get 503, no timeouts"}
	if pr == nil || hz == nil {
		health.measured, shed.measured = "not measured", "not measured"
		return []target{health, shed}
	}
	health.met = hz.Result.P99 < 50e3 && hz.Result.Non2xx == 0
	health.measured = fmt.Sprintf("p99 %s, max %s, %s", ms(hz.Result.P99), ms(hz.Result.Max), statuses(hz))
	health.why = "/healthz shares the one core with 200 connections' worth of request decoding; it waits its turn in the Go scheduler's run queue."
	others := 0
	for k, n := range pr.Result.Status {
		if k != "200" && k != "503" {
			others += n
		}
	}
	timeouts := pr.Result.Timeouts + hz.Result.Timeouts
	shed.met = pr.Result.Status["503"] > 0 && others == 0 && timeouts == 0
	shed.measured = fmt.Sprintf("%s; %d timeouts; predict p99 %s", statuses(pr), timeouts, ms(pr.Result.P99))
	shed.why = "Requests past the queue must be refused before they are decoded for the 503 to cost nothing."
	return []target{health, shed}
}

const threadsNote = `## Threads, batching and when to change them

- **Run slots.** At most ` + "`--max-concurrent-runs`" + ` ONNX Runtime runs are in flight across all models (default GOMAXPROCS, which Go sizes from the CPU affinity and cgroup quota). Each run blocks an OS thread in cgo that Go's scheduler does not count, so this bound is what keeps a burst from oversubscribing the cores.
- **intra_op_threads** (per model, default 1, spinning off). Keep 1 when the server is busy with many concurrent requests: requests already keep every core busy, and a second ORT pool thread only competes with them (measured 22–41% slower under concurrency). Raise it for a compute-heavy model (a run of milliseconds, like big batches of the MLP) when latency matters more than throughput or traffic is light, and then lower ` + "`--max-concurrent-runs`" + ` so that runs × intra_op_threads stays at or below the number of cores.
- **dynamic_batching** pays when ORT's share of a request is large, as for the MLP at batch 1 (35 µs of a ~50 µs handler): merging concurrent rows into one run costs ORT about 6 µs per row instead. For a model that runs in 2 µs (iris) it buys nothing, and ` + "`max_queue_delay_us`" + ` only adds latency; leave it at 0, which still batches whatever queued while the previous run held the slot.
- **max_queue_size** bounds the requests waiting per model; past it a request gets 503 with ` + "`Retry-After: 1`" + ` at once instead of waiting into a client timeout.
`
