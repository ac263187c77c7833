package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Repository serves the models found in a directory:
//
//	DIR/NAME/model.onnx            one version, called "1"
//	DIR/NAME/<int>/model.onnx      versioned; the highest is the default
//	DIR/NAME/config.yaml           optional, shared by all versions
//
// Requests hold a reference on the version they run on, so swapping or
// removing a model never destroys a session in the middle of a run.
type Repository struct {
	dir string
	opt LoadOptions

	mu     sync.RWMutex
	models map[string]*entry
	// generation counts changes to the set of served models, so readers
	// such as the API docs can tell when to rebuild.
	generation uint64
}

type entry struct {
	name     string
	versions []*handle // ascending by version number
	err      error     // why the model is not served, when versions is empty
}

type handle struct {
	model *Model
	refs  sync.WaitGroup
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

func (e *UnavailableError) Error() string { return fmt.Sprintf("model %q is not available: %v", e.Name, e.Err) }
func (e *UnavailableError) Unwrap() error { return e.Err }

// OpenRepository loads every model under dir. With skipBad, a model that
// fails to load is reported by Status instead of failing the whole open.
func OpenRepository(dir string, opt LoadOptions, skipBad bool) (*Repository, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	names, err := scanNames(dir)
	if err != nil {
		return nil, err
	}
	r := &Repository{dir: dir, opt: opt, models: map[string]*entry{}}
	for _, name := range names {
		e := r.loadEntry(name)
		if e.err != nil && !skipBad {
			r.Close()
			return nil, fmt.Errorf("load model %s: %w", name, e.err)
		}
		if e.err != nil {
			opt.Logger.Error("model not loaded", "model", name, "err", e.err)
		}
		r.models[name] = e
	}
	return r, nil
}

func scanNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("model repository: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// versionFiles lists DIR/NAME's model files by version, ascending.
func versionFiles(dir string) ([]string, []string, error) {
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err == nil {
		return []string{"1"}, []string{filepath.Join(dir, "model.onnx")}, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var nums []int64
	for _, e := range ents {
		n, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || n < 0 || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "model.onnx")); err == nil {
			nums = append(nums, n)
		}
	}
	if len(nums) == 0 {
		return nil, nil, fmt.Errorf("%s: no model.onnx and no <version>/model.onnx", dir)
	}
	slices.Sort(nums)
	var versions, paths []string
	for _, n := range nums {
		v := strconv.FormatInt(n, 10)
		versions = append(versions, v)
		paths = append(paths, filepath.Join(dir, v, "model.onnx"))
	}
	return versions, paths, nil
}

// loadEntry loads every version of one model; on any failure nothing of it
// stays loaded and the entry carries the reason.
func (r *Repository) loadEntry(name string) *entry {
	e := &entry{name: name}
	dir := filepath.Join(r.dir, name)
	versions, paths, err := versionFiles(dir)
	if err != nil {
		e.err = err
		return e
	}
	cfg, err := ReadConfig(filepath.Join(dir, "config.yaml"))
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
			"inputs", describe(m.Signature.Inputs), "outputs", describe(m.Signature.Outputs))
		e.versions = append(e.versions, &handle{model: m})
	}
	return e
}

// Acquire returns a model version to run, and the function that releases
// it; version "" is the default (highest) version.
func (r *Repository) Acquire(name, version string) (*Model, func(), error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.models[name]
	if !ok {
		return nil, nil, &NotFoundError{Name: name}
	}
	if len(e.versions) == 0 {
		return nil, nil, &UnavailableError{Name: name, Err: e.err}
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
			return nil, nil, &NotFoundError{Name: name, Version: version}
		}
	}
	// Add under the read lock: a swap takes the write lock before it waits
	// on refs, so it can never wait on a count that is still growing.
	h.refs.Add(1)
	return h.model, h.refs.Done, nil
}

// ModelStatus describes one model of the repository.
type ModelStatus struct {
	Name     string
	Versions []*Model // ascending; empty when the model failed to load
	Err      error
}

// Status lists every model in name order, loaded or not.
func (r *Repository) Status() []ModelStatus {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]ModelStatus, 0, len(r.models))
	for _, e := range r.models {
		s := ModelStatus{Name: e.name, Err: e.err}
		for _, h := range e.versions {
			s.Versions = append(s.Versions, h.model)
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b ModelStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Ready is true when every model in the repository is loaded.
func (r *Repository) Ready() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, e := range r.models {
		if len(e.versions) == 0 {
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

// Close waits for in-flight runs, then destroys every session.
func (r *Repository) Close() error {
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
