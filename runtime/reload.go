package runtime

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Load loads the named model, or reloads it when its files changed since
// it was loaded; a healthy model whose files are unchanged is left alone,
// as Triton does. The new versions replace the old atomically: requests
// already running finish on the old sessions, which are destroyed once
// the last of them ends, before Load returns. When the load fails, what
// the model served before keeps serving, and the *LoadError says why. A
// model that serves nothing is unavailable, its reason "loading", until
// the load ends: its warmup too must be done before it counts as ready.
func (r *Repository) Load(name string) error {
	defer r.trimIfChanged(r.Generation())
	r.ctl.Lock()
	defer r.ctl.Unlock()
	return r.load(name, nil, true)
}

// trimIfChanged gives the C heap's free pages back to the kernel when the
// served models changed since generation: loading frees scratch memory,
// and so does destroying old sessions. Not on every poll tick: trimming
// locks the allocator's arenas while runs are allocating.
func (r *Repository) trimIfChanged(generation uint64) {
	if r.Generation() != generation {
		ReleaseFreeMemory()
	}
}

// Unload takes the named model out of service: requests get NotFoundError
// from now on, and its sessions are destroyed once their in-flight runs
// end, before Unload returns. Unloading a model on disk that is not loaded
// does nothing, as with Triton; a name the repository does not know at all
// is a NotFoundError.
func (r *Repository) Unload(name string) error {
	defer r.trimIfChanged(r.Generation())
	r.ctl.Lock()
	defer r.ctl.Unlock()
	if r.closed {
		return ErrClosed
	}
	old := r.entry(name)
	if old == nil {
		if checkName(name) != nil {
			return &NotFoundError{Name: name}
		}
		if _, ok, err := r.source(name); err != nil || !ok {
			return &NotFoundError{Name: name}
		}
		return nil
	}
	r.publish(name, &entry{name: name, unloaded: true})
	r.opt.Logger.Info("model unloaded", "model", name)
	return old.release()
}

// load is Load under ctl; src is where the model is on disk, nil to look
// it up. A poll passes retryFailed false: a model whose load failed is then
// retried only once its files change, instead of failing (and logging)
// again at every tick.
func (r *Repository) load(name string, src *source, retryFailed bool) error {
	if r.closed {
		return ErrClosed
	}
	if err := checkName(name); err != nil {
		return &LoadError{Name: name, Err: r.relative(err)}
	}
	old := r.entry(name)
	if src == nil {
		s, ok, err := r.source(name)
		if err == nil && !ok {
			err = os.ErrNotExist
		}
		src = &s
		if err != nil {
			err = fmt.Errorf("no model %q in the repository: %w", name, err)
			if old != nil { // a name the repository never had stays unknown
				r.publish(name, old.failed(name, err, nil))
			}
			return &LoadError{Name: name, Err: r.relative(err)}
		}
	}
	dir := src.dir
	cur, err := statModel(*src)
	if err != nil {
		err = fmt.Errorf("no model %q in the repository: %w", name, err)
		if old != nil { // a name the repository never had stays unknown
			r.publish(name, old.failed(name, err, nil))
		}
		return &LoadError{Name: name, Err: r.relative(err)}
	}
	if old != nil && !old.unloaded {
		switch {
		case len(old.versions) > 0 && old.files.matches(cur, dir):
			// Unchanged. Clear the error of a failed reload whose files
			// were put back; and when the stats moved or were too recent
			// to trust, keep cur (matches hashed it) so that the next
			// poll can trust them and need not hash again.
			refresh := !slices.Equal(old.files.files, cur.files) || old.files.racy()
			if refresh || old.err != nil {
				r.publish(name, old.with(func(e *entry) {
					e.err, e.tried = nil, nil
					if refresh {
						e.files = cur
					}
				}))
			}
			return nil
		case !retryFailed && old.err != nil && old.tried.matches(cur, dir):
			return nil
		}
	}
	// Hash before loading, so that the sum belongs to what gets loaded, or
	// to something older, which a later poll then sees as a change.
	if err := cur.hash(dir); err != nil {
		r.publish(name, old.failed(name, err, cur))
		return &LoadError{Name: name, Err: r.relative(err)}
	}
	if old == nil || old.unloaded || len(old.versions) == 0 {
		// Nothing of the model serves, and until its load (warmup
		// included) ends it counts as not ready, so that readiness is
		// false while a model loads, as with Triton's strict readiness;
		// a model that serves keeps serving its old versions instead.
		r.publish(name, &entry{name: name, err: errLoading})
	}
	e := r.loadEntry(*src)
	if e.err != nil {
		r.publish(name, old.failed(name, e.err, cur))
		return &LoadError{Name: name, Err: r.relative(e.err)}
	}
	e.files = cur
	r.publish(name, e)
	if old == nil {
		return nil
	}
	return old.release()
}

// errLoading is the reason a model is unavailable while it loads with
// nothing of it serving.
var errLoading = errors.New("loading")

// checkName keeps a model name to one directory of the repository: names
// come from URLs, and ".." must not load a model from elsewhere.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("invalid model name %q", name)
	}
	return nil
}

// entry returns the published entry of a model, or nil.
func (r *Repository) entry(name string) *entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.models[name]
}

// publish swaps e in for name (nil removes it). Once the write lock is
// released no request can acquire the old entry's versions any more, so
// waiting on their refs afterwards waits for a count that only falls.
func (r *Repository) publish(name string, e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e == nil {
		delete(r.models, name)
	} else {
		r.models[name] = e
	}
	r.generation++
}

// failed is the entry to publish after a load of name failed with err:
// the versions e serves keep serving, and err is there to say why.
func (e *entry) failed(name string, err error, tried *fingerprint) *entry {
	if e == nil || e.unloaded || len(e.versions) == 0 {
		return &entry{name: name, err: err, tried: tried}
	}
	return e.with(func(n *entry) { n.err, n.tried = err, tried })
}

// with returns a copy of e changed by set; the copy shares e's versions,
// so only one of the two may ever be released.
func (e *entry) with(set func(*entry)) *entry {
	n := *e
	set(&n)
	return &n
}

// drop removes a model whose directory is gone and frees it.
func (r *Repository) drop(name string) error {
	old := r.entry(name)
	if old == nil {
		return nil
	}
	r.publish(name, nil)
	if !old.unloaded {
		r.opt.Logger.Info("model unloaded: its directory is gone", "model", name)
	}
	return old.release()
}
