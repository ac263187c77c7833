package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/onnxserve/onnxserve/runtime/imagetensor"
	"github.com/onnxserve/onnxserve/runtime/tensor"
	"github.com/onnxserve/onnxserve/runtime/tensorimage"
)

// Model is one loaded version of a model: its signature, its config and the
// one ORT session every request shares (DynamicAdvancedSession is safe for
// concurrent Run; yalue/onnxruntime_go#79).
type Model struct {
	Name      string
	Version   string
	Path      string
	Config    *Config
	Signature tensor.Signature
	Metadata  Metadata
	// Memory is how many bytes the process's resident memory grew by
	// while the session was created and its outputs planned: what the
	// model costs to keep loaded.
	Memory int64
	// ExecutionProvider is what the session runs on: the provider asked
	// for, or CPU when that could not be used (provider.go). ORT may
	// still place single operators the provider lacks on CPU.
	ExecutionProvider Provider

	session *ort.DynamicAdvancedSession
	// pruned makes and keeps the sessions over part of the graph that
	// requests for some outputs run on (pruned.go), or is nil.
	pruned  *pruner
	limiter *Limiter
	// outputs says, per output, how to preallocate it for a given batch.
	outputs []outputPlan
	// batchInput is the input whose dim 0 is the request's batch, or -1.
	batchInput int
	// scores is the output whose last dim holds one score per label, or -1.
	scores int
	// images are how image files become rows of the inputs config.yaml
	// declares images, by name.
	images map[string]imagetensor.Spec
	// batcher merges concurrent requests when dynamic_batching is set.
	batcher *batcher
	// admit bounds the requests waiting to run by max_queue_size, for the
	// batcher and the unbatched path alike.
	admit *admission
	// observer is told about every run that serves requests, or nil.
	observer Observer
	// runOpts recycles ORT RunOptions: creating and destroying one per
	// run is two cgo calls, a measurable share of a 2 µs model run.
	runOpts chan *ort.RunOptions
	// bindings recycles the ORT values of runs (binding.go); nil until
	// the output plan is final, as bindings preallocate by it.
	bindings *bindings
}

// LoadOptions are the server-wide settings a model is loaded with.
type LoadOptions struct {
	Limiter *Limiter
	Logger  *slog.Logger
	// Observer, when set, is told about every run that serves requests.
	Observer Observer
	// ExecutionProvider is what models whose config.yaml names none run
	// on; "" is CPU.
	ExecutionProvider Provider
	// ModelName, when set, makes a repository's directory one model of
	// that name (--model-name; layout.go has the rules). LoadModel
	// ignores it.
	ModelName string
}

// ErrBadModel wraps every reason a model file or its config cannot be served.
var ErrBadModel = errors.New("bad model")

// LoadModel reads an ONNX file, checks it against its config, creates its
// session and warms it up: the runs that plan its outputs, then those of
// the config's warmup, which must all succeed.
func LoadModel(name, version, path string, cfg *Config, opt LoadOptions) (*Model, error) {
	if !ort.IsInitialized() {
		return nil, errNotInitialized
	}
	if cfg == nil {
		cfg = &Config{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	// ReadConfig has checked a config read from disk; one built in code
	// must meet the same rules, or a batcher could run with no bound.
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadModel, path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadModel, err)
	}
	sig, md, err := inspect(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadModel, path, err)
	}
	m := &Model{Name: name, Version: version, Path: path, Config: cfg, Signature: *sig, Metadata: *md,
		limiter: opt.Limiter, admit: newAdmission(name, cfg.MaxQueueSize), observer: opt.Observer,
		batchInput: -1, scores: -1, runOpts: make(chan *ort.RunOptions, 16)}
	if err := m.checkConfig(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadModel, path, err)
	}
	before := residentBytes()
	ep := ExecutionProvider{Name: opt.ExecutionProvider}
	if cfg.ExecutionProvider != nil {
		ep = *cfg.ExecutionProvider
	}
	m.ExecutionProvider, err = chooseProvider(ep, cfg.ExecutionProviderStrict, opt.Logger, name, func(p Provider) error {
		return m.newSession(data, p, ep)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadModel, path, err)
	}
	m.planOutputs(opt.Logger)
	m.bindings = &bindings{}
	m.pruned = newPruner(m, data, func(data []byte, outputs []string) (*ort.DynamicAdvancedSession, error) {
		return m.openSession(data, m.ExecutionProvider, ep, outputs)
	}, opt.Logger)
	// Loads at the same time count each other's growth: an estimate, true
	// when models load one at a time, as at start.
	m.Memory = max(0, residentBytes()-before)
	if cfg.DynamicBatching != nil {
		if err := m.checkBatchable(); err != nil {
			m.Close()
			return nil, fmt.Errorf("%w: %s: dynamic_batching: %w", ErrBadModel, path, err)
		}
		m.batcher = newBatcher(m)
	}
	if err := m.warmUp(opt.Logger); err != nil {
		m.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrBadModel, path, err)
	}
	return m, nil
}

