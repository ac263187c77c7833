package runtime

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Run-path benchmarks on the models scripts/bench.sh prepares
// (make_models.py's iris and 784-512-512-10 MLP): ORT alone, Model.Infer,
// and Infer through the dynamic batcher under concurrent callers.
// ONNXSERVE_BENCH_DIR points at another prepared directory.

func benchModelPath(b *testing.B, name string) string {
	dir := os.Getenv("ONNXSERVE_BENCH_DIR")
	if dir == "" {
		dir = "../.cache/bench"
	}
	p := filepath.Join(dir, "models", name+".onnx")
	if _, err := os.Stat(p); err != nil {
		b.Skipf("no %s: run `scripts/bench.sh prepare` first", p)
	}
	return p
}

// randomInput is a [rows, width] float32 input of uniform values.
func randomInput(rows, width int) tensor.Tensor {
	data := make([]float32, rows*width)
	rng := rand.New(rand.NewPCG(uint64(rows), uint64(width)))
	for i := range data {
		data[i] = rng.Float32()
	}
	return tensor.Tensor{DType: tensor.Float32, Shape: []int64{int64(rows), int64(width)}, Data: data}
}

var benchShapes = []struct {
	model        string
	width, batch int
}{
	{"iris", 4, 1}, {"iris", 4, 64}, {"mlp", 784, 1}, {"mlp", 784, 32},
}

// BenchmarkORT is ONNX Runtime's own rate: one shared session, input and
// output tensors made once and bound once (an IoBinding, the cheapest way
// onnxruntime_go runs), nothing but the run in the loop. It is the "ORT
// run alone" of issue 15's limit (scripts/bench.sh), and the v2 binary
// target is a fraction of it.
func BenchmarkORT(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.model+"-b"+strconv.Itoa(s.batch), func(b *testing.B) {
			m, err := LoadModel(s.model, "1", benchModelPath(b, s.model), nil, LoadOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			in, err := toValue(randomInput(s.batch, s.width))
			if err != nil {
				b.Fatal(err)
			}
			outs := make([]ort.Value, len(m.Signature.Outputs))
			for i, p := range m.outputs {
				shape, _ := p.shape(s.batch)
				if outs[i], err = newOutput(m.Signature.Outputs[i].DType, shape); err != nil {
					b.Fatal(err)
				}
			}
			defer destroyAll(outs, false)
			defer in.Destroy()
			io, err := m.session.CreateIoBinding()
			if err != nil {
				b.Fatal(err)
			}
			defer io.Destroy()
			if err := io.BindInput(m.Signature.Inputs[0].Name, in); err != nil {
				b.Fatal(err)
			}
			for i, v := range outs {
				if err := io.BindOutput(m.Signature.Outputs[i].Name, v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := m.session.RunWithBinding(io); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*s.batch)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkInfer is Model.Infer, one caller: ORT plus the wrapping of
// inputs and preallocated outputs, run options and the run slot.
func BenchmarkInfer(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.model+"-b"+strconv.Itoa(s.batch), func(b *testing.B) {
			m, err := LoadModel(s.model, "1", benchModelPath(b, s.model), nil, LoadOptions{Limiter: NewLimiter(0)})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			in := []tensor.Tensor{randomInput(s.batch, s.width)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Infer(b.Context(), in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*s.batch)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkBatcher is single-row MLP requests from 32 concurrent callers
// (as the HTTP benchmark's 32 connections), with and without dynamic
// batching; rows/s is what the merging buys on ORT's side.
func BenchmarkBatcher(b *testing.B) {
	for _, batched := range []bool{false, true} {
		name := "mlp-b1-unbatched"
		cfg := &Config{}
		if batched {
			name = "mlp-b1-batched"
			cfg.MaxBatchSize, cfg.DynamicBatching = 32, &DynamicBatching{}
		}
		b.Run(name, func(b *testing.B) {
			m, err := LoadModel("mlp", "1", benchModelPath(b, "mlp"), cfg, LoadOptions{Limiter: NewLimiter(0)})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			b.SetParallelism(32)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				in := []tensor.Tensor{randomInput(1, 784)}
				for pb.Next() {
					if _, err := m.Infer(b.Context(), in); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
