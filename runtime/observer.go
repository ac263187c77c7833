package runtime

// Observer is told about the ORT runs that serve requests, for metrics.
// It is given in LoadOptions; nil observes nothing. Its methods are called
// from many goroutines at once, on the path of the requests they report,
// so they must be safe for concurrent use and return quickly.
type Observer interface {
	// Ran reports one ORT run of m, whatever its outcome, before any of
	// its requests get their results: requests is how many requests the
	// run served (1 without dynamic batching), rows its batch, the sum of
	// theirs (0 for a model without a batched input). Warm-up runs at load
	// are not reported.
	Ran(m *Model, requests, rows int)
}

// ran tells the model's Observer, if any, about one run.
func (m *Model) ran(requests, rows int) {
	if m.observer != nil {
		m.observer.Ran(m, requests, rows)
	}
}
