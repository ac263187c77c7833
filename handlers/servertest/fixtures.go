package servertest

import (
	"os"
	"path/filepath"
	"testing"
)

// Models lists the models of TestRepo: name → where its expected.json is.
var Models = map[string]string{
	"iris":    "models/iris/1/expected.json",
	"digits":  "models/digits/expected.json",
	"tabular": "models/tabular/expected.json",
	"dtypes":  "runtime/testdata/dtypes.expected.json",
	"half":    "runtime/testdata/half.expected.json",
	"scalar":  "runtime/testdata/scalar.expected.json",
	"strings": "runtime/testdata/strings.expected.json",
	"zipmap":  "runtime/testdata/zipmap.expected.json",
	"slow":    "runtime/testdata/slow.expected.json",
}

// TestRepo builds a repository of the shipped models, every runtime test
// model and an FP16/BF16 identity model, and returns its directory.
func TestRepo(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, m := range []string{"digits", "tabular"} {
		CopyFile(t, Path("models", m, "model.onnx"), filepath.Join(dir, m, "model.onnx"))
		CopyFile(t, Path("models", m, "config.yaml"), filepath.Join(dir, m, "config.yaml"))
	}
	CopyFile(t, Path("models/iris/1/model.onnx"), filepath.Join(dir, "iris", "1", "model.onnx"))
	CopyFile(t, Path("models/iris/config.yaml"), filepath.Join(dir, "iris", "config.yaml"))
	for _, m := range []string{"dtypes", "half", "scalar", "strings", "zipmap", "slow"} {
		CopyFile(t, Path("runtime/testdata", m+".onnx"), filepath.Join(dir, m, "model.onnx"))
	}
	WriteFile(t, filepath.Join(dir, "halfid", "model.onnx"), string(halfIdentityModel()))
	return dir
}

// halfIdentityModel is an ONNX graph y16 = Identity(x16) (FLOAT16),
// yb = Identity(xb) (BFLOAT16), both of shape [N]: the shipped test models
// have no half-precision input. Hand-encoded protobuf, as Python's onnx is
// not a test dependency.
func halfIdentityModel() []byte {
	tensor := func(name string, elem uint64) []byte {
		dim := pbBytes(nil, 2, []byte("N"))                                   // Dimension.dim_param
		shape := pbBytes(nil, 1, dim)                                         // TensorShapeProto.dim
		tt := pbBytes(pbInt(nil, 1, elem), 2, shape)                          // TypeProto.Tensor{elem_type, shape}
		return pbBytes(pbBytes(nil, 1, []byte(name)), 2, pbBytes(nil, 1, tt)) // ValueInfoProto{name, type}
	}
	node := func(in, out string) []byte {
		n := pbBytes(nil, 1, []byte(in))
		n = pbBytes(n, 2, []byte(out))
		return pbBytes(n, 4, []byte("Identity"))
	}
	g := pbBytes(nil, 1, node("x16", "y16"))
	g = pbBytes(g, 1, node("xb", "yb"))
	g = pbBytes(g, 2, []byte("halfid"))
	g = pbBytes(g, 11, tensor("x16", 10)) // FLOAT16
	g = pbBytes(g, 11, tensor("xb", 16))  // BFLOAT16
	g = pbBytes(g, 12, tensor("y16", 10))
	g = pbBytes(g, 12, tensor("yb", 16))
	m := pbInt(nil, 1, 8)                                 // ir_version
	m = pbBytes(m, 8, pbBytes(pbInt(nil, 2, 17), 1, nil)) // opset_import {version 17, domain ""}
	return pbBytes(m, 7, g)                               // graph
}

// BroadcastModel is an ONNX graph z = Add(x, y) of x FLOAT [N] and y FLOAT
// [3]: it loads, but ONNX broadcasting lets it run only when N is 1 or 3,
// so that a run at batch 2, a warmup's for instance, fails in ONNX Runtime
// itself. Hand-encoded, as halfIdentityModel.
func BroadcastModel() []byte {
	tensor := func(name string, dim []byte) []byte {
		tt := pbBytes(pbInt(nil, 1, 1), 2, pbBytes(nil, 1, dim))              // TypeProto.Tensor{FLOAT, shape{dim}}
		return pbBytes(pbBytes(nil, 1, []byte(name)), 2, pbBytes(nil, 1, tt)) // ValueInfoProto{name, type}
	}
	n := pbBytes(nil, 2, []byte("N")) // Dimension.dim_param
	three := pbInt(nil, 1, 3)         // Dimension.dim_value
	node := pbBytes(pbBytes(pbBytes(pbBytes(nil, 1, []byte("x")), 1, []byte("y")), 2, []byte("z")), 4, []byte("Add"))
	g := pbBytes(nil, 1, node)
	g = pbBytes(g, 2, []byte("broadcast"))
	g = pbBytes(g, 11, tensor("x", n))
	g = pbBytes(g, 11, tensor("y", three))
	g = pbBytes(g, 12, tensor("z", three))
	m := pbInt(nil, 1, 8)                                 // ir_version
	m = pbBytes(m, 8, pbBytes(pbInt(nil, 2, 17), 1, nil)) // opset_import {version 17, domain ""}
	return pbBytes(m, 7, g)                               // graph
}

func pbVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// pbBytes appends a length-delimited field.
func pbBytes(b []byte, field int, payload []byte) []byte {
	b = pbVarint(b, uint64(field)<<3|2)
	b = pbVarint(b, uint64(len(payload)))
	return append(b, payload...)
}

// pbInt appends a varint field.
func pbInt(b []byte, field int, v uint64) []byte {
	return pbVarint(pbVarint(b, uint64(field)<<3), v)
}

// WriteFile writes content to path, making its directory.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// CopyFile copies a file, making the directory of to.
func CopyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, to, string(b))
}

// WithModelVersion is an ONNX file's bytes with model_version v appended
// (ModelProto field 5): the same graph, which the metadata then shows as
// version v and the repository sees as a changed file.
func WithModelVersion(model []byte, v uint64) []byte {
	return pbInt(append([]byte{}, model...), 5, v)
}
