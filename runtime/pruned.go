package runtime

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sync"
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/onnxserve/onnxserve/runtime/onnxgraph"
)

// A pruner makes and keeps a model's sessions over part of its graph, one
// per set of outputs that requests ask for and that need fewer nodes than
// the whole graph has. ONNX Runtime runs every node of a session's graph
// whatever a run fetches (outputs_test.go), so only a session over a graph
// cut down to some outputs (runtime/onnxgraph) computes them alone: an
// output not asked for then costs nothing, and a node of it cannot refuse
// the request. TF Serving caches an executor per feed and fetch set alike.
//
// A set's session is made once, in the background, on the first request
// for the set; until it is ready, requests run on the whole graph's
// session, so that none waits for a session to be made (but one the whole
// graph refused: InferOutputs). At most max are made (pruned_sessions);
// past that the whole graph serves every other set.
type pruner struct {
	m   *Model
	max int
	// needs are the nodes each Signature output needs, and nodes how many
	// the graph has: whether a set would leave any node out is known
	// without reading the model again.
	needs []onnxgraph.Nodes
	nodes int
	// sum is the model file's as it loaded. A session is made from the
	// file read again, not from a copy of the model kept for the model's
	// life (as large as its weights), and only while it is still that file.
	sum  [sha256.Size]byte
	open func(data []byte, outputs []string) (*ort.DynamicAdvancedSession, error)
	log  *slog.Logger

	// sets are the output sets with a session, made or being made, and
	// those found to need every node, by setKey: read on every request
	// without a lock, replaced under mu.
	sets atomic.Pointer[map[string]*prunedSet]
	// sessions counts the sets with a session made or being made, of max;
	// wholes those that need every node, of maxWholeSets.
	sessions, wholes int
	mu               sync.Mutex
	closed           bool
	builds           sync.WaitGroup
	// stopped is set, under mu, once no set is added any more (max
	// sessions made, or closed): a request for a new set then costs no
	// lock.
	stopped atomic.Bool
}

// maxWholeSets bounds the sets a pruner remembers as needing every node,
// so that their requests do not work that out again each time, while
// clients naming ever other sets of outputs cannot grow the map for good.
const maxWholeSets = 16

// prunedSet is the session of one output set.
type prunedSet struct {
	s     atomic.Pointer[session] // nil until made, and for good when making it failed or the set needs every node
	ready chan struct{}           // closed once making it has ended, either way
}

// newPruner returns the model's pruner, or nil when no output set could
// leave a node out (one output, every output needing every node) or
// pruned_sessions is 0. data is the model file; open makes a session of
// a model file computing the outputs named.
func newPruner(m *Model, data []byte, open func([]byte, []string) (*ort.DynamicAdvancedSession, error), log *slog.Logger) *pruner {
	limit := m.Config.prunedSessions()
	if limit == 0 || len(m.Signature.Outputs) < 2 {
		return nil
	}
	g, err := onnxgraph.Parse(data)
	if err != nil {
		// ORT read the file, so this reader is the one at fault: serving
		// goes on, every request on the whole graph.
		log.Warn("graph not read: requests compute every output", "model", m.Name, "version", m.Version, "err", err)
		return nil
	}
	p := &pruner{m: m, max: limit, nodes: g.Nodes(), sum: sha256.Sum256(data), open: open, log: log,
		needs: make([]onnxgraph.Nodes, len(m.Signature.Outputs))}
	fewer := false
	for i, out := range m.Signature.Outputs {
		if p.needs[i], err = g.Needs(out.Name); err != nil {
			log.Warn("graph not read: requests compute every output", "model", m.Name, "version", m.Version, "err", err)
			return nil
		}
		fewer = fewer || p.needs[i].Len() < p.nodes
	}
	if !fewer {
		return nil
	}
	p.sets.Store(&map[string]*prunedSet{})
	return p
}

// setKey is the key of the set of outputs, whatever their order or
// repeats: a bit per Signature output, appended to b. n is how many
// outputs the set holds.
func setKey(b []byte, outputs []int, all int) (key []byte, n int) {
	b = append(b, make([]byte, (all+7)/8)...)
	for _, i := range outputs {
		if b[i/8]&(1<<(i%8)) == 0 {
			b[i/8] |= 1 << (i % 8)
			n++
		}
	}
	return b, n
}

