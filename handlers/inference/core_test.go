package inference

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/runtime"
	"github.com/onnxserve/onnxserve/runtime/tensor"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// shipped is a core over models/, in the given model-control mode.
func shipped(t *testing.T, control runtime.ModelControl) *Core {
	t.Helper()
	repo, err := runtime.OpenRepository("../../models", runtime.LoadOptions{Limiter: runtime.NewLimiter(0), Logger: quiet}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	return New(Options{Repository: repo, ModelControl: control, Logger: quiet})
}

func f32(shape []int64, v ...float32) tensor.Tensor {
	return tensor.Tensor{DType: tensor.Float32, Shape: shape, Data: v}
}

func i64(shape []int64, v ...int64) tensor.Tensor {
	return tensor.Tensor{DType: tensor.Int64, Shape: shape, Data: v}
}

// TestInferRefuses pins every input rule of the core, in the words every
// front end sends, and the kind they map from: each case is one rule.
func TestInferRefuses(t *testing.T) {
	c := shipped(t, runtime.ControlNone)
	row := []float32{5.1, 3.5, 1.4, 0.2}
	many := make([]float32, 65*4)
	for _, tc := range []struct {
		name    string
		model   string
		inputs  []tensor.Tensor
		outputs []RequestedOutput
		kind    Kind
		input   string // the input Details name, "" for none
		msg     string
	}{
		{"a missing input is listed with the count", "tabular", []tensor.Tensor{f32([]int64{1, 3}, 1, 2, 3), {}},
			nil, InvalidArgument, "category", `expected 2 inputs but got 1 inputs for model 'tabular'; missing input(s) "category"`},
		{"a dtype that is not the model's", "iris", []tensor.Tensor{{DType: tensor.Float64, Shape: []int64{1, 4}, Data: []float64{1, 2, 3, 4}}},
			nil, InvalidArgument, "X", "inference input 'X' data-type is 'FP64', but model 'iris' expects 'FP32'"},
		{"a fixed dimension that is not the model's", "iris", []tensor.Tensor{f32([]int64{1, 3}, 1, 2, 3)},
			nil, InvalidArgument, "X", "unexpected shape for input 'X' for model 'iris'. Expected [-1, 4], got [1, 3]"},
		{"a rank that is not the model's", "iris", []tensor.Tensor{f32([]int64{4}, row...)},
			nil, InvalidArgument, "X", "Expected [-1, 4], got [4]"},
		{"a batch over max_batch_size", "iris", []tensor.Tensor{f32([]int64{65, 4}, many...)},
			nil, InvalidArgument, "X", "inference request batch-size must be <= 64 for 'iris', input 'X' has 65"},
		{"batches that disagree", "tabular", []tensor.Tensor{f32([]int64{1, 3}, 1, 2, 3), i64([]int64{2}, 0, 1)},
			nil, InvalidArgument, "category", "validation failed: inputs.category: batch of 2 differs from input numeric's batch of 1"},
		{"an unknown output", "iris", []tensor.Tensor{f32([]int64{1, 4}, row...)},
			[]RequestedOutput{{Name: "nope"}}, InvalidArgument, "", "unexpected inference output 'nope' for model 'iris'"},
		{"an output asked for twice", "iris", []tensor.Tensor{f32([]int64{1, 4}, row...)},
			[]RequestedOutput{{Name: "label"}, {Name: "label"}}, InvalidArgument, "", "output 'label' is requested twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, release, err := c.Acquire(tc.model, "")
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			_, err = c.Infer(t.Context(), m, &Request{Inputs: tc.inputs, Outputs: tc.outputs})
			var e *Error
			if !errors.As(err, &e) || e.Kind != tc.kind || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("got %v (%T), want %v %q", err, err, tc.kind, tc.msg)
			}
			if tc.input != "" && (len(e.Details) != 1 || e.Details[0].Input != tc.input) {
				t.Errorf("details %+v, want input %s", e.Details, tc.input)
			}
		})
	}
}

