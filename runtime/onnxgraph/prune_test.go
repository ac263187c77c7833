package onnxgraph

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// listing is what a model's main graph holds, as the test reads it on its
// own (lister below): each node as "op:outputs", initializer, input and
// output names.
type listing struct {
	nodes, initializers, inputs, outputs []string
}

func TestPrune(t *testing.T) {
	for _, tc := range []struct {
		model   string
		outputs []string
		want    listing // nodes, initializers and outputs; inputs are all the model's
		total   int
	}{
		{"runtime/testdata/branches.onnx", []string{"ok"},
			listing{nodes: []string{"Mul:ok"}, initializers: []string{"two"}, outputs: []string{"ok"}}, 3},
		{"runtime/testdata/branches.onnx", []string{"picky"},
			listing{nodes: []string{"Cast:index", "Gather:picky"}, initializers: []string{"table"}, outputs: []string{"picky"}}, 3},
		// The If reads shift, big and scale only inside its branches, big
		// and scale only in the nested If's.
		{"runtime/testdata/scoped.onnx", []string{"branched"},
			listing{nodes: []string{"Add:shift", "ReduceSum:total", "Greater:positive", "Greater:big", "If:branched"},
				initializers: []string{"one", "zero", "ten", "scale"}, outputs: []string{"branched"}}, 6},
		{"runtime/testdata/scoped.onnx", []string{"plain"},
			listing{nodes: []string{"Mul:plain"}, initializers: []string{"three"}, outputs: []string{"plain"}}, 6},
		{"models/tabular/model.onnx", []string{"score"},
			listing{nodes: []string{"MatMul:linear", "Gather:bias", "Add:logit", "Sigmoid:score"},
				initializers: []string{"weights", "purpose_bias"}, outputs: []string{"score"}}, 9},
		// The outputs keep the graph's order, whatever the order asked.
		{"models/tabular/model.onnx", []string{"flag", "score"},
			listing{nodes: []string{"MatMul:linear", "Gather:bias", "Add:logit", "Sigmoid:score", "Greater:flag"},
				initializers: []string{"weights", "purpose_bias", "threshold"}, outputs: []string{"score", "flag"}}, 9},
		{"models/tabular/model.onnx", []string{"bucket"},
			listing{nodes: []string{"MatMul:linear", "Gather:bias", "Add:logit", "Sigmoid:score", "Unsqueeze:score_col",
				"Greater:above", "Cast:above_i64", "ReduceSum:bucket"},
				initializers: []string{"weights", "purpose_bias", "edges", "axis1"}, outputs: []string{"bucket"}}, 9},
		{"models/iris/1/model.onnx", []string{"probabilities"},
			listing{nodes: []string{"Gemm:logits", "Softmax:probabilities"}, initializers: []string{"coef", "intercept"},
				outputs: []string{"probabilities"}}, 3},
		{"runtime/testdata/zipmap.onnx", []string{"output_probability"},
			listing{nodes: []string{"Softmax:probabilities", "ZipMap:output_probability"}, outputs: []string{"output_probability"}}, 3},
		// Every input stays, read or not.
		{"runtime/testdata/dtypes.onnx", []string{"s_out"},
			listing{nodes: []string{"Identity:s_out"}, outputs: []string{"s_out"}}, 12},
	} {
		t.Run(filepath.Base(tc.model)+"/"+strings.Join(tc.outputs, ","), func(t *testing.T) {
			model := readModel(t, tc.model)
			g, err := Parse(model)
			if err != nil {
				t.Fatal(err)
			}
			p, err := g.Prune(tc.outputs...)
			if err != nil {
				t.Fatal(err)
			}
			if p.Model == nil || p.Kept != len(tc.want.nodes) || p.Total != tc.total {
				t.Fatalf("kept %d of %d nodes (model %d bytes), want %d of %d", p.Kept, p.Total, len(p.Model), len(tc.want.nodes), tc.total)
			}
			got, whole := lister(t, p.Model), lister(t, model)
			tc.want.inputs = whole.inputs
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"nodes", got.nodes, tc.want.nodes}, {"initializers", got.initializers, tc.want.initializers},
				{"inputs", got.inputs, tc.want.inputs}, {"outputs", got.outputs, tc.want.outputs},
			} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
				}
			}
			if n, err := g.Needs(tc.outputs...); err != nil || n.Len() != p.Kept {
				t.Errorf("Needs: %d nodes (%v), Prune kept %d", n.Len(), err, p.Kept)
			}
			// Cut again to the same outputs, the cut graph is whole.
			again, err := Parse(p.Model)
			if err != nil {
				t.Fatal(err)
			}
			if q, err := again.Prune(tc.outputs...); err != nil || q.Model != nil || q.Kept != p.Kept {
				t.Errorf("pruned again: kept %d of %d, model %d bytes (%v); want the whole graph", q.Kept, q.Total, len(q.Model), err)
			}
		})
	}
}

