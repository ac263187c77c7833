// Command floor is the HTTP floor of the benchmark: a std-lib Go server
// that reads the request body and writes a fixed answer, so that
// onnxserve's numbers can be read as a fraction of what net/http alone
// allows on the same core.
//
// With -model NAME=PATH, it also serves POST /ort/NAME/BATCH: the body is
// read, then the model runs once on input tensors made at start (random
// rows of BATCH; nothing is decoded) through an IoBinding made once, and
// the same fixed answer is written. That is the limit of issue 15 measured
// whole, in one server, rather than as the sum of the floor and ORT's run:
// it pays what a request costs on this machine at the rate the model
// allows (such as waking the load generator for each answer, which a
// floor answering at 50k/s rarely does). It uses onnxruntime_go directly,
// with the session settings onnxserve gives a model by default, and none
// of onnxserve's code.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	lib := flag.String("ort-lib", "", "the ONNX Runtime library, for -model")
	var models modelFlags
	flag.Var(&models, "model", "NAME=PATH of a model to serve on /ort/NAME/BATCH (repeatable)")
	flag.Parse()
	answer := []byte(`{"model":"floor","version":"1","outputs":{"label":[0]}}`)
	// Bodies are read into pooled buffers, as a real server would read them
	// before decoding; nothing is decoded.
	pool := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	read := func(w http.ResponseWriter, r *http.Request) (*bytes.Buffer, bool) {
		buf := pool.Get().(*bytes.Buffer)
		buf.Reset()
		if _, err := buf.ReadFrom(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			pool.Put(buf)
			return nil, false
		}
		return buf, true
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if buf, ok := read(w, r); ok {
			w.Header().Set("Content-Type", "application/json")
			w.Write(answer)
			pool.Put(buf)
		}
	})
	if len(models) > 0 {
		ort.SetSharedLibraryPath(*lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			log.Fatalf("ONNX Runtime %s: %v", *lib, err)
		}
		runs := map[string]*runner{}
		for name, path := range models {
			r, err := newRunner(path)
			if err != nil {
				log.Fatalf("model %s: %v", name, err)
			}
			runs[name] = r
		}
		http.HandleFunc("POST /ort/{name}/{batch}", func(w http.ResponseWriter, r *http.Request) {
			run, ok := runs[r.PathValue("name")]
			batch, err := strconv.Atoi(r.PathValue("batch"))
			if !ok || err != nil || batch < 1 {
				http.NotFound(w, r)
				return
			}
			buf, ok := read(w, r)
			if !ok {
				return
			}
			if err := run.run(batch); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			} else {
				w.Header().Set("Content-Type", "application/json")
				w.Write(answer)
			}
			pool.Put(buf)
		})
	}
	log.Fatal(http.ListenAndServe(*addr, nil))
}

type modelFlags map[string]string

func (m *modelFlags) String() string { return fmt.Sprint(map[string]string(*m)) }

func (m *modelFlags) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return fmt.Errorf("want NAME=PATH, got %q", v)
	}
	if *m == nil {
		*m = modelFlags{}
	}
	(*m)[name] = path
	return nil
}

// runner runs one model's shared session on bindings made once per batch,
// GOMAXPROCS of them at most: a run waits for a free one, as onnxserve's
// runs wait for a slot.
type runner struct {
	session *ort.DynamicAdvancedSession
	inputs  []ort.InputOutputInfo
	outputs []ort.InputOutputInfo
	mu      sync.Mutex
	free    map[int]chan *ort.IoBinding
	// values are every binding's: ORT reads and writes their Go memory,
	// which must stay reachable as long as the bindings.
	values []ort.Value
}

func newRunner(path string) (*runner, error) {
	inputs, outputs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	// onnxserve's defaults: one intra-op thread, no spinning.
	for _, err := range []error{
		so.SetIntraOpNumThreads(1),
		so.SetInterOpNumThreads(1),
		so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"),
		so.AddSessionConfigEntry("session.inter_op.allow_spinning", "0"),
	} {
		if err != nil {
			return nil, err
		}
	}
	names := func(infos []ort.InputOutputInfo) []string {
		out := make([]string, len(infos))
		for i, info := range infos {
			out[i] = info.Name
		}
		return out
	}
	s, err := ort.NewDynamicAdvancedSession(path, names(inputs), names(outputs), so)
	if err != nil {
		return nil, err
	}
	return &runner{session: s, inputs: inputs, outputs: outputs, free: map[int]chan *ort.IoBinding{}}, nil
}

func (r *runner) run(batch int) error {
	r.mu.Lock()
	free, ok := r.free[batch]
	if !ok {
		n := runtime.GOMAXPROCS(0)
		free = make(chan *ort.IoBinding, n)
		for range n {
			b, err := r.binding(batch)
			if err != nil {
				r.mu.Unlock()
				return err
			}
			free <- b
		}
		r.free[batch] = free
	}
	r.mu.Unlock()
	b := <-free
	defer func() { free <- b }()
	return r.session.RunWithBinding(b)
}

// binding binds random inputs and outputs of batch rows (dim 0) to a new
// IoBinding; the values live as long as the process (r.values), under r.mu.
func (r *runner) binding(batch int) (*ort.IoBinding, error) {
	b, err := r.session.CreateIoBinding()
	if err != nil {
		return nil, err
	}
	for _, in := range r.inputs {
		v, err := newTensor(in, batch, true)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		r.values = append(r.values, v)
		if err := b.BindInput(in.Name, v); err != nil {
			return nil, err
		}
	}
	for _, out := range r.outputs {
		v, err := newTensor(out, batch, false)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", out.Name, err)
		}
		r.values = append(r.values, v)
		if err := b.BindOutput(out.Name, v); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// newTensor makes a tensor of info's type and shape, its dynamic dim 0
// batch, random when filled.
func newTensor(info ort.InputOutputInfo, batch int, filled bool) (ort.Value, error) {
	if info.OrtValueType != ort.ONNXTypeTensor {
		return nil, fmt.Errorf("not a tensor: %v", info.OrtValueType)
	}
	shape := ort.Shape(slices.Clone(info.Dimensions)) // NewShape(dims...) would alias them
	for i, d := range shape {
		switch {
		case d >= 0:
		case i == 0:
			shape[i] = int64(batch)
		default:
			return nil, fmt.Errorf("dynamic dim %d in %v", i, info.Dimensions)
		}
	}
	switch info.DataType {
	case ort.TensorElementDataTypeFloat:
		data := make([]float32, shape.FlattenedSize())
		if filled {
			for i := range data {
				data[i] = rand.Float32()
			}
		}
		return ort.NewTensor(shape, data)
	case ort.TensorElementDataTypeInt64:
		return ort.NewTensor(shape, make([]int64, shape.FlattenedSize()))
	default:
		return nil, fmt.Errorf("element type %v not supported", info.DataType)
	}
}