// TestBatchAgreementWithBatching pins that inputs whose batches disagree
// are refused before they reach a batcher, which merges and splits
// requests by one input's batch and would otherwise hand a client another
// request's rows.
func TestBatchAgreementWithBatching(t *testing.T) {
	c := shipped(t, runtime.ControlNone)
	m, err := runtime.LoadModel("tabular", "1", "../../models/tabular/model.onnx",
		&runtime.Config{MaxBatchSize: 8, DynamicBatching: &runtime.DynamicBatching{}}, runtime.LoadOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = c.Infer(t.Context(), m, &Request{Inputs: []tensor.Tensor{f32([]int64{1, 3}, 1, 2, 3), i64([]int64{2}, 0, 1)}})
	var e *Error
	if !errors.As(err, &e) || e.Kind != InvalidArgument || !strings.Contains(e.Message, "batch of 2 differs from input numeric's batch of 1") {
		t.Errorf("got %v", err)
	}
}

// TestDeclare pins the checks a named input meets before its data is
// read: unknown names, repeats, unknown and wrong datatypes, shapes.
func TestDeclare(t *testing.T) {
	c := shipped(t, runtime.ControlNone)
	m, release, err := c.Acquire("tabular", "")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	in := NewInputs(m)
	if i, err := in.Declare("category", "INT64", []int64{2}); err != nil || i != 1 {
		t.Fatalf("Declare(category) = %d %v", i, err)
	}
	for _, tc := range []struct {
		name, datatype string
		shape          []int64
		msg            string
	}{
		{"category", "INT64", []int64{2}, "input 'category' appears twice"},
		{"Z", "FP32", []int64{1}, "unexpected inference input 'Z' for model 'tabular'"},
		{"numeric", "FLOAT", []int64{1, 3}, "input 'numeric': unknown datatype 'FLOAT'"},
		{"numeric", "float32", []int64{1, 3}, "input 'numeric': unknown datatype 'float32'"},
		{"numeric", "FP64", []int64{1, 3}, "inference input 'numeric' data-type is 'FP64', but model 'tabular' expects 'FP32'"},
		{"numeric", "FP32", []int64{1, 4}, "unexpected shape for input 'numeric'"},
	} {
		_, err := in.Declare(tc.name, tc.datatype, tc.shape)
		var e *Error
		if !errors.As(err, &e) || e.Kind != InvalidArgument || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("Declare(%s, %s, %v) = %v, want %q", tc.name, tc.datatype, tc.shape, err, tc.msg)
		}
	}
}

