package accesslog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime"
)

// fast is what Write logs of l at t through a Handler, its fast path.
func fast(t *testing.T, json bool, at time.Time, l Line) string {
	t.Helper()
	var out bytes.Buffer
	h := NewHandler(&out, json, nil)
	if !h.fast {
		t.Fatal("no fast path without options")
	}
	h.now = func() time.Time { return at }
	Write(context.Background(), slog.New(h), l)
	return out.String()
}

// viaSlog is what Write logs of l at t through slog's own handler, as it
// did before the fast path: a ReplaceAttr sets the time, which slog
// formats as it does its own.
func viaSlog(json bool, at time.Time, l Line) string {
	var out bytes.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Time(slog.TimeKey, at)
		}
		return a
	}}
	var h slog.Handler = slog.NewTextHandler(&out, opts)
	if json {
		h = slog.NewJSONHandler(&out, opts)
	}
	Write(context.Background(), slog.New(h), l)
	return out.String()
}

// same fails t unless the fast path writes l at t as slog does, in both
// formats.
func same(t *testing.T, at time.Time, l Line) {
	t.Helper()
	for _, json := range []bool{false, true} {
		got, want := fast(t, json, at, l), viaSlog(json, at, l)
		if got != want {
			t.Fatalf("json %v, line %#v, record %#v at %v:\nfast %q\nslog %q", json, l, l.Record, at, got, want)
		}
	}
}

var at = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("", 5*3600+30*60))

func irisLine() Line {
	return Line{ID: "82a15ee6ecde94ee", Protocol: "http", Method: "POST", Route: "/v1/models/:name/predict", Code: 200,
		Client: "127.0.0.1", BytesIn: 112, BytesOut: 231, Duration: 474 * time.Microsecond,
		Record: &inference.Record{Caller: "team-a", Model: "iris", Version: "1", Stats: runtime.Stats{Queue: 12 * time.Microsecond, Run: runtime.Run{Rows: 1}}}}
}

// TestLine pins the line itself, so that the fast path and slog cannot
// drift together from what the access log has always said.
func TestLine(t *testing.T) {
	l := irisLine()
	l.Record.ID, l.Record.Err = "req-7", &inference.Error{Message: `input "x": want 4 values`}
	for json, want := range map[bool]string{
		false: `time=2025-03-14T15:09:26.535+05:30 level=INFO msg=request request_id=82a15ee6ecde94ee protocol=http route="POST /v1/models/:name/predict" status=200 duration_ms=0.474 bytes_in=112 bytes_out=231 client=127.0.0.1 key=team-a model=iris version=1 queue_ms=0.012 batch=1 id=req-7 error="input \"x\": want 4 values"` + "\n",
		true:  `{"time":"2025-03-14T15:09:26.535897932+05:30","level":"INFO","msg":"request","request_id":"82a15ee6ecde94ee","protocol":"http","route":"POST /v1/models/:name/predict","status":"200","duration_ms":0.474,"bytes_in":112,"bytes_out":231,"client":"127.0.0.1","key":"team-a","model":"iris","version":"1","queue_ms":0.012,"batch":1,"id":"req-7","error":"input \"x\": want 4 values"}` + "\n",
	} {
		if got := fast(t, json, at, l); got != want {
			t.Errorf("json %v:\n got %s\nwant %s", json, got, want)
		}
		if got := viaSlog(json, at, l); got != want {
			t.Errorf("json %v, slog:\n got %s\nwant %s", json, got, want)
		}
	}
}

