// Package onnxgraph reads an ONNX model's graph at the protobuf wire level
// and cuts it down to the nodes some of its outputs need (prune.go). ONNX
// Runtime's inference builds run every node of a session's graph whatever
// a run fetches, so a run that should compute only some outputs needs a
// session over a graph that holds only their nodes (runtime/pruned.go).
//
// Only the fields that say which values a node reads and makes are
// decoded; every other field is copied as it came, byte for byte, so
// nothing of a model this reader does not know is lost or changed. Pure
// Go: no ONNX Runtime, no generated ONNX code.
package onnxgraph

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers from onnx.proto (onnx 1.12 as Debian's python3-onnx ships
// it; none has changed since IR version 3).
const (
	modelGraph = 7 // ModelProto.graph

	graphNode              = 1  // GraphProto.node
	graphInitializer       = 5  // GraphProto.initializer
	graphInput             = 11 // GraphProto.input
	graphOutput            = 12 // GraphProto.output
	graphValueInfo         = 13 // GraphProto.value_info
	graphSparseInitializer = 15 // GraphProto.sparse_initializer

	nodeInput     = 1 // NodeProto.input
	nodeOutput    = 2 // NodeProto.output
	nodeAttribute = 5 // NodeProto.attribute

	attributeGraph  = 6  // AttributeProto.g: If's branches
	attributeGraphs = 11 // AttributeProto.graphs

	valueInfoName      = 1 // ValueInfoProto.name
	tensorName         = 8 // TensorProto.name
	sparseTensorValues = 1 // SparseTensorProto.values, a TensorProto holding the name
)

// maxDepth bounds how deeply subgraphs may nest (a Loop in an If in a
// Scan...): real models nest a few levels, and a crafted file must not
// make the reader recurse without end.
const maxDepth = 64

// Graph is a model's main graph, read: which node makes and reads which
// values, and every field of the GraphProto as it came, for Prune to copy.
type Graph struct {
	model  []byte  // the ModelProto
	fields []field // the GraphProto's, in order
	nodes  []node
	// producer is the node that makes each value.
	producer map[string]int
	inputs   map[string]bool
	outputs  []string
}

// field is one field of the GraphProto.
type field struct {
	num protowire.Number
	raw []byte // tag and value, as they came
	// name is the value an initializer, sparse initializer, input, output
	// or value_info is about.
	name string
	node int // a node's index in Graph.nodes
}

// node is what a NodeProto reads and makes.
type node struct {
	// reads are its inputs (an empty name is an optional input left out,
	// not a value) and every value of an outer scope its subgraphs read.
	reads   []string
	outputs []string
}

// Parse reads model, a serialized ModelProto. It refuses a model whose
// graph field appears more than once, which protobuf would merge and this
// reader does not.
func Parse(model []byte) (*Graph, error) {
	var graph []byte
	count := 0
	err := eachField(model, func(num protowire.Number, typ protowire.Type, val, _ []byte) error {
		if num != modelGraph {
			return nil
		}
		count++
		graph = val
		return wantBytes("ModelProto.graph", typ)
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("model: %w", err)
	case count == 0:
		return nil, errors.New("model has no graph")
	case count > 1:
		return nil, fmt.Errorf("model has %d graph fields, which protobuf merges into one: not read", count)
	}
	g := &Graph{model: model, producer: map[string]int{}, inputs: map[string]bool{}}
	if err := eachField(graph, g.read); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return g, nil
}

// read takes in one field of the main graph.
func (g *Graph) read(num protowire.Number, typ protowire.Type, val, raw []byte) error {
	f := field{num: num, raw: raw, node: -1}
	var err error
	switch num {
	case graphNode:
		if err := wantBytes("GraphProto.node", typ); err != nil {
			return err
		}
		n, err := readNode(val, 0)
		if err != nil {
			return fmt.Errorf("node %d: %w", len(g.nodes), err)
		}
		f.node = len(g.nodes)
		for _, o := range n.outputs {
			g.producer[o] = f.node
		}
		g.nodes = append(g.nodes, n)
	case graphInitializer:
		f.name, err = named("GraphProto.initializer", typ, val, tensorName)
	case graphSparseInitializer:
		f.name, err = sparseName(typ, val)
	case graphInput:
		f.name, err = named("GraphProto.input", typ, val, valueInfoName)
		g.inputs[f.name] = true
	case graphOutput:
		f.name, err = named("GraphProto.output", typ, val, valueInfoName)
		g.outputs = append(g.outputs, f.name)
	case graphValueInfo:
		f.name, err = named("GraphProto.value_info", typ, val, valueInfoName)
	}
	if err != nil {
		return err
	}
	g.fields = append(g.fields, f)
	return nil
}

// Nodes is how many nodes the graph has.
func (g *Graph) Nodes() int { return len(g.nodes) }

// Outputs are the graph's outputs, in order.
func (g *Graph) Outputs() []string { return slices.Clone(g.outputs) }

// readNode reads a NodeProto at the given subgraph depth (0: the main
// graph's).
func readNode(b []byte, depth int) (node, error) {
	var n node
	err := eachField(b, func(num protowire.Number, typ protowire.Type, val, _ []byte) error {
		switch num {
		case nodeInput, nodeOutput:
			if err := wantBytes("NodeProto input or output", typ); err != nil {
				return err
			}
			if len(val) == 0 {
				return nil
			}
			if num == nodeInput {
				n.reads = append(n.reads, string(val))
			} else {
				n.outputs = append(n.outputs, string(val))
			}
		case nodeAttribute:
			if err := wantBytes("NodeProto.attribute", typ); err != nil {
				return err
			}
			outer, err := attributeReads(val, depth)
			if err != nil {
				return err
			}
			n.reads = append(n.reads, outer...)
		}
		return nil
	})
	return n, err
}

// attributeReads are the outer-scope values read by the subgraphs an
// AttributeProto holds (g, graphs), if any.
func attributeReads(b []byte, depth int) ([]string, error) {
	var reads []string
	err := eachField(b, func(num protowire.Number, typ protowire.Type, val, _ []byte) error {
		if num != attributeGraph && num != attributeGraphs {
			return nil
		}
		if err := wantBytes("AttributeProto graph", typ); err != nil {
			return err
		}
		outer, err := scopeReads(val, depth+1)
		reads = append(reads, outer...)
		return err
	})
	return reads, err
}

// scopeReads are the values a subgraph reads that it does not make itself
// (by its nodes, inputs or initializers): those of the scopes around it.
// Its outputs count as reads, since a branch may return an outer value
// as it is.
func scopeReads(b []byte, depth int) ([]string, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("subgraphs nest more than %d deep", maxDepth)
	}
	made := map[string]bool{}
	var reads []string
	err := eachField(b, func(num protowire.Number, typ protowire.Type, val, _ []byte) error {
		var name string
		var err error
		switch num {
		case graphNode:
			if err := wantBytes("GraphProto.node", typ); err != nil {
				return err
			}
			n, err := readNode(val, depth)
			if err != nil {
				return err
			}
			reads = append(reads, n.reads...)
			for _, o := range n.outputs {
				made[o] = true
			}
			return nil
		case graphInitializer:
			name, err = named("GraphProto.initializer", typ, val, tensorName)
		case graphSparseInitializer:
			name, err = sparseName(typ, val)
		case graphInput:
			name, err = named("GraphProto.input", typ, val, valueInfoName)
		case graphOutput:
			name, err = named("GraphProto.output", typ, val, valueInfoName)
			if name != "" {
				reads = append(reads, name)
			}
			return err
		default:
			return nil
		}
		made[name] = true
		return err
	})
	if err != nil {
		return nil, err
	}
	outer := reads[:0]
	for _, r := range reads {
		if !made[r] {
			made[r] = true // listed once
			outer = append(outer, r)
		}
	}
	return outer, nil
}

// named reads the string field num of the message val (field what): a
// value's name. proto2 keeps the last of a field given twice, as here.
func named(what string, typ protowire.Type, val []byte, num protowire.Number) (string, error) {
	if err := wantBytes(what, typ); err != nil {
		return "", err
	}
	var name string
	err := eachField(val, func(n protowire.Number, t protowire.Type, v, _ []byte) error {
		if n != num {
			return nil
		}
		name = string(v)
		return wantBytes(what+" name", t)
	})
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return name, nil
}

// sparseName is a SparseTensorProto's name: that of its values tensor.
func sparseName(typ protowire.Type, val []byte) (string, error) {
	const what = "GraphProto.sparse_initializer"
	if err := wantBytes(what, typ); err != nil {
		return "", err
	}
	var name string
	err := eachField(val, func(n protowire.Number, t protowire.Type, v, _ []byte) error {
		if n != sparseTensorValues {
			return nil
		}
		var err error
		name, err = named(what+".values", t, v, tensorName)
		return err
	})
	return name, err
}

func wantBytes(what string, typ protowire.Type) error {
	if typ != protowire.BytesType {
		return fmt.Errorf("%s has wire type %d, want %d (length-delimited)", what, typ, protowire.BytesType)
	}
	return nil
}

// eachField calls f with every field of the message b: its number, wire
// type, value (a length-delimited field's contents; nil for the others)
// and the whole field as it came, tag included.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, val, raw []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(m))
		}
		var val []byte
		if typ == protowire.BytesType {
			val, _ = protowire.ConsumeBytes(b[n:])
		}
		if err := f(num, typ, val, b[:n+m]); err != nil {
			return err
		}
		b = b[n+m:]
	}
	return nil
}
