package inference

import (
	"strings"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Readiness, metadata and model control, for every front end.

// Platform is Triton's platform name for models run by ONNX Runtime, as the
// Open Inference Protocol's model metadata gives it.
const Platform = "onnxruntime_onnx"

// ExecutionProviderParameter is the model metadata parameter naming the
// execution provider the version runs on, in gRPC's parameters map as in
// the v2 REST body's parameters.execution_provider.
const ExecutionProviderParameter = "execution_provider"

// Described lists what the Open Inference Protocol can describe of specs:
// every tensor with a v2 datatype, leaving out ZipMap's sequences of maps.
func Described(specs []tensor.TensorSpec) []tensor.TensorSpec {
	out := make([]tensor.TensorSpec, 0, len(specs))
	for _, s := range specs {
		if s.DType.V2Name() != "" {
			out = append(out, s)
		}
	}
	return out
}

// Ready is true when every model that should be loaded is and the server
// is not shutting down: every readiness probe, REST and gRPC, asks here.
func (c *Core) Ready() bool { return !c.draining.Load() && c.repo.Ready() }

// Drain marks the server as shutting down: it is not ready from now on,
// so that load balancers send it no new work, and it goes on serving what
// still comes until its listeners close.
func (c *Core) Drain() { c.draining.Store(true) }

// Draining is true once Drain was called.
func (c *Core) Draining() bool { return c.draining.Load() }

// ModelReady reports whether a model version can serve: nil, or a
// NotFound error for an unknown or unloaded one, or FailedPrecondition for
// one that failed to load.
func (c *Core) ModelReady(name, version string) error {
	err := c.Find(name, version)
	if e := From(err); e != nil && e.Kind == Unavailable {
		return &Error{Kind: FailedPrecondition, Message: "model version not ready: " + e.Message, Err: e.Err}
	}
	return err
}

// Models lists every model in name order, loaded or failed to load.
func (c *Core) Models() []runtime.ModelStatus { return c.repo.Status() }

// Generation changes whenever the set of served models changes, so that
// what is built from Models (the API docs) knows when to rebuild.
func (c *Core) Generation() uint64 { return c.repo.Generation() }

// Versions lists the served versions of a model, ascending.
func (c *Core) Versions(name string) []string { return c.repo.Versions(name) }

// Index lists every model on disk or served with its state; readyOnly
// keeps only the versions ready for inference.
func (c *Core) Index(readyOnly bool) ([]runtime.IndexEntry, error) {
	idx, err := c.repo.Index()
	if err != nil {
		return nil, From(err)
	}
	if !readyOnly {
		return idx, nil
	}
	ready := idx[:0]
	for _, e := range idx {
		if e.State == runtime.StateReady {
			ready = append(ready, e)
		}
	}
	return ready, nil
}

// Load loads a model, or reloads it when its files changed, when the
// model-control mode allows it. params are the names of the parameters
// the request sent: a model's files and config.yaml are always read from
// the repository, so Triton's "config" and "file:" overrides are refused.
func (c *Core) Load(name string, params []string) error {
	if err := c.CheckControl(); err != nil {
		return err
	}
	for _, p := range params {
		if p == "config" || strings.HasPrefix(p, "file:") {
			return Errorf(InvalidArgument, "load parameter '%s' is not supported: a model's files and config.yaml are read from the repository", p)
		}
	}
	return fail(c.repo.Load(name))
}

// Unload takes a model out of service, when the model-control mode allows
// it. Models have no dependents, so "unload_dependents" changes nothing.
func (c *Core) Unload(name string) error {
	if err := c.CheckControl(); err != nil {
		return err
	}
	return fail(c.repo.Unload(name))
}

// CheckControl is the model-control policy: only explicit control lets a
// client change the served models; poll follows the directory, none never
// changes them. The words for poll are Triton's. Load and Unload apply
// it; a front end may ask first, to refuse before it reads a request, as
// Triton does.
func (c *Core) CheckControl() error {
	switch c.control {
	case runtime.ControlExplicit:
		return nil
	case runtime.ControlPoll:
		return Errorf(NotAllowed, "explicit model load / unload is not allowed if polling is enabled")
	}
	return Errorf(NotAllowed, "explicit model load / unload is not allowed: the server runs with --model-control=%s; start it with --model-control=explicit", c.control)
}