// nasty are strings each format must quote or escape somehow.
var nasty = []string{
	"", " ", "a b", "a=b", `"`, `a"b`, `\`, `a\b`, "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "<&>", "é", "日本語", "🙂",
	"\u00a0", "\u2028", "\u2029", "\u200b", "\ufeff", "\ufffd", "\xff", "a\xffb", "\xe6\x97", "\xed\xa0\x80", "key=value pair",
	strings.Repeat("x", maxID), strings.Repeat("é\"", 200), "/v2/models/:name/versions/:version/infer", "POST", "GET /x",
	"/inference.GRPCInferenceService/ModelInfer", "InvalidArgument", "[::1]:52341", "0", "-1", "1e3", "true", "null",
}

// TestSameAsSlog holds the fast path to slog's output, line for line: a
// table of the fields' edge cases, then random lines from them.
func TestSameAsSlog(t *testing.T) {
	times := []time.Time{at, at.UTC(), time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2025, 1, 2, 3, 4, 5, 100_000_000, time.Local),
		time.Date(2025, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("", -8*3600)), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()}
	durations := []time.Duration{0, 1, 999, time.Microsecond, 1001, 474 * time.Microsecond, time.Millisecond, 1234567 * time.Microsecond,
		time.Hour, -time.Microsecond, -5 * time.Second, math.MaxInt64, math.MinInt64}
	for _, tm := range times {
		same(t, tm, irisLine())
	}
	for _, d := range durations {
		l := irisLine()
		l.Duration, l.Record.Queue = d, d
		same(t, at, l)
	}
	for _, s := range nasty {
		for _, l := range []Line{
			{ID: s, Protocol: s, Route: s, Status: s, Client: s},
			{Method: s, Route: "/x"}, {Method: "POST", Route: s}, {Method: s, Route: s},
			{Record: &inference.Record{Caller: s}}, {Record: &inference.Record{Model: s, Version: s, ID: s, Err: &inference.Error{Message: s}}},
		} {
			same(t, at, l)
		}
	}
	for _, l := range []Line{
		{}, {Code: -1}, {Code: math.MaxInt}, {Code: math.MinInt}, {Status: "OK", Code: 500}, {BytesIn: -1, BytesOut: math.MinInt64},
		{BytesIn: math.MaxInt64}, {Record: &inference.Record{}}, {Record: &inference.Record{ID: "id without a model", Err: &inference.Error{}}},
		{Record: &inference.Record{Model: "m", Err: &inference.Error{}}}, {Record: &inference.Record{Model: "m", Stats: runtime.Stats{Run: runtime.Run{Rows: -3}}}},
	} {
		same(t, at, l)
	}

	rng := rand.New(rand.NewPCG(15, 15))
	str := func() string {
		if rng.IntN(4) > 0 {
			return nasty[rng.IntN(len(nasty))]
		}
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	for range 5000 {
		l := Line{ID: str(), Protocol: str(), Route: str(), Client: str(), BytesIn: rng.Int64() >> rng.IntN(64), BytesOut: -rng.Int64N(1000),
			Duration: time.Duration(rng.Int64() >> rng.IntN(64))}
		if rng.IntN(2) == 0 {
			l.Method = str()
		}
		if rng.IntN(2) == 0 {
			l.Status = str()
		} else {
			l.Code = rng.IntN(1000)
		}
		if rng.IntN(3) > 0 {
			r := &inference.Record{Caller: str(), Stats: runtime.Stats{Queue: time.Duration(rng.Int64N(1e9)), Run: runtime.Run{Rows: rng.IntN(100)}}}
			if rng.IntN(3) > 0 {
				r.Model, r.Version, r.ID = str(), str(), str()
			}
			if rng.IntN(2) == 0 {
				r.Err = &inference.Error{Message: str()}
			}
			l.Record = r
		}
		same(t, times[rng.IntN(len(times))].Add(time.Duration(rng.Int64N(1e12))), l)
	}
}

// FuzzLine holds the fast path to slog's output for any line.
func FuzzLine(f *testing.F) {
	f.Add("82a15ee6ecde94ee", "http", "POST", "/v1/models/:name/predict", "", 200, "127.0.0.1", int64(112), int64(231), int64(474_000), "team-a", "iris", "1", int64(12_000), 1, "req-7", "", false, int64(0))
	f.Add("call-1", "grpc", "", "/inference.GRPCInferenceService/ModelInfer", "InvalidArgument", 0, "[::1]:52341", int64(-1), int64(0), int64(999), "", "", "", int64(0), 0, "", "input \"x\"", true, int64(1))
	f.Add("a b=c", "\"", "\xff", "日本 \u2028", "", -1, "", int64(math.MinInt64), int64(math.MaxInt64), int64(math.MaxInt64), "\x00", "m", "", int64(math.MinInt64), -1, "\t", "\n", true, int64(-1e18))
	f.Fuzz(func(t *testing.T, id, protocol, method, route, status string, code int, client string, in, out, dur int64,
		caller, model, version string, queue int64, rows int, reqID, errMsg string, failed bool, nanos int64) {
		l := Line{ID: id, Protocol: protocol, Method: method, Route: route, Status: status, Code: code, Client: client,
			BytesIn: in, BytesOut: out, Duration: time.Duration(dur)}
		if caller != "" || model != "" || failed {
			l.Record = &inference.Record{Caller: caller, Model: model, Version: version, ID: reqID, Stats: runtime.Stats{Queue: time.Duration(queue), Run: runtime.Run{Rows: rows}}}
			if failed {
				l.Record.Err = &inference.Error{Message: errMsg}
			}
		}
		same(t, at.Add(time.Duration(nanos)), l)
	})
}

// TestLevel: the line is at INFO, and the handler's level is asked at
// every line, as slog's handlers ask it.
func TestLevel(t *testing.T) {
	var out bytes.Buffer
	var level slog.LevelVar
	log := slog.New(NewHandler(&out, false, &slog.HandlerOptions{Level: &level}))
	for _, c := range []struct {
		level slog.Level
		lines int
	}{{slog.LevelDebug, 1}, {slog.LevelInfo, 1}, {slog.LevelWarn, 0}, {slog.LevelError, 0}, {slog.LevelInfo, 1}} {
		level.Set(c.level)
		out.Reset()
		Write(context.Background(), log, irisLine())
		if n := strings.Count(out.String(), "\n"); n != c.lines {
			t.Errorf("at level %v: %d lines, want %d: %s", c.level, n, c.lines, out.String())
		}
	}
}

// TestSlowPath: options the fast path does not follow, and loggers made
// with With, get the line through slog, which honours them.
func TestSlowPath(t *testing.T) {
	dropClient := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == "client" {
			return slog.Attr{}
		}
		return a
	}
	for _, json := range []bool{false, true} {
		for name, c := range map[string]struct {
			opts *slog.HandlerOptions
			with func(*slog.Logger) *slog.Logger
			want string
		}{
			"ReplaceAttr": {&slog.HandlerOptions{ReplaceAttr: dropClient}, nil, ""},
			"AddSource":   {&slog.HandlerOptions{AddSource: true}, nil, "accesslog.go"},
			"With":        {nil, func(l *slog.Logger) *slog.Logger { return l.With("replica", "r1") }, "replica"},
			"WithGroup":   {nil, func(l *slog.Logger) *slog.Logger { return l.WithGroup("access") }, "access"},
		} {
			var out, std bytes.Buffer
			log, ref := slog.New(NewHandler(&out, json, c.opts)), slog.New(slog.NewTextHandler(&std, c.opts))
			if json {
				ref = slog.New(slog.NewJSONHandler(&std, c.opts))
			}
			if c.with != nil {
				log, ref = c.with(log), c.with(ref)
			}
			Write(context.Background(), log, irisLine())
			Write(context.Background(), ref, irisLine())
			got, want := dropTime(out.String()), dropTime(std.String())
			if got != want || !strings.Contains(got, c.want) || strings.Contains(got, "127.0.0.1") == (name == "ReplaceAttr") {
				t.Errorf("%s, json %v:\n got %s\nwant %s", name, json, got, want)
			}
		}
	}
}

// dropTime cuts a line's time, which slog takes from the clock.
func dropTime(line string) string {
	_, rest, _ := strings.Cut(line, "level")
	return rest
}

// TestOtherRecords: every other record is slog's.
func TestOtherRecords(t *testing.T) {
	for _, json := range []bool{false, true} {
		var out, std bytes.Buffer
		opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}
		ref := slog.New(slog.NewTextHandler(&std, opts))
		if json {
			ref = slog.New(slog.NewJSONHandler(&std, opts))
		}
		for _, log := range []*slog.Logger{slog.New(NewHandler(&out, json, opts)), ref} {
			log.Info("loaded", "model", "iris", "took", 3*time.Millisecond)
			log.Debug("hidden")
			log.Error("run failed", "err", fmt.Errorf("ort: %q", "bad input"), slog.Group("run", "rows", 3))
		}
		if out.String() != std.String() || out.Len() == 0 {
			t.Errorf("json %v:\n got %s\nwant %s", json, out.String(), std.String())
		}
	}
}

// lineWriter fails its test when two Writes overlap or one is not a whole
// line: the fast path and slog's must share one lock.
type lineWriter struct {
	t     *testing.T
	busy  sync.Mutex
	lines int
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if !w.busy.TryLock() {
		w.t.Error("concurrent Write")
		return len(p), nil
	}
	defer w.busy.Unlock()
	if bytes.IndexByte(p, '\n') != len(p)-1 {
		w.t.Errorf("Write of %q, not one line", p)
	}
	w.lines++
	return len(p), nil
}

func TestConcurrent(t *testing.T) {
	w := &lineWriter{t: t}
	log := slog.New(NewHandler(w, true, nil))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				Write(context.Background(), log, irisLine())
				log.Info("other", "n", 1)
			}
		})
	}
	wg.Wait()
	if w.lines != 8*500*2 {
		t.Errorf("%d lines, want %d", w.lines, 8*500*2)
	}
}

// TestAllocs: the fast path's line costs no allocation (issue 15: the
// line through slog took 10 and more time than ONNX Runtime's run).
func TestAllocs(t *testing.T) {
	l := irisLine()
	l.Record.ID = "req-7"
	for _, json := range []bool{false, true} {
		log := slog.New(NewHandler(io.Discard, json, nil))
		ctx := context.Background()
		if n := testing.AllocsPerRun(100, func() { Write(ctx, log, l) }); n != 0 {
			t.Errorf("json %v: %v allocations per line, want 0", json, n)
		}
	}
}

// BenchmarkAccessLine is one iris request's access line, written by the
// fast path and by slog's handler, in either format.
func BenchmarkAccessLine(b *testing.B) {
	l := irisLine()
	ctx := context.Background()
	for _, format := range []string{"text", "json"} {
		json := format == "json"
		std := slog.Handler(slog.NewTextHandler(io.Discard, nil))
		if json {
			std = slog.NewJSONHandler(io.Discard, nil)
		}
		for _, c := range []struct {
			name string
			h    slog.Handler
		}{{"fast", NewHandler(io.Discard, json, nil)}, {"slog", std}} {
			b.Run(c.name+"-"+format, func(b *testing.B) {
				log := slog.New(c.h)
				b.ReportAllocs()
				for b.Loop() {
					Write(ctx, log, l)
				}
			})
		}
	}
}
