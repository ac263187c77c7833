package v1

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/rest"
	"github.com/onnxserve/onnxserve/runtime"
)

// BenchmarkEncode is the outputs → JSON response step alone, on the
// shipped models (iris has labels, so its response carries predictions);
// decoding alone is BenchmarkDecodePredict.
func BenchmarkEncode(b *testing.B) {
	repo, err := runtime.OpenRepository("../../models", runtime.LoadOptions{Logger: slog.New(slog.DiscardHandler)}, false)
	if err != nil {
		b.Fatal(err)
	}
	defer repo.Close()
	row := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("0.5,", n), ",") + "]" }
	rows := func(k, n int) string {
		return `{"instances": [` + strings.TrimSuffix(strings.Repeat(row(n)+",", k), ",") + `]}`
	}
	for _, c := range []struct{ name, model, body string }{
		{"iris-named-1", "iris", `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`},
		{"iris-rows-64", "iris", rows(64, 4)},
		{"digits-rows-32", "digits", rows(32, 64)},
	} {
		b.Run(c.name, func(b *testing.B) {
			m, release, err := repo.Acquire(c.model, "")
			if err != nil {
				b.Fatal(err)
			}
			defer release()
			ins, _, err := decodePredict([]byte(c.body), m)
			if err != nil {
				b.Fatal(err)
			}
			outs, err := m.Infer(b.Context(), ins.inputs)
			if err != nil {
				b.Fatal(err)
			}
			var bufs rest.Buffers
			b.ReportAllocs()
			for b.Loop() {
				buf := bufs.Get(answerSize(outs))
				*buf = appendPredictResponse(*buf, m, outs, nil)
				bufs.Put(buf)
			}
		})
	}
}