// Inspect reads an ONNX file's signature and metadata without serving it.
func Inspect(path string) (*tensor.Signature, *Metadata, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return inspect(data)
}

func inspect(data []byte) (*tensor.Signature, *Metadata, error) {
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, nil, fmt.Errorf("read inputs and outputs: %w", err)
	}
	sig := &tensor.Signature{}
	for _, in := range ins {
		spec, err := specOf(in)
		if err != nil {
			return nil, nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		if spec.DType == tensor.MapSequence {
			return nil, nil, fmt.Errorf("input %q: sequence and map inputs are not supported", in.Name)
		}
		sig.Inputs = append(sig.Inputs, spec)
	}
	for _, out := range outs {
		spec, err := specOf(out)
		if err != nil {
			return nil, nil, fmt.Errorf("output %q: %w", out.Name, err)
		}
		sig.Outputs = append(sig.Outputs, spec)
	}
	md, err := readMetadata(data)
	if err != nil {
		return nil, nil, fmt.Errorf("read metadata: %w", err)
	}
	return sig, md, nil
}

func specOf(info ort.InputOutputInfo) (tensor.TensorSpec, error) {
	switch info.OrtValueType {
	case ort.ONNXTypeTensor:
		d := dtypeFromORT(info.DataType)
		if d == tensor.Invalid {
			return tensor.TensorSpec{}, fmt.Errorf("element type %v is not supported", info.DataType)
		}
		return tensor.TensorSpec{Name: info.Name, DType: d, Shape: slices.Clone([]int64(info.Dimensions))}, nil
	case ort.ONNXTypeSequence:
		// The wrapper does not say what the sequence holds; sequences of
		// maps (ZipMap) are what classifiers produce, and fromValue
		// rejects anything else at run time.
		return tensor.TensorSpec{Name: info.Name, DType: tensor.MapSequence, Shape: []int64{-1}}, nil
	}
	return tensor.TensorSpec{}, fmt.Errorf("%v values are not supported", info.OrtValueType)
}

func readMetadata(data []byte) (*Metadata, error) {
	meta, err := ort.GetModelMetadataWithONNXData(data)
	if err != nil {
		return nil, err
	}
	defer meta.Destroy()
	md := &Metadata{}
	md.Producer, _ = meta.GetProducerName()
	md.GraphName, _ = meta.GetGraphName()
	md.Domain, _ = meta.GetDomain()
	md.Description, _ = meta.GetDescription()
	md.Version, _ = meta.GetVersion()
	if md.Version == math.MaxInt64 {
		// ONNX Runtime's answer for a file without model_version (the
		// shipped models have none): unset, not a version.
		md.Version = 0
	}
	keys, err := meta.GetCustomMetadataMapKeys()
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if v, ok, _ := meta.LookupCustomMetadataMap(k); ok {
			if md.Custom == nil {
				md.Custom = map[string]string{}
			}
			md.Custom[k] = v
		}
	}
	return md, nil
}

