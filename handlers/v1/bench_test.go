package v1

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/rest"
	"github.com/onnxserve/onnxserve/runtime"
)

// The decode and encode steps alone, on the models and bodies that
// scripts/bench.sh prepares (ONNXSERVE_BENCH_DIR points elsewhere), so
// that their numbers line up with the HTTP benchmark and with the whole
// handler's (BenchmarkPredict in package handlers).

var benchCases = []struct{ name, model, body string }{
	{"iris-named-1", "iris", "iris_named.json"},
	{"iris-rows-64", "iris", "iris_rows64.json"},
	{"mlp-rows-1", "mlp", "mlp_b1.json"},
	{"mlp-rows-32", "mlp", "mlp_b32.json"},
}

// benchModels opens the prepared repository, or skips; body reads one of
// its request bodies.
func benchModels(b *testing.B) (repo *runtime.Repository, body func(name string) []byte) {
	dir := os.Getenv("ONNXSERVE_BENCH_DIR")
	if dir == "" {
		dir = "../../.cache/bench"
	}
	repo, err := runtime.OpenRepository(filepath.Join(dir, "repo"), runtime.LoadOptions{Logger: slog.New(slog.DiscardHandler)}, false)
	if err != nil {
		b.Skipf("no bench models in %s (run `scripts/bench.sh prepare` first): %v", dir, err)
	}
	b.Cleanup(func() { repo.Close() })
	return repo, func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, "bodies", name))
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
}

// BenchmarkDecode is the JSON body → typed tensor step alone.
func BenchmarkDecode(b *testing.B) {
	repo, bodyOf := benchModels(b)
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			m, release, err := repo.Acquire(c.model, "")
			if err != nil {
				b.Fatal(err)
			}
			defer release()
			body := bodyOf(c.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := decodePredict(body, &m.Signature, m.Config.Features); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode is the outputs → JSON response step alone.
func BenchmarkEncode(b *testing.B) {
	repo, bodyOf := benchModels(b)
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			m, release, err := repo.Acquire(c.model, "")
			if err != nil {
				b.Fatal(err)
			}
			defer release()
			ins, _, err := decodePredict(bodyOf(c.body), &m.Signature, m.Config.Features)
			if err != nil {
				b.Fatal(err)
			}
			outs, err := m.Infer(b.Context(), ins)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var bufs rest.Buffers
			for b.Loop() {
				buf := bufs.Get()
				*buf = appendPredictResponse(*buf, m, outs)
				bufs.Put(buf)
			}
		})
	}
}
