package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ModelControl is how the set of served models may change while the server
// runs; the modes and their meaning are Triton's --model-control-mode.
type ModelControl string

const (
	// ControlNone loads every model at start and never changes them.
	ControlNone ModelControl = "none"
	// ControlExplicit changes models only through the load and unload API.
	ControlExplicit ModelControl = "explicit"
	// ControlPoll rescans the repository periodically and follows it.
	ControlPoll ModelControl = "poll"
)

// ParseModelControl accepts none, explicit or poll.
func ParseModelControl(s string) (ModelControl, error) {
	switch m := ModelControl(s); m {
	case ControlNone, ControlExplicit, ControlPoll:
		return m, nil
	}
	return "", fmt.Errorf("model control %q: want none, explicit or poll", s)
}

// Poll brings the served models in line with the repository directory:
// it loads new models, reloads changed ones and unloads those whose
// directory is gone. A model whose load failed is retried only when its
// files change again. The error joins every load that failed this time.
func (r *Repository) Poll() error {
	defer r.trimIfChanged(r.Generation())
	r.ctl.Lock()
	defer r.ctl.Unlock()
	if r.closed {
		return ErrClosed
	}
	srcs, err := r.sources()
	if err != nil {
		return err // a vanished repository unloads nothing: keep serving
	}
	var errs []error
	onDisk := make(map[string]bool, len(srcs))
	for _, s := range srcs {
		onDisk[s.name] = true
		errs = append(errs, r.load(s.name, &s, false))
	}
	for _, name := range r.names() {
		if !onDisk[name] {
			errs = append(errs, r.drop(name))
		}
	}
	return errors.Join(errs...)
}

// names lists the models the repository has an entry for.
func (r *Repository) names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.models))
	for n := range r.models {
		out = append(out, n)
	}
	return out
}

// Watch polls the repository every interval until ctx ends or the
// repository is closed, logging the loads that fail.
func (r *Repository) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := r.Poll()
		if errors.Is(err, ErrClosed) {
			return
		}
		if err != nil {
			r.opt.Logger.Error("repository poll: some models did not load", "err", err)
		}
	}
}