// checkConfig fails when config.yaml promises something the graph lacks.
func (m *Model) checkConfig() error {
	for i, in := range m.Signature.Inputs {
		if len(in.Shape) > 0 && in.Shape[0] == -1 {
			m.batchInput = i
			break
		}
	}
	if f := m.Config.Features; len(f) > 0 {
		if len(m.Signature.Inputs) != 1 {
			return fmt.Errorf("features need a model with one input, this one has %d", len(m.Signature.Inputs))
		}
		in := m.Signature.Inputs[0]
		if len(in.Shape) != 2 || (in.Shape[1] != -1 && in.Shape[1] != int64(len(f))) {
			return fmt.Errorf("%d features need input %q of shape [-1, %d], it has %s", len(f), in.Name, len(f), tensor.FormatShape(in.Shape))
		}
		if !in.DType.IsFloat() && !in.DType.IsInteger() {
			return fmt.Errorf("features need a numeric input, %q is %v", in.Name, in.DType)
		}
	}
	for name, in := range m.Config.Inputs {
		i := m.Signature.Input(name)
		if i < 0 {
			return fmt.Errorf("inputs.%s: not an input; inputs are %s", name, describe(m.Signature.Inputs))
		}
		if in.Image != nil {
			spec, err := imageSpec(m.Signature.Inputs[i], in.Image)
			if err != nil {
				return fmt.Errorf("inputs.%s.image: %w", name, err)
			}
			if m.images == nil {
				m.images = map[string]imagetensor.Spec{}
			}
			m.images[name] = spec
		}
	}
	for name, o := range m.Config.Outputs {
		i := m.Signature.Output(name)
		if i < 0 {
			return fmt.Errorf("outputs.%s: not an output; outputs are %s", name, describe(m.Signature.Outputs))
		}
		if o.Image != nil {
			if err := checkImageOutput(m.Signature.Outputs[i]); err != nil {
				return fmt.Errorf("outputs.%s.image: %w", name, err)
			}
		}
	}
	if l := m.Config.Labels; len(l) > 0 {
		scores := func(out tensor.TensorSpec) bool {
			n := len(out.Shape)
			return out.DType.IsFloat() && n >= 1 && out.Shape[n-1] == int64(len(l))
		}
		if name := m.Config.LabelsOutput; name != "" {
			i := m.Signature.Output(name)
			if i < 0 {
				return fmt.Errorf("labels_output %q is not an output; outputs are %s", name, describe(m.Signature.Outputs))
			}
			if !scores(m.Signature.Outputs[i]) {
				return fmt.Errorf("labels_output %q must be a float output whose last dimension is %d (one score per label), it is %s", name, len(l), describe(m.Signature.Outputs[i:i+1]))
			}
			m.scores = i
			return nil
		}
		var matching []tensor.TensorSpec
		for i, out := range m.Signature.Outputs {
			if scores(out) {
				matching = append(matching, out)
				m.scores = i
			}
		}
		switch {
		case len(matching) == 0:
			return fmt.Errorf("%d labels need a float output whose last dimension is %d; outputs are %s", len(l), len(l), describe(m.Signature.Outputs))
		case len(matching) > 1:
			m.scores = -1
			return fmt.Errorf("%d labels fit several outputs (%s): set labels_output to the one holding their scores", len(l), describe(matching))
		}
	}
	return nil
}

func describe(specs []tensor.TensorSpec) string {
	s := ""
	for i, sp := range specs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %v %s", sp.Name, sp.DType, tensor.FormatShape(sp.Shape))
	}
	return s
}

// newSession creates the model's session on provider p, configured by ep.
func (m *Model) newSession(data []byte, p Provider, ep ExecutionProvider) error {
	s, err := m.openSession(data, p, ep, tensor.Names(m.Signature.Outputs))
	if err != nil {
		return err
	}
	m.session = s
	return nil
}

