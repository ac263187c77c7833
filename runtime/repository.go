package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Repository serves the models found in a directory, in the layouts
// layout.go lists.
//
// Requests hold a reference on the version they run on, so swapping or
// removing a model never destroys a session in the middle of a run.
type Repository struct {
	dir string
	opt LoadOptions
	// name, when set, makes dir one model of that name (LoadOptions.ModelName).
	name string

	// ctl serialises loads, reloads and unloads, so that two of them never
	// build or free the same model at once; requests never take it.
	ctl    sync.Mutex
	closed bool

	mu     sync.RWMutex
	models map[string]*entry
	// generation counts changes to the set of served models, so readers
	// such as the API docs can tell when to rebuild.
	generation uint64
}

// An entry is never changed once it is in Repository.models: a change
// builds a new entry and swaps it in under mu, so that what a reader got
// under the read lock stays consistent after it lets go.
type entry struct {
	name     string
	versions []*handle // ascending by version number
	// err is why the last load failed. With versions, the load before it
	// still serves; without, the model is unavailable.
	err error
	// unloaded marks a model taken out of service on request: unknown to
	// requests, but listed by Index.
	unloaded bool
	files    *fingerprint // what versions were loaded from
	tried    *fingerprint // what the failed load read; a poll retries only after a change
}

type handle struct {
	model *Model
	refs  sync.WaitGroup
	// release is refs.Done, made once: a method value taken per Acquire
	// is an allocation per request.
	release func()
}

func newHandle(m *Model) *handle {
	h := &handle{model: m}
	h.release = h.refs.Done
	return h
}

// NotFoundError is an unknown model or version.
type NotFoundError struct{ Name, Version string }

func (e *NotFoundError) Error() string {
	if e.Version != "" {
		return fmt.Sprintf("model %q has no version %q", e.Name, e.Version)
	}
	return fmt.Sprintf("model %q not found", e.Name)
}

// UnavailableError is a model that exists in the repository but failed to load.
type UnavailableError struct {
	Name string
	Err  error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("model %q is not available: %v", e.Name, e.Err)
}
func (e *UnavailableError) Unwrap() error { return e.Err }

// LoadError is a load or reload that failed; whatever the model served
// before still serves. The wording is Triton's, which clients may match.
type LoadError struct {
	Name string
	Err  error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("load failed for model '%s': %v", e.Name, e.Err)
}
func (e *LoadError) Unwrap() error { return e.Err }

// relative is an error as clients see it: its paths relative to the
// repository, whose place on the server's disk is none of their business,
// and shared libraries (ONNX Runtime's provider libraries, which its
// reasons name) by their file name alone. The server's own log keeps the
// whole paths.
type relative struct {
	err error
	dir string
}

func (e relative) Error() string {
	msg := strings.ReplaceAll(e.err.Error(), e.dir+string(filepath.Separator), "")
	// A directory that is one model is named by its own base name.
	msg = strings.ReplaceAll(msg, e.dir, filepath.Base(e.dir))
	return libraryDir.ReplaceAllString(msg, "$1")
}

// libraryDir matches the directory of an absolute path to a shared
// library, the library's file name in group 1.
var libraryDir = regexp.MustCompile(`/(?:[^/\s:'"]+/)*([^/\s:'"]+\.so(?:\.[0-9]+)*)`)

func (e relative) Unwrap() error { return e.err }

func (r *Repository) relative(err error) error {
	if err == nil {
		return nil
	}
	return relative{err, r.dir}
}

// ErrClosed is a load, unload or poll after Close.
var ErrClosed = errors.New("model repository is closed")

// NewRepository serves the models under dir once they are loaded with
// Load; it loads none itself.
func NewRepository(dir string, opt LoadOptions) (*Repository, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ModelName != "" {
		if err := checkName(opt.ModelName); err != nil {
			return nil, fmt.Errorf("model name: %w", err)
		}
	}
	r := &Repository{dir: filepath.Clean(dir), opt: opt, name: opt.ModelName, models: map[string]*entry{}}
	if _, err := r.sources(); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenRepository loads every model under dir. With skipBad, a model that
// fails to load is reported by Status instead of failing the whole open.
func OpenRepository(dir string, opt LoadOptions, skipBad bool) (*Repository, error) {
	r, err := NewRepository(dir, opt)
	if err != nil {
		return nil, err
	}
	srcs, err := r.sources()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(srcs))
	for i, s := range srcs {
		names[i] = s.name
	}
	if err := r.LoadEach(names, skipBad); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// LoadEach loads the named models in turn. The first failure is returned,
// unless skipBad: then failures are logged, and Status reports them.
func (r *Repository) LoadEach(names []string, skipBad bool) error {
	for _, name := range names {
		if err := r.Load(name); err != nil {
			if !skipBad {
				return err
			}
			r.opt.Logger.Error("model not loaded", "model", name, "err", err)
		}
	}
	return nil
}

// sources lists the models on disk now, in name order.
func (r *Repository) sources() ([]source, error) { return scanSources(r.dir, r.name) }

// source finds the named model on disk now.
func (r *Repository) source(name string) (source, bool, error) {
	srcs, err := r.sources()
	if err != nil {
		return source{}, false, err
	}
	for _, s := range srcs {
		if s.name == name {
			return s, true, nil
		}
	}
	return source{}, false, nil
}

// loadEntry loads every version of one model; on any failure nothing of it
// stays loaded and the entry carries the reason.
func (r *Repository) loadEntry(src source) *entry {
	name := src.name
	e := &entry{name: name}
	versions, paths, err := src.versions()
	if err != nil {
		e.err = err
		return e
	}
	cfg := &Config{}
	if p := src.configPath(); p != "" {
		cfg, err = ReadConfig(p)
	}
	if err != nil {
		e.err = fmt.Errorf("%w: %w", ErrBadModel, err)
		return e
	}
	for i, v := range versions {
		m, err := LoadModel(name, v, paths[i], cfg, r.opt)
		if err != nil {
			for _, h := range e.versions {
				h.model.Close()
			}
			return &entry{name: name, err: err}
		}
		r.opt.Logger.Info("model loaded", "model", name, "version", v, "path", paths[i],
			"execution_provider", m.ExecutionProvider, "inputs", describe(m.Signature.Inputs), "outputs", describe(m.Signature.Outputs))
		e.versions = append(e.versions, newHandle(m))
	}
	return e
}

// Acquire returns a model version to run, and the function that releases
// it; version "" is the default (highest) version.
func (r *Repository) Acquire(name, version string) (*Model, func(), error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, err := r.find(name, version)
	if err != nil {
		return nil, nil, err
	}
	// Add under the read lock: a swap takes the write lock before it waits
	// on refs, so it can never wait on a count that is still growing.
	h.refs.Add(1)
	return h.model, h.release, nil
}

// Find reports whether Acquire would succeed now, without holding anything.
func (r *Repository) Find(name, version string) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, err := r.find(name, version)
	return err
}

