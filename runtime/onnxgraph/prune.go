package onnxgraph

import (
	"fmt"
	"math/bits"

	"google.golang.org/protobuf/encoding/protowire"
)

// Nodes is a set of a graph's nodes, by their index in it.
type Nodes []uint64

func newNodes(n int) Nodes { return make(Nodes, (n+63)/64) }

func (s Nodes) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }
func (s Nodes) add(i int)      { s[i/64] |= 1 << (i % 64) }

// Len is how many nodes s holds.
func (s Nodes) Len() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// Union is the nodes of s and t, sets of the same graph.
func (s Nodes) Union(t Nodes) Nodes {
	u := make(Nodes, max(len(s), len(t)))
	copy(u, s)
	for i, w := range t {
		u[i] |= w
	}
	return u
}

// Needs is the nodes that computing outputs takes.
func (g *Graph) Needs(outputs ...string) (Nodes, error) {
	keep, _, err := g.reach(outputs)
	return keep, err
}

// reach walks back from outputs over what each node reads: the nodes it
// takes to compute them, and every value those nodes read (outputs
// included).
func (g *Graph) reach(outputs []string) (Nodes, map[string]bool, error) {
	keep := newNodes(len(g.nodes))
	read := map[string]bool{}
	next := make([]string, 0, len(outputs))
	for _, o := range outputs {
		if !g.isOutput(o) {
			return nil, nil, fmt.Errorf("%q is not an output of the graph", o)
		}
		next = append(next, o)
	}
	for len(next) > 0 {
		name := next[len(next)-1]
		next = next[:len(next)-1]
		if read[name] {
			continue
		}
		read[name] = true
		if i, ok := g.producer[name]; ok && !keep.has(i) {
			keep.add(i)
			next = append(next, g.nodes[i].reads...)
		}
	}
	return keep, read, nil
}

func (g *Graph) isOutput(name string) bool {
	for _, o := range g.outputs {
		if o == name {
			return true
		}
	}
	return false
}

// Pruned is a model cut down to some of its outputs.
type Pruned struct {
	// Model is the ModelProto with only the nodes the outputs need, nil
	// when they need every node: then the whole model computes nothing
	// more than they take, and serves them as it is.
	Model []byte
	// Kept of Total nodes of the main graph are in Model.
	Kept, Total int
}

// Prune cuts the model down to outputs: its graph keeps those outputs
// alone, the nodes they need (reached back over each node's inputs and
// the outer values its subgraphs read), and the initializers and
// value_info still about a value it holds. Every input stays, so that
// what the model takes does not change; every other field of the model
// and of its graph is copied as it came.
func (g *Graph) Prune(outputs ...string) (Pruned, error) {
	keep, read, err := g.reach(outputs)
	if err != nil {
		return Pruned{}, err
	}
	p := Pruned{Kept: keep.Len(), Total: len(g.nodes)}
	if p.Kept == p.Total {
		return p, nil
	}
	held := read // the values the cut graph holds: read, made or taken
	for i, n := range g.nodes {
		if keep.has(i) {
			for _, o := range n.outputs {
				held[o] = true
			}
		}
	}
	for name := range g.inputs {
		held[name] = true
	}
	wanted := make(map[string]bool, len(outputs))
	for _, o := range outputs {
		wanted[o] = true
	}
	graph := make([]byte, 0, len(g.model))
	for _, f := range g.fields {
		if g.keeps(f, keep, held, wanted) {
			graph = append(graph, f.raw...)
		}
	}
	p.Model = make([]byte, 0, len(g.model))
	err = eachField(g.model, func(num protowire.Number, _ protowire.Type, _, raw []byte) error {
		if num != modelGraph {
			p.Model = append(p.Model, raw...)
			return nil
		}
		p.Model = protowire.AppendTag(p.Model, modelGraph, protowire.BytesType)
		p.Model = protowire.AppendBytes(p.Model, graph)
		return nil
	})
	return p, err
}

// keeps says whether the cut graph keeps field f. An initializer of the
// same name as an input (its default, IR 4 and later) stays with the
// input, or the input would turn required.
func (g *Graph) keeps(f field, keep Nodes, held, wanted map[string]bool) bool {
	switch f.num {
	case graphNode:
		return keep.has(f.node)
	case graphInitializer, graphSparseInitializer, graphValueInfo:
		return held[f.name]
	case graphOutput:
		return wanted[f.name]
	}
	return true
}