// openSession creates a session of the model file data, which computes
// outputs, on provider p configured by ep: the model's own, or one over
// part of its graph (pruned.go).
func (m *Model) openSession(data []byte, p Provider, ep ExecutionProvider, outputs []string) (*ort.DynamicAdvancedSession, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	threads := max(m.Config.IntraOpThreads, 1)
	// ORT's default pool is sized from host cores, ignores cgroup quotas and
	// spins: measured 22–41% slower under concurrent requests.
	for _, err := range []error{
		so.SetIntraOpNumThreads(threads),
		so.SetInterOpNumThreads(1),
		so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"),
		so.AddSessionConfigEntry("session.inter_op.allow_spinning", "0"),
		// Every error ORT logs for a session it also returns, and the
		// server logs it (or answers it, when the inputs are at fault)
		// with the model's name; ORT's own line goes to stderr outside
		// slog, once per refused run, so a client could flood the log.
		so.SetLogSeverityLevel(ort.LoggingLevelFatal),
	} {
		if err != nil {
			return nil, fmt.Errorf("session options: %w", err)
		}
	}
	if err := appendProvider(so, p, ep); err != nil {
		return nil, err
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, tensor.Names(m.Signature.Inputs), outputs, so)
	if err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	return s, nil
}

// session is one ORT session of the model: over its whole graph, or over
// the part some of its outputs need (pruned.go).
type session struct {
	ort *ort.DynamicAdvancedSession
	// outputs are the Signature.Outputs indexes of what the session
	// computes, in its order; nil for every output.
	outputs []int
	// binds recycles the ORT values of the session's runs (binding.go),
	// or is nil: the whole graph's until its output plan is final.
	binds *bindings
}

// whole is the session over the model's whole graph.
func (m *Model) whole() session { return session{ort: m.session, binds: m.bindings} }

// count is how many outputs the session computes.
func (s session) count(m *Model) int {
	if s.outputs == nil {
		return len(m.Signature.Outputs)
	}
	return len(s.outputs)
}

// output is the Signature.Outputs index of the session's k-th output.
func (s session) output(k int) int {
	if s.outputs == nil {
		return k
	}
	return s.outputs[k]
}

// Close destroys the sessions, once any being made is. The caller
// guarantees no run is in flight (the Repository's reference counts do).
func (m *Model) Close() error {
	if m.batcher != nil {
		m.batcher.close()
		m.batcher = nil
	}
	if m.bindings != nil {
		m.bindings.close()
	}
	var pruned error
	if m.pruned != nil {
		pruned = m.pruned.close()
		m.pruned = nil
	}
	for len(m.runOpts) > 0 {
		(<-m.runOpts).Destroy()
	}
	if m.session == nil {
		return pruned
	}
	err := m.session.Destroy()
	m.session = nil
	return errors.Join(err, pruned)
}

// ScoresOutput is the index of the output holding one score per label, or
// -1 when the model has no labels.
func (m *Model) ScoresOutput() int { return m.scores }

// Batch returns the batch size of a request, 0 when the model has no
// batched input.
func (m *Model) Batch(inputs []tensor.Tensor) int {
	if m.batchInput < 0 || m.batchInput >= len(inputs) || len(inputs[m.batchInput].Shape) == 0 {
		return 0
	}
	return int(inputs[m.batchInput].Shape[0])
}

// Metadata is the model-level metadata stored in the ONNX file.
type Metadata struct {
	Producer    string
	GraphName   string
	Domain      string
	Description string
	Version     int64 // model_version; 0 when the file sets none
	Custom      map[string]string
}

// RunError is a run failing on the server's account: ORT failing outside a
// node or for want of memory or device, or inputs the decoders should never
// have made (rejected.go has the rule).
type RunError struct {
	Model string
	Err   error
}

func (e *RunError) Error() string { return fmt.Sprintf("run %s: %v", e.Model, e.Err) }
func (e *RunError) Unwrap() error { return e.Err }