// find looks a version up, under mu.
func (r *Repository) find(name, version string) (*handle, error) {
	e, ok := r.models[name]
	if !ok || e.unloaded {
		return nil, &NotFoundError{Name: name}
	}
	if len(e.versions) == 0 {
		return nil, &UnavailableError{Name: name, Err: r.relative(e.err)}
	}
	h := e.versions[len(e.versions)-1]
	if version != "" {
		h = nil
		for _, c := range e.versions {
			if c.model.Version == version {
				h = c
			}
		}
		if h == nil {
			return nil, &NotFoundError{Name: name, Version: version}
		}
	}
	return h, nil
}

// ModelStatus describes one model of the repository.
type ModelStatus struct {
	Name     string
	Versions []*Model // ascending; empty when the model failed to load
	Err      error    // why the model is not served; nil when Versions serve
}

// Status lists every model in name order, loaded or failed to load;
// unloaded models are left out, as requests cannot reach them.
func (r *Repository) Status() []ModelStatus {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]ModelStatus, 0, len(r.models))
	for _, e := range r.models {
		if e.unloaded {
			continue
		}
		s := ModelStatus{Name: e.name}
		if len(e.versions) == 0 {
			s.Err = r.relative(e.err)
		}
		for _, h := range e.versions {
			s.Versions = append(s.Versions, h.model)
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b ModelStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Versions lists the served versions of a model, ascending.
func (r *Repository) Versions(name string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	if e, ok := r.models[name]; ok {
		for _, h := range e.versions {
			out = append(out, h.model.Version)
		}
	}
	return out
}

// Model states in the repository index, in Triton's words.
const (
	StateReady       = "READY"
	StateUnavailable = "UNAVAILABLE"
)

// IndexEntry is one line of the repository index: a model version and its
// state, or a bare name for a model on disk that was never loaded.
type IndexEntry struct {
	Name    string
	Version string
	State   string
	Reason  string
}

// Index lists every model on disk or served, in name order: each served
// version as READY (with the reason when a reload failed and the previous
// load still serves), a model that failed to load or was unloaded as
// UNAVAILABLE with the reason, and a model never loaded by name alone.
func (r *Repository) Index() ([]IndexEntry, error) {
	srcs, err := r.sources()
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(srcs))
	seen := make(map[string]bool, len(srcs))
	for _, s := range srcs {
		names = append(names, s.name)
		seen[s.name] = true
	}
	for n := range r.models {
		if !seen[n] {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var out []IndexEntry
	for _, name := range names {
		e, ok := r.models[name]
		switch {
		case !ok:
			out = append(out, IndexEntry{Name: name})
		case e.unloaded:
			out = append(out, IndexEntry{Name: name, State: StateUnavailable, Reason: "unloaded"})
		case len(e.versions) == 0:
			out = append(out, IndexEntry{Name: name, State: StateUnavailable, Reason: errText(r.relative(e.err))})
		default:
			reason := ""
			if e.err != nil {
				reason = "serving the previous load; the last load failed: " + r.relative(e.err).Error()
			}
			for _, h := range e.versions {
				out = append(out, IndexEntry{Name: name, Version: h.model.Version, State: StateReady, Reason: reason})
			}
		}
	}
	return out, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Ready is true when every model in the repository is loaded, but for
// those unloaded on request.
func (r *Repository) Ready() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, e := range r.models {
		if len(e.versions) == 0 && !e.unloaded {
			return false
		}
	}
	return true
}

// Generation changes whenever the set of served models changes.
func (r *Repository) Generation() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.generation
}

// Close waits for in-flight runs, then destroys every session. Loads and
// unloads under way finish first; later ones get ErrClosed.
func (r *Repository) Close() error {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	r.closed = true
	r.mu.Lock()
	old := r.models
	r.models = map[string]*entry{}
	r.generation++
	r.mu.Unlock()
	var errs []error
	for _, e := range old {
		errs = append(errs, e.release())
	}
	return errors.Join(errs...)
}

// release destroys an entry's sessions once their last run has finished.
func (e *entry) release() error {
	var errs []error
	for _, h := range e.versions {
		h.refs.Wait()
		errs = append(errs, h.model.Close())
	}
	return errors.Join(errs...)
}