// TestPruneWhole: outputs that need every node are said to, with no model.
func TestPruneWhole(t *testing.T) {
	for _, tc := range []struct {
		model   string
		outputs []string
	}{
		{"runtime/testdata/branches.onnx", []string{"ok", "picky"}},
		{"runtime/testdata/branches.onnx", []string{"picky", "ok", "ok"}},
		{"runtime/testdata/scoped.onnx", []string{"plain", "branched"}},
		{"models/tabular/model.onnx", []string{"flag", "bucket"}},
	} {
		g, err := Parse(readModel(t, tc.model))
		if err != nil {
			t.Fatal(err)
		}
		p, err := g.Prune(tc.outputs...)
		if err != nil || p.Model != nil || p.Kept != p.Total || p.Total != g.Nodes() {
			t.Errorf("%s %v: kept %d of %d, model %d bytes (%v); want the whole graph", tc.model, tc.outputs, p.Kept, p.Total, len(p.Model), err)
		}
	}
}

func TestPruneUnknownOutput(t *testing.T) {
	g, err := Parse(readModel(t, "runtime/testdata/branches.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, outs := range [][]string{{"x"}, {"ok", "index"}, {""}} {
		if _, err := g.Prune(outs...); err == nil || !strings.Contains(err.Error(), "not an output") {
			t.Errorf("Prune(%q): %v, want not an output", outs, err)
		}
	}
}

// TestPruneHandMade covers what the exported models lack, on graphs
// encoded here: an optional input left out ("") reads nothing, though a
// node leaves an optional output out too; a branch that returns an outer
// value as it is reads it; an initializer that is an input's default stays
// with the input; fields this reader does not know are copied as they are.
func TestPruneHandMade(t *testing.T) {
	noOutput := nodeProto("Split", []string{"x"}, []string{"", "w"})
	clip := nodeProto("Clip", []string{"x", "", "hi"}, []string{"y"})
	passThrough := graphProto(nil, nil, nil, []string{"shift"}) // a branch of no node, returning shift
	shift := nodeProto("Add", []string{"x", "one"}, []string{"shift"})
	branch := attrGraph(nodeProto("If", []string{"cond"}, []string{"out"}), passThrough)
	neg := nodeProto("Neg", []string{"x"}, []string{"other"})
	// Field 14 (quantization_annotation) of the graph, and 30 of the model:
	// one this reader knows nothing of, and one no ONNX version has.
	unknown := protowire.AppendBytes(protowire.AppendTag(nil, 14, protowire.BytesType), []byte("annotation"))

	for _, tc := range []struct {
		name      string
		graph     []byte
		outputs   []string
		wantNodes []string
		wantInits []string
	}{
		{"empty names read nothing", graphProto([][]byte{noOutput, clip}, []string{"hi"}, []string{"x"}, []string{"y", "w"}),
			[]string{"y"}, []string{"Clip:y"}, []string{"hi"}},
		{"a branch returns an outer value", graphProto([][]byte{shift, branch, neg}, []string{"one"}, []string{"x", "cond"}, []string{"out", "other"}),
			[]string{"out"}, []string{"Add:shift", "If:out"}, []string{"one"}},
		{"an input's default stays", graphProto([][]byte{shift, neg}, []string{"one", "bias"}, []string{"x", "bias"}, []string{"shift", "other"}),
			[]string{"other"}, []string{"Neg:other"}, []string{"bias"}},
		{"unknown fields are copied", append(graphProto([][]byte{shift, neg}, []string{"one"}, []string{"x"}, []string{"shift", "other"}), unknown...),
			[]string{"other"}, []string{"Neg:other"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			model := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 8) // ir_version
			model = protowire.AppendBytes(protowire.AppendTag(model, modelGraph, protowire.BytesType), tc.graph)
			model = protowire.AppendBytes(protowire.AppendTag(model, 30, protowire.BytesType), []byte("future"))
			g, err := Parse(model)
			if err != nil {
				t.Fatal(err)
			}
			p, err := g.Prune(tc.outputs...)
			if err != nil || p.Model == nil {
				t.Fatalf("kept %d of %d (%v)", p.Kept, p.Total, err)
			}
			got := lister(t, p.Model)
			if !slices.Equal(got.nodes, tc.wantNodes) || !slices.Equal(got.initializers, tc.wantInits) || !slices.Equal(got.outputs, tc.outputs) {
				t.Errorf("kept %q, initializers %q, outputs %q; want %q, %q, %q", got.nodes, got.initializers, got.outputs, tc.wantNodes, tc.wantInits, tc.outputs)
			}
			if !bytes.HasSuffix(p.Model, []byte("future")) || bytes.Contains(tc.graph, unknown) != bytes.Contains(p.Model, unknown) {
				t.Error("a field the reader does not know was not copied")
			}
		})
	}
}