// session is the session of outputs when it is made; when it is not, it
// starts making it if none is and the set leaves a node out.
func (p *pruner) session(outputs []int) (session, bool) {
	var buf [16]byte
	key, n := setKey(buf[:0], outputs, len(p.needs))
	if n == len(p.needs) {
		return session{}, false
	}
	if e, ok := (*p.sets.Load())[string(key)]; ok {
		if s := e.s.Load(); s != nil {
			return *s, true
		}
		return session{}, false
	}
	p.start(key, outputs)
	return session{}, false
}

// start makes the session of outputs in the background, unless the set
// has a session already or max are made; a set that needs every node is
// remembered as one, with no session.
func (p *pruner) start(key []byte, outputs []int) {
	if p.stopped.Load() {
		return
	}
	var needed onnxgraph.Nodes
	var set []int // ascending: the session's outputs in Signature order
	for i := range p.needs {
		if key[i/8]&(1<<(i%8)) != 0 {
			needed = needed.Union(p.needs[i])
			set = append(set, i)
		}
	}
	whole := needed.Len() == p.nodes // nothing to leave out: the whole graph's session is this one
	p.mu.Lock()
	defer p.mu.Unlock()
	sets := *p.sets.Load()
	if _, ok := sets[string(key)]; ok || p.closed || whole && p.wholes >= maxWholeSets || !whole && p.sessions >= p.max {
		return
	}
	e := &prunedSet{ready: make(chan struct{})}
	next := maps.Clone(sets)
	next[string(key)] = e
	p.sets.Store(&next)
	if whole {
		p.wholes++
		close(e.ready)
		return
	}
	p.sessions++
	if p.sessions >= p.max {
		p.stopped.Store(true)
	}
	p.builds.Add(1)
	go p.build(e, set, needed.Len())
}

// build makes e's session, of the outputs set (kept of the graph's nodes).
// Its failure is logged and leaves the set to the whole graph: a model
// that loaded serves on, whatever happens to a session it may do without.
func (p *pruner) build(e *prunedSet, set []int, kept int) {
	defer p.builds.Done()
	defer close(e.ready)
	names := make([]string, len(set))
	for k, i := range set {
		names[k] = p.m.Signature.Outputs[i].Name
	}
	// Loads and other builds at the same time count in: an estimate, as
	// LoadModel's.
	before := residentBytes()
	s, err := p.make(names)
	if err != nil {
		p.log.Warn("session for outputs not made: the whole graph computes them", "model", p.m.Name, "version", p.m.Version,
			"outputs", names, "err", err)
		return
	}
	e.s.Store(&session{ort: s, outputs: set, binds: &bindings{}})
	p.log.Info("session for outputs made", "model", p.m.Name, "version", p.m.Version, "outputs", names,
		"nodes_kept", kept, "nodes", p.nodes, "memory_bytes", max(0, residentBytes()-before))
}

// make reads the model file again and makes a session of its graph cut
// down to outputs.
func (p *pruner) make(outputs []string) (*ort.DynamicAdvancedSession, error) {
	data, err := os.ReadFile(p.m.Path)
	if err != nil {
		return nil, err
	}
	if sha256.Sum256(data) != p.sum {
		return nil, errors.New("the model file changed since it loaded")
	}
	g, err := onnxgraph.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("read graph: %w", err)
	}
	cut, err := g.Prune(outputs...)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	if cut.Model == nil {
		return nil, errors.New("prune: the outputs need every node") // needs said otherwise: not reached
	}
	return p.open(cut.Model, outputs)
}

// wait waits for the session of outputs being made, and returns it; false
// when none is or will be, or ctx ended first.
func (p *pruner) wait(ctx context.Context, outputs []int) (session, bool) {
	var buf [16]byte
	key, _ := setKey(buf[:0], outputs, len(p.needs))
	e, ok := (*p.sets.Load())[string(key)]
	if !ok {
		return session{}, false
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return session{}, false
	}
	if s := e.s.Load(); s != nil {
		return *s, true
	}
	return session{}, false
}

// close waits for the sessions being made and destroys every session.
func (p *pruner) close() error {
	p.mu.Lock()
	p.closed = true
	p.stopped.Store(true)
	p.mu.Unlock()
	p.builds.Wait()
	var errs []error
	for _, e := range *p.sets.Load() {
		if s := e.s.Load(); s != nil {
			s.binds.close() // its IoBindings are the session's
			errs = append(errs, s.ort.Destroy())
		}
	}
	p.sets.Store(&map[string]*prunedSet{})
	return errors.Join(errs...)
}