// checkInputs refuses inputs that would hand ORT, or the batcher's merge,
// memory of the wrong size or type: a server error, as the decoders never
// produce them. Whether the inputs fit the model (dtypes, shapes, the
// batch limit, batches that agree, as merging requests needs) is checked
// before, once for every protocol, by handlers/inference.
func (m *Model) checkInputs(inputs []tensor.Tensor) error {
	if len(inputs) != len(m.Signature.Inputs) {
		return &RunError{m.Name, fmt.Errorf("got %d inputs, want %d", len(inputs), len(m.Signature.Inputs))}
	}
	for i := range inputs {
		if err := inputs[i].Check(); err != nil {
			return &RunError{m.Name, fmt.Errorf("input %s: %w", m.Signature.Inputs[i].Name, err)}
		}
		// A binding holds the declared dtype's memory (binding.go): data
		// of another would not fit it.
		if spec := m.Signature.Inputs[i]; inputs[i].DType != spec.DType {
			return &RunError{m.Name, fmt.Errorf("input %s: %v data for a %v input", spec.Name, inputs[i].DType, spec.DType)}
		}
	}
	return nil
}

// runError marks a failed run as the server's fault, or as ORT refusing
// the inputs (rejected.go says which); a run stopped because its client
// went away is neither.
func runError(m *Model, err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if r := rejection(m.Name, err); r != nil {
		return r
	}
	return &RunError{m.Name, err}
}

// Infer runs the model on inputs given in tensor.Signature.Inputs order and returns
// every output in tensor.Signature.Outputs order. Inputs must already be validated
// against the signature; ORT reads them until Infer returns, so they must
// not be reused before. It waits for a run slot (or, with dynamic batching,
// for a batch), gives up when ctx ends, and returns *OverloadedError at
// once when max_queue_size requests are already waiting.
func (m *Model) Infer(ctx context.Context, inputs []tensor.Tensor) ([]tensor.Tensor, error) {
	return m.InferOutputs(ctx, inputs, nil)
}

// InferOutputs is Infer computing only outputs (Signature.Outputs indexes;
// nil for all) where it can: on a session over the part of the graph they
// need, once it is made (pruned.go). It returns every output in
// Signature.Outputs order, those it did not compute empty. With dynamic
// batching a merged run computes every output, as the requests it merges
// may each ask for others; a request that runs alone (alone in its batch,
// or again after a merged run was refused) computes only its own.
func (m *Model) InferOutputs(ctx context.Context, inputs []tensor.Tensor, outputs []int) ([]tensor.Tensor, error) {
	return m.inferOutputs(ctx, inputs, outputs, nil)
}

// InferLeased is InferOutputs whose outputs may be the memory of the
// values ORT wrote them in, recycled by later runs once the lease is
// released: they are valid until lease.Release, which the caller must
// call once it has read them (on success only; an error holds nothing).
// It spares the copy of every output, and its allocation, for a caller
// that reads the outputs once and lets them go, as a REST answer does.
func (m *Model) InferLeased(ctx context.Context, inputs []tensor.Tensor, outputs []int) (_ []tensor.Tensor, lease Lease, _ error) {
	outs, err := m.inferOutputs(ctx, inputs, outputs, &lease)
	return outs, lease, err
}

func (m *Model) inferOutputs(ctx context.Context, inputs []tensor.Tensor, outputs []int, lease *Lease) ([]tensor.Tensor, error) {
	if err := m.checkInputs(inputs); err != nil {
		return nil, err
	}
	for _, i := range outputs {
		if i < 0 || i >= len(m.Signature.Outputs) {
			return nil, &RunError{m.Name, fmt.Errorf("output %d asked for, the model has %d", i, len(m.Signature.Outputs))}
		}
	}
	s, pruned := m.sessionFor(outputs)
	outs, err := m.inferOn(ctx, s, inputs, outputs, lease)
	if pruned || err == nil || m.pruned == nil || !isRejected(err) {
		return outs, err
	}
	// The whole graph refused the inputs while the outputs' own session
	// was being made: a node of an output not asked for may be what
	// refused them, so this request, refused anyway, waits for that
	// session and runs again on it.
	if s, ok := m.pruned.wait(ctx, outputs); ok {
		return m.inferOn(ctx, s, inputs, outputs, lease)
	}
	// No session to run again on (its deadline came first, or making it
	// failed): the request keeps the refusal it had, not a 504 for a wait
	// it never asked for.
	return outs, err
}

// isRejected reports whether err is a *RejectedError. A function of its
// own, so that the error's target is made only for a run that failed.
func isRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}

