package runtime

import (
	"fmt"
	"regexp"
	"strings"
)

// RejectedError is ONNX Runtime refusing a run because of what the inputs
// hold: a node that cannot work on these values or shapes (a Reshape whose
// target does not divide the input, an index out of range), which the
// signature cannot express and validation cannot see. It is the request's
// fault, not the server's.
type RejectedError struct {
	Model string
	// Reason is ORT's own, without its source locations: fit for a client.
	Reason string
	Err    error
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("model %q refused the inputs at run time: %s", e.Model, e.Reason)
}
func (e *RejectedError) Unwrap() error { return e.Err }

// The rule that tells a refusal of the inputs from a server fault, in this
// one place. onnxruntime_go v1.27.0 keeps only the message of ORT's status
// (statusToError drops the OrtErrorCode), and the code would not tell
// either: a kernel's failed check (ORT_ENFORCE) is ORT_FAIL whatever its
// cause. What does tell is where ORT failed. Inputs reach a run only once
// they fit the model's signature (names, dtypes, ranks, fixed dims:
// handlers/inference validates them), so a node that fails on them
// ("Non-zero status code returned while running <op> node") fails on their
// values or dynamic dims: the request's fault. Unless the node failed for
// want of memory or of its device, which is the server's, whatever the
// inputs; and every failure outside a node (the session, the wrapper) is
// the server's too.
var (
	nodeFailure = regexp.MustCompile(`Non-zero status code returned while running (\S+) node\. Name:'([^']*)' Status Message: `)
	// An ORT_ENFORCE failure's prefix: "<file>:<line> <function> <condition> was false. ".
	enforcePrefix  = regexp.MustCompile(`^\S+:\d+ .* was false\. `)
	serverFailures = []string{"Failed to allocate", "bad_alloc", "out of memory", "CUDA", "CUDNN", "cuDNN", "CUBLAS", "cuBLAS", "TensorRT"}
)

// rejection returns err as a *RejectedError when the rule above makes it
// the inputs' fault, and nil otherwise.
func rejection(model string, err error) *RejectedError {
	msg := err.Error()
	loc := nodeFailure.FindStringSubmatchIndex(msg)
	if loc == nil {
		return nil
	}
	for _, s := range serverFailures {
		if strings.Contains(msg, s) {
			return nil
		}
	}
	op, name := msg[loc[2]:loc[3]], msg[loc[4]:loc[5]]
	reason := enforcePrefix.ReplaceAllString(strings.TrimSpace(msg[loc[1]:]), "")
	node := op + " node"
	if name != "" {
		node += " " + name
	}
	return &RejectedError{Model: model, Reason: node + ": " + reason, Err: err}
}