// TestParseRefuses: a model this reader cannot read is an error, not a
// guess.
func TestParseRefuses(t *testing.T) {
	g := graphProto([][]byte{nodeProto("Neg", []string{"x"}, []string{"y"})}, nil, []string{"x"}, []string{"y"})
	twice := protowire.AppendBytes(protowire.AppendTag(nil, modelGraph, protowire.BytesType), g)
	twice = append(twice, twice...)
	nodeAsVarint := protowire.AppendVarint(protowire.AppendTag(nil, graphNode, protowire.VarintType), 1)
	deep := graphProto(nil, nil, nil, []string{"x"})
	for range maxDepth + 1 {
		deep = graphProto([][]byte{attrGraph(nodeProto("If", []string{"c"}, []string{"x"}), deep)}, nil, nil, []string{"x"})
	}
	for _, tc := range []struct {
		name  string
		model []byte
		want  string
	}{
		{"no graph", protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 8), "no graph"},
		{"two graphs", twice, "2 graph fields"},
		{"truncated", twice[:len(twice)/2-3], "field 7"},
		{"a node of the wrong wire type", protowire.AppendBytes(protowire.AppendTag(nil, modelGraph, protowire.BytesType), nodeAsVarint), "wire type"},
		{"too deep", protowire.AppendBytes(protowire.AppendTag(nil, modelGraph, protowire.BytesType), deep), "nest more than"},
	} {
		if _, err := Parse(tc.model); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func readModel(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lister reads model's main graph with protowire alone, as onnx.proto has
// it (ModelProto.graph 7; GraphProto node 1, initializer 5, input 11,
// output 12; NodeProto output 2, op_type 4; TensorProto and
// ValueInfoProto names 8 and 1), apart from the code under test.
func lister(t *testing.T, model []byte) listing {
	t.Helper()
	fields := func(b []byte, f func(protowire.Number, []byte)) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				t.Fatalf("bad tag: %v", protowire.ParseError(n))
			}
			m := protowire.ConsumeFieldValue(num, typ, b[n:])
			if m < 0 {
				t.Fatalf("field %d: %v", num, protowire.ParseError(m))
			}
			if typ == protowire.BytesType {
				v, _ := protowire.ConsumeBytes(b[n:])
				f(num, v)
			}
			b = b[n+m:]
		}
	}
	str := func(b []byte, num protowire.Number) (s string) {
		fields(b, func(n protowire.Number, v []byte) {
			if n == num {
				s = string(v)
			}
		})
		return s
	}
	var l listing
	fields(model, func(num protowire.Number, g []byte) {
		if num != 7 {
			return
		}
		fields(g, func(num protowire.Number, v []byte) {
			switch num {
			case 1:
				var outs []string
				fields(v, func(n protowire.Number, o []byte) {
					if n == 2 {
						outs = append(outs, string(o))
					}
				})
				l.nodes = append(l.nodes, str(v, 4)+":"+strings.Join(outs, ","))
			case 5:
				l.initializers = append(l.initializers, str(v, 8))
			case 11:
				l.inputs = append(l.inputs, str(v, 1))
			case 12:
				l.outputs = append(l.outputs, str(v, 1))
			}
		})
	})
	return l
}

// The hand encoders of TestPruneHandMade: a NodeProto, a GraphProto (and a
// node with a graph attribute), field numbers as in lister.
func nodeProto(op string, inputs, outputs []string) []byte {
	var b []byte
	for _, in := range inputs {
		b = protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), in)
	}
	for _, out := range outputs {
		b = protowire.AppendString(protowire.AppendTag(b, 2, protowire.BytesType), out)
	}
	return protowire.AppendString(protowire.AppendTag(b, 4, protowire.BytesType), op)
}

func graphProto(nodes [][]byte, initializers, inputs, outputs []string) []byte {
	var b []byte
	named := func(b []byte, field, nameField protowire.Number, name string) []byte {
		msg := protowire.AppendString(protowire.AppendTag(nil, nameField, protowire.BytesType), name)
		return protowire.AppendBytes(protowire.AppendTag(b, field, protowire.BytesType), msg)
	}
	for _, n := range nodes {
		b = protowire.AppendBytes(protowire.AppendTag(b, 1, protowire.BytesType), n)
	}
	for _, name := range initializers {
		b = named(b, 5, 8, name)
	}
	for _, name := range inputs {
		b = named(b, 11, 1, name)
	}
	for _, name := range outputs {
		b = named(b, 12, 1, name)
	}
	return b
}

// attrGraph adds to node an attribute (NodeProto 5) holding g
// (AttributeProto.g, 6), as If's then_branch.
func attrGraph(n, g []byte) []byte {
	attr := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "then_branch")
	attr = protowire.AppendBytes(protowire.AppendTag(attr, 6, protowire.BytesType), g)
	return protowire.AppendBytes(protowire.AppendTag(n, 5, protowire.BytesType), attr)
}