// TestInferOutputs pins output selection and classification: by default
// every tensor output in the model's order; named ones in the request's
// order; top-k as Triton's "score:index:label" strings.
func TestInferOutputs(t *testing.T) {
	c := shipped(t, runtime.ControlNone)
	m, release, err := c.Acquire("iris", "")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	in := f32([]int64{1, 4}, 5.1, 3.5, 1.4, 0.2) // setosa, by the export's expected.json
	resp, err := c.Infer(t.Context(), m, &Request{Inputs: []tensor.Tensor{in}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range resp.Outputs {
		names = append(names, o.Name)
	}
	if want := "label,probabilities"; strings.Join(names, ",") != want {
		t.Errorf("default outputs %v, want %s", names, want)
	}
	all, err := c.InferAll(t.Context(), m, &Request{Inputs: []tensor.Tensor{in}})
	if err != nil || len(all) != len(m.Signature.Outputs) || all[0].Data.([]int64)[0] != 0 {
		t.Errorf("InferAll: %v %v", all, err)
	}
	if _, err := c.InferAll(t.Context(), m, &Request{Inputs: []tensor.Tensor{f32([]int64{1, 3}, 1, 2, 3)}}); err == nil {
		t.Error("InferAll ran inputs that do not fit the model")
	}
	resp, err = c.Infer(t.Context(), m, &Request{Inputs: []tensor.Tensor{in},
		Outputs: []RequestedOutput{{Name: "probabilities", Classes: 2}, {Name: "label"}}})
	if err != nil {
		t.Fatal(err)
	}
	top := resp.Outputs[0].Tensor
	if resp.Outputs[0].Name != "probabilities" || top.DType != tensor.String || fmt.Sprint(top.Shape) != "[1 2]" ||
		!strings.HasSuffix(top.Data.([]string)[0], ":0:setosa") {
		t.Errorf("classification %v %v %v", resp.Outputs[0].Name, top.Shape, top.Data)
	}
	if resp.Outputs[1].Name != "label" || resp.Outputs[1].Tensor.Data.([]int64)[0] != 0 {
		t.Errorf("label %+v", resp.Outputs[1])
	}

	zm, err := runtime.LoadModel("zipmap", "1", "../../runtime/testdata/zipmap.onnx", nil, runtime.LoadOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer zm.Close()
	x := f32([]int64{1, 3}, 1, 2, 3)
	resp, err = c.Infer(t.Context(), zm, &Request{Inputs: []tensor.Tensor{x}})
	if err != nil || len(resp.Outputs) != 1 || resp.Outputs[0].Name != "probabilities" {
		t.Errorf("ZipMap model's default outputs: %+v %v", resp, err)
	}
	if all, err := c.InferAll(t.Context(), zm, &Request{Inputs: []tensor.Tensor{x}}); err != nil || len(all) != 3 {
		t.Errorf("ZipMap model's outputs for /v1: %d %v, want all 3, maps included", len(all), err)
	}
	_, err = c.Infer(t.Context(), zm, &Request{Inputs: []tensor.Tensor{x}, Outputs: []RequestedOutput{{Name: "output_probability"}}})
	if err == nil || !strings.Contains(err.Error(), "is a sequence of maps (ZipMap)") {
		t.Errorf("ZipMap output asked for: %v", err)
	}
	_, err = c.Infer(t.Context(), zm, &Request{Inputs: []tensor.Tensor{x}, Outputs: []RequestedOutput{{Name: "probabilities", Classes: 1}}})
	if err != nil {
		t.Errorf("classification of a float output: %v", err)
	}
}

// TestModelControlPolicy pins that load and unload are refused outside
// explicit mode, saying what the mode is (with Triton's words for poll), and that explicit mode refuses the
// overrides it cannot honour before touching the repository.
func TestModelControlPolicy(t *testing.T) {
	for mode, want := range map[runtime.ModelControl]string{
		"":                  "explicit model load / unload is not allowed: the server runs with --model-control=none; start it with --model-control=explicit",
		runtime.ControlNone: "explicit model load / unload is not allowed: the server runs with --model-control=none; start it with --model-control=explicit",
		runtime.ControlPoll: "explicit model load / unload is not allowed if polling is enabled",
	} {
		c := shipped(t, mode)
		for name, op := range map[string]func() error{
			"load": func() error { return c.Load("iris", nil) }, "unload": func() error { return c.Unload("iris") },
		} {
			var e *Error
			if err := op(); !errors.As(err, &e) || e.Kind != NotAllowed || e.Message != want {
				t.Errorf("mode %q %s: %v", mode, name, err)
			}
		}
	}
	c := shipped(t, runtime.ControlExplicit)
	for _, p := range []string{"config", "file:1/model.onnx"} {
		var e *Error
		if err := c.Load("iris", []string{"unload_dependents", p}); !errors.As(err, &e) || e.Kind != InvalidArgument || !strings.Contains(e.Message, "'"+p+"' is not supported") {
			t.Errorf("load with %s: %v", p, err)
		}
	}
	if err := c.Load("iris", nil); err != nil {
		t.Errorf("explicit load of an unchanged model: %v", err)
	}
	var e *Error
	if err := c.Load("nope", nil); !errors.As(err, &e) || e.Kind != FailedPrecondition {
		t.Errorf("load of a missing model: %v", err)
	}
}

// TestDeadline pins which deadline a request runs under, the shortest of
// the server's, the model's request_timeout, the request's own and the
// client's, and that once it passes the context's cause names the core's
// bound that did, or is the client's plain DeadlineExceeded.
func TestDeadline(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		server, model, request, client time.Duration // 0: none
		want                           time.Duration // 0: no deadline
		cause                          string
	}{
		{0, 0, 0, 0, 0, ""},
		{20 * ms, 0, 0, 0, 20 * ms, "the server's request timeout (20ms) passed"},
		{0, 20 * ms, 0, 0, 20 * ms, "the model's request_timeout (20ms) passed"},
		{0, 0, 20 * ms, 0, 20 * ms, "the request's timeout parameter (20ms) passed"},
		{40 * ms, 20 * ms, 0, 0, 20 * ms, "the model's request_timeout (20ms) passed"},
		{20 * ms, 40 * ms, 0, 0, 20 * ms, "the server's request timeout (20ms) passed"},
		{60 * ms, 40 * ms, 20 * ms, 0, 20 * ms, "the request's timeout parameter (20ms) passed"},
		{20 * ms, 40 * ms, 60 * ms, 0, 20 * ms, "the server's request timeout (20ms) passed"},
		{60 * ms, 40 * ms, 30 * ms, 20 * ms, 20 * ms, "context deadline exceeded"},
		{0, 0, 0, 20 * ms, 20 * ms, "context deadline exceeded"},
		{time.Hour, 0, time.Hour, 0, time.Hour, ""}, // not waited for
	} {
		name := fmt.Sprintf("server %v model %v request %v client %v", tc.server, tc.model, tc.request, tc.client)
		c := &Core{timeout: tc.server}
		m := &runtime.Model{Config: &runtime.Config{RequestTimeout: tc.model}}
		start := time.Now()
		parent, stop := context.Background(), context.CancelFunc(func() {})
		if tc.client > 0 {
			parent, stop = context.WithTimeout(parent, tc.client)
		}
		ctx, cancel := c.deadline(parent, m, tc.request)
		dl, ok := ctx.Deadline()
		switch {
		case tc.want == 0 && ok:
			t.Errorf("%s: deadline %v, want none", name, dl)
		case tc.want > 0 && (!ok || dl.Before(start.Add(tc.want)) || dl.After(time.Now().Add(tc.want))):
			t.Errorf("%s: deadline in %v, want %v", name, dl.Sub(start), tc.want)
		}
		if tc.cause != "" {
			<-ctx.Done()
			if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) || cause.Error() != tc.cause {
				t.Errorf("%s: cause %v, want %q, a DeadlineExceeded", name, cause, tc.cause)
			}
		}
		cancel()
		stop()
	}
}

// TestFrom pins the kind of every error the runtime and context return.
func TestFrom(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind Kind
	}{
		{&runtime.NotFoundError{Name: "m"}, NotFound},
		{&runtime.UnavailableError{Name: "m", Err: errors.New("bad")}, Unavailable},
		{&runtime.OverloadedError{Model: "m", Queue: 1, RetryAfter: time.Second}, Overloaded},
		{&runtime.LoadError{Name: "m", Err: errors.New("bad")}, FailedPrecondition},
		{&runtime.RunError{Model: "m", Err: errors.New("ort")}, Internal},
		{fmt.Errorf("run: %w", context.Canceled), Cancelled},
		{fmt.Errorf("run: %w", context.DeadlineExceeded), DeadlineExceeded},
		{&timeoutError{bound: "the model's request_timeout", d: time.Second}, DeadlineExceeded},
		{runtime.ErrClosed, Unavailable},
		{errors.New("anything else"), Internal},
		{Errorf(ResourceExhausted, "big"), ResourceExhausted},
	} {
		if got := From(tc.err); got.Kind != tc.kind {
			t.Errorf("From(%T %v) = %v, want %v", tc.err, tc.err, got.Kind, tc.kind)
		}
	}
	if e := From(&runtime.OverloadedError{Model: "m", RetryAfter: time.Second}); e.RetryAfter != time.Second {
		t.Errorf("overloaded: RetryAfter %v", e.RetryAfter)
	}
	if e := From(&timeoutError{bound: "the model's request_timeout", d: time.Second}); e.Message != "request deadline exceeded before the model answered: the model's request_timeout (1s) passed" {
		t.Errorf("a deadline the core set: %q, want the bound named", e.Message)
	}
	if fail(nil) != nil {
		t.Error("fail(nil) is not nil")
	}
}
