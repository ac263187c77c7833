package v1

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// fuzzSigs are the signatures the fuzzer decodes every body against; the
// first byte of the input picks one.
var fuzzSigs = []struct {
	sig *tensor.Signature
	opt decodeOpt
}{
	{decIrisSig, decIrisOpt},
	{decIrisSig, decodeOpt{MaxBatch: 3}},
	{decMultiSig, decodeOpt{}},
	{decScalarSig, decodeOpt{}},
	{decImageSig, decodeOpt{MaxBatch: 2}},
	{decAllSig, decodeOpt{}},
	{decVectorSig, decodeOpt{}},
	{decOne(tensor.String, -1), decodeOpt{}},
	{decOne(tensor.Uint8, 2, -1), decodeOpt{}},
}

func FuzzDecodePredict(f *testing.F) {
	for n, tc := range decodeCases() {
		pick := n % len(fuzzSigs)
		for i, s := range fuzzSigs {
			if s.sig == tc.sig {
				pick = i
			}
		}
		f.Add(uint8(pick), tc.body)
	}
	for i := range fuzzSigs {
		f.Add(uint8(i), `{"inputs": {"v": [[1, 2], [3, 4]]}}`)
	}
	f.Fuzz(func(t *testing.T, pick uint8, body string) {
		s := fuzzSigs[int(pick)%len(fuzzSigs)]
		got, status, e := decode(body, s.sig, s.opt)
		// encoding/json is the judge of what is JSON: a 400 exactly when it
		// says no (and UTF-8, which it does not check), but for the decoder's
		// tighter nesting limit.
		valid := json.Valid([]byte(body)) && utf8.ValidString(body)
		if status != 0 {
			if status != 400 && status != 422 {
				t.Fatalf("status %d: %s", status, e.text())
			}
			if (status == 400) == valid && !strings.Contains(e.Message, "nested deeper") {
				t.Fatalf("json.Valid = %v but %d %s", valid, status, e.text())
			}
			if status == 422 && (len(e.Details) == 0 || e.Details[0].Field == "") {
				t.Fatalf("422 without a field: %#v", e)
			}
			return
		}
		if !valid {
			t.Fatalf("decoded what json.Valid rejects")
		}
		if len(got) != len(s.sig.Inputs) {
			t.Fatalf("%d tensors for %d inputs", len(got), len(s.sig.Inputs))
		}
		for i, tensor := range got {
			spec := s.sig.Inputs[i]
			if err := tensor.Check(); err != nil {
				t.Fatalf("input %s: %v", spec.Name, err)
			}
			if tensor.DType != spec.DType || len(tensor.Shape) != len(spec.Shape) {
				t.Fatalf("input %s: %v %v for spec %v %v", spec.Name, tensor.DType, tensor.Shape, spec.DType, spec.Shape)
			}
			for k, dim := range spec.Shape {
				if dim >= 0 && tensor.Shape[k] != dim || tensor.Shape[k] < 0 {
					t.Fatalf("input %s: shape %v for spec %v", spec.Name, tensor.Shape, spec.Shape)
				}
			}
			if len(spec.Shape) > 0 && spec.Shape[0] < 0 &&
				(tensor.Shape[0] == 0 || s.opt.MaxBatch > 0 && tensor.Shape[0] > int64(s.opt.MaxBatch)) {
				t.Fatalf("input %s: batch %d with max %d", spec.Name, tensor.Shape[0], s.opt.MaxBatch)
			}
		}
	})
}

// Benchmarks: the bodies a FastAPI comparison sends.

func BenchmarkDecodePredict(b *testing.B) {
	// Python's json writes floats with up to 17 significant digits.
	row := func(seed int) string {
		var sb strings.Builder
		sb.WriteByte('[')
		for i := range 784 {
			if i > 0 {
				sb.WriteString(", ")
			}
			v := float64((seed*784+i)%1000)/997 + 1e-9*float64(i)
			sb.WriteString(strconv.FormatFloat(v, 'g', 17, 64))
		}
		sb.WriteByte(']')
		return sb.String()
	}
	rows := func(n int, row func(int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = row(i)
		}
		return `{"instances": [` + strings.Join(parts, ", ") + `]}`
	}
	mnist := &tensor.Signature{Inputs: []tensor.TensorSpec{{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 784}}}}
	for _, bc := range []struct {
		name    string
		sig     *tensor.Signature
		opt     decodeOpt
		body    string
		numbers int
	}{
		{"iris_object", decIrisSig, decIrisOpt,
			`{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`, 4},
		{"iris_64_rows", decIrisSig, decIrisOpt,
			rows(64, func(i int) string { return "[5.1, 3.5, 1.4, 0." + strconv.Itoa(i%10) + "]" }), 64 * 4},
		{"784_floats_1_row", mnist, decodeOpt{}, rows(1, row), 784},
		{"784_floats_32_rows", mnist, decodeOpt{}, rows(32, row), 32 * 784},
	} {
		body, m := []byte(bc.body), bc.opt.model(bc.sig)
		if _, _, err := decodePredict(body, m); err != nil {
			b.Fatalf("%s: %v", bc.name, err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				req, _, err := decodePredict(body, m)
				if err != nil {
					b.Fatal(err)
				}
				req.release() // as Predict does once it has answered
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.numbers), "ns/number")
		})
	}
}