// inferOn runs inputs on s, or through the batcher, which picks the
// session of each run itself. A model with dynamic batching returns
// copies, whether its request ran merged or alone: the batcher's runs
// hold no lease.
func (m *Model) inferOn(ctx context.Context, s session, inputs []tensor.Tensor, outputs []int, lease *Lease) ([]tensor.Tensor, error) {
	if m.batcher != nil {
		return m.batcher.infer(ctx, inputs, outputs)
	}
	return m.infer(ctx, s, inputs, lease)
}

// sessionFor is the session that computes outputs: one over the part of
// the graph they need when it is made (pruned says so), else the whole
// graph's.
func (m *Model) sessionFor(outputs []int) (_ session, pruned bool) {
	if m.pruned != nil && len(outputs) > 0 {
		if s, ok := m.pruned.session(outputs); ok {
			return s, true
		}
	}
	return m.whole(), false
}

// infer runs inputs on s, unbatched, on a run slot.
func (m *Model) infer(ctx context.Context, s session, inputs []tensor.Tensor, lease *Lease) ([]tensor.Tensor, error) {
	queued := monotime()
	if err := m.acquire(ctx); err != nil {
		return nil, err
	}
	defer m.limiter.Release()
	batch := m.Batch(inputs)
	run := Run{Requests: 1, Rows: batch}
	if st := StatsOf(ctx); st != nil {
		st.Queue = monotime() - queued
		defer func() { st.Run = run }()
	}
	outs, err := m.run(ctx, s, inputs, m.outputs, batch, &run, lease)
	m.ran(run)
	return outs, runError(m, err)
}

// acquire takes a run slot. Without a batcher, waiting for the slot is
// what max_queue_size bounds: the request counts until it has one.
func (m *Model) acquire(ctx context.Context) error {
	if err := m.admit.enter(); err != nil {
		return err
	}
	defer m.admit.leave()
	return m.limiter.Acquire(ctx)
}

// runOptions takes recycled RunOptions, or makes new ones.
func (m *Model) runOptions() (*ort.RunOptions, error) {
	select {
	case ro := <-m.runOpts:
		return ro, nil
	default:
		return ort.NewRunOptions()
	}
}

func (m *Model) recycle(ro *ort.RunOptions) {
	select {
	case m.runOpts <- ro:
	default:
		ro.Destroy()
	}
}

