package runtime

// A Lease holds the binding whose bound outputs a leased run
// (Model.InferLeased) returned in place, until Release puts it back for
// later runs. Until then no other run writes those outputs: a run that
// needs a binding of the same shapes meanwhile takes another, or makes
// one, so a model's idle bindings grow to how many of its requests are
// between their run and their release at once (bounded as bindings are,
// binding.go). The zero Lease holds nothing: a run without a binding, or
// a batched one, returns outputs of its own.
type Lease struct {
	b    *binding
	pool *bindings
}

// Release lets the run's outputs go: they must not be read after it.
// Call it once, from one goroutine; a second call on the same Lease does
// nothing.
func (l *Lease) Release() {
	if l.b != nil {
		l.pool.put(l.b)
		l.b = nil
	}
}
