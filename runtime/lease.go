package runtime

// A Lease holds the binding whose bound outputs a leased run
// (Model.InferLeased) returned in place, until Release puts it back for
// later runs. Until then no other run writes those outputs: a run that
// needs a binding of the same shapes meanwhile takes another idle one, or
// makes one. Idle bindings stay bounded (binding.go), leased ones are not:
// past maxIdleBindings requests between their run and their release at
// once, a release destroys a binding that a later run makes again. The
// zero Lease holds nothing: a run without a binding, or on a model with
// dynamic batching, returns outputs of its own.
type Lease struct {
	b    *binding
	pool *bindings
}

// Release lets the run's outputs go: they must not be read after it.
// Call it once, from one goroutine; a second call on the same Lease does
// nothing.
func (l *Lease) Release() {
	if l.b != nil {
		// The results of outputs made per run are the run's own: an idle
		// binding does not keep them.
		clear(l.b.result)
		l.pool.put(l.b)
	}
	*l = Lease{}
}