// run runs inputs once on s, its outputs preallocated by plans (one per
// Signature output), and records in t (when not nil) how long each of its
// phases took; the outputs s does not compute are left empty. It runs on a
// recycled binding of s when it has them (binding.go), making per run only
// the values the binding cannot hold. With a lease, a run on a binding
// returns the bound outputs in place and leaves the binding in the lease
// (binding.go, lease.go), where it would otherwise copy them out.
func (m *Model) run(ctx context.Context, s session, inputs []tensor.Tensor, plans []outputPlan, batch int, t *Run, lease *Lease) (_ []tensor.Tensor, err error) {
	begin := monotime()
	if t != nil {
		defer func() { t.Failed = err != nil }()
	}
	b, err := m.takeBinding(s, inputs, plans, batch)
	if err != nil {
		return nil, err
	}
	var ins, outs []ort.Value
	// leased is whether the run returns its bound outputs in place, and
	// so leaves its binding in the lease: set only once it returns them,
	// so that a failure, or a panic (err is still nil then), puts the
	// binding back.
	leased := false
	if b != nil {
		ins, outs = b.runIns, b.runOuts
		defer func() {
			if leased {
				*lease = Lease{b: b, pool: s.binds}
			} else {
				s.binds.put(b)
			}
		}()
	} else {
		ins, outs = make([]ort.Value, len(inputs)), make([]ort.Value, s.count(m))
	}
	// Only what was made for this run is destroyed after it; a bound
	// value stays with its binding.
	defer func() {
		for i := range ins {
			if b == nil || b.ins[i] == nil {
				destroyAll(ins[i:i+1], false)
			}
			ins[i] = nil
		}
		for i := range outs {
			if b == nil || b.outs[i] == nil {
				destroyAll(outs[i:i+1], err != nil)
			}
			outs[i] = nil
		}
	}()
	for i, t := range inputs {
		if b != nil && b.ins[i] != nil {
			ortTypes[t.DType].ops.load(b.ins[i], t.Data)
			ins[i] = b.ins[i]
			continue
		}
		v, err := toValue(t)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", m.Signature.Inputs[i].Name, err)
		}
		ins[i] = v
	}
	for k := range outs {
		i := s.output(k)
		if b != nil && b.outs[k] != nil {
			outs[k] = b.outs[k]
			continue
		}
		shape, ok := plans[i].shape(batch)
		if !ok {
			continue
		}
		v, err := newOutput(m.Signature.Outputs[i].DType, shape)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", m.Signature.Outputs[i].Name, err)
		}
		if v != nil {
			outs[k] = v
		}
	}
	started := monotime()
	switch {
	case b != nil && b.short():
		// Nothing to stop: the run ends before a watch would pay off.
		if err = ctx.Err(); err != nil {
			return nil, err
		}
		if b.io != nil {
			err = s.ort.RunWithBinding(b.io)
		} else {
			err = s.ort.RunWithOptions(ins, outs, nil)
		}
		if err == nil {
			// A deadline that passed during the run fails it, as a watched
			// run's terminate would have, had ORT reached a node boundary
			// after it.
			err = ctx.Err()
		}
	default:
		err = m.runWatched(ctx, s.ort, ins, outs)
	}
	ran := monotime()
	if b != nil {
		b.ran(ran-started, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if t != nil {
		defer func() { t.Input, t.Infer, t.Output = started-begin, ran-started, monotime()-ran }()
	}
	inPlace := lease != nil && b != nil
	var result []tensor.Tensor
	if inPlace {
		result = b.result
	} else {
		result = make([]tensor.Tensor, len(m.Signature.Outputs))
	}
	for k, v := range outs {
		i := s.output(k)
		spec := m.Signature.Outputs[i]
		if v == nil {
			return nil, fmt.Errorf("output %s: ONNX Runtime returned no value", spec.Name)
		}
		var t tensor.Tensor
		if b != nil && b.outs[k] != nil {
			data := b.data[k]
			if !inPlace || data == nil {
				data = ortTypes[spec.DType].ops.copyOut(v)
			}
			t = tensor.Tensor{DType: spec.DType, Shape: b.outShapes[k], Data: data}
		} else if t, err = fromValue(spec.DType, v); err != nil {
			return nil, fmt.Errorf("output %s: %w", spec.Name, err)
		}
		result[i] = t
	}
	leased = inPlace
	return result, nil
}

// runWatched runs on session with RunOptions that ctx's end terminates: a
// long run then returns early once its client is gone.
func (m *Model) runWatched(ctx context.Context, session *ort.DynamicAdvancedSession, ins, outs []ort.Value) error {
	ro, err := m.runOptions()
	if err != nil {
		return err
	}
	if ctx.Done() == nil {
		// Warm-ups cannot be cancelled: skip the watch.
		err = session.RunWithOptions(ins, outs, ro)
		m.recycle(ro)
		return err
	}
	var terminating sync.WaitGroup
	terminating.Add(1)
	stop := context.AfterFunc(ctx, func() {
		defer terminating.Done()
		ro.Terminate()
	})
	err = session.RunWithOptions(ins, outs, ro)
	if stop() {
		m.recycle(ro) // never terminated: reusable as it is
	} else {
		terminating.Wait() // Terminate may still be running on ro
		ro.Destroy()
	}
	return err
}

// takeBinding returns a recycled binding of s for inputs, or a new one, or
// nil when s keeps none or these inputs are not worth one.
func (m *Model) takeBinding(s session, inputs []tensor.Tensor, plans []outputPlan, batch int) (*binding, error) {
	if s.binds == nil {
		return nil, nil
	}
	b, a := s.binds.take(inputs, batch)
	if b != nil {
		return b, nil
	}
	b, err := m.newBinding(s, inputs, plans, batch, a, s.binds.rows)
	switch {
	case a == nil:
	case b == nil:
		s.binds.putArena(a) // these inputs are not bound: nothing joins it
	default:
		a.add(b)
	}
	if err != nil {
		return nil, fmt.Errorf("bind: %w", err)
	}
	return b, nil
}

// checkImageOutput fails when out cannot be pictures: a numeric tensor of
// one of tensorimage's layouts.
func checkImageOutput(out tensor.TensorSpec) error {
	if !out.DType.IsFloat() && !out.DType.IsInteger() {
		return fmt.Errorf("an image output is numeric, %q is %v", out.Name, out.DType)
	}
	_, err := tensorimage.LayoutOf(out.Shape)
	return err
}

// ImageInput is how image files become rows of the input named, when
// config.yaml declares it an image.
func (m *Model) ImageInput(name string) (imagetensor.Spec, bool) {
	s, ok := m.images[name]
	return s, ok
}

// imageSpec checks an input image section against the input it is for,
// and fills in the size from the model's shape when the section has none:
// [-1, H*W*C] (flat, which needs size), [-1, C, H, W] (NCHW) or
// [-1, H, W, C] (NHWC).
func imageSpec(in tensor.TensorSpec, im *InputImage) (imagetensor.Spec, error) {
	s := imagetensor.Spec{Layout: imagetensor.Layout(im.Layout), Channels: imagetensor.Channels(im.Channels),
		Resize: imagetensor.Resize(im.Resize), Scale: im.Scale, Mean: im.Mean, Std: im.Std}
	if s.Scale == 0 {
		s.Scale = 1.0 / 255
	}
	if s.Resize == "" {
		s.Resize = imagetensor.Stretch
	}
	switch in.DType {
	case tensor.Float32, tensor.Float64:
	default:
		return s, fmt.Errorf("an image input is float32 or float64, %q is %v", in.Name, in.DType)
	}
	nc := int64(s.Channels.N())
	sh := in.Shape
	if len(sh) == 0 || sh[0] != -1 {
		return s, fmt.Errorf("an image input has a dynamic batch dimension first (one row per file), %q is %s", in.Name, tensor.FormatShape(sh))
	}
	var h, w, c int64 = -1, -1, nc
	switch s.Layout {
	case imagetensor.Flat:
		if len(sh) != 2 || im.Size == nil {
			return s, fmt.Errorf("layout flat is an input [-1, H*W*C] and needs size: [H, W]; %q is %s", in.Name, tensor.FormatShape(sh))
		}
		if want := int64(im.Size[0] * im.Size[1] * int(nc)); sh[1] != want {
			return s, fmt.Errorf("size %v with %d channel(s) is %d values a row, input %q has %d", im.Size, nc, want, in.Name, sh[1])
		}
	case imagetensor.NCHW:
		if len(sh) != 4 {
			return s, fmt.Errorf("layout NCHW is an input [-1, C, H, W], %q is %s", in.Name, tensor.FormatShape(sh))
		}
		c, h, w = sh[1], sh[2], sh[3]
	default:
		if len(sh) != 4 {
			return s, fmt.Errorf("layout NHWC is an input [-1, H, W, C], %q is %s", in.Name, tensor.FormatShape(sh))
		}
		h, w, c = sh[1], sh[2], sh[3]
	}
	if c != nc {
		return s, fmt.Errorf("channels %s are %d a pixel, input %q has %d", im.Channels, nc, in.Name, c)
	}
	if im.Size != nil {
		if (h >= 0 && h != int64(im.Size[0])) || (w >= 0 && w != int64(im.Size[1])) {
			return s, fmt.Errorf("size %v does not fit input %q of shape %s", im.Size, in.Name, tensor.FormatShape(sh))
		}
		h, w = int64(im.Size[0]), int64(im.Size[1])
	}
	if h < 1 || w < 1 {
		return s, fmt.Errorf("input %q has a dynamic height or width (%s): give size: [H, W]", in.Name, tensor.FormatShape(sh))
	}
	s.H, s.W = int(h), int(w)
	return s, nil
}
