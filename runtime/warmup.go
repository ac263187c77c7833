package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Warmup is config.yaml's warmup: runs of the model inside its load, so
// that the first requests do not pay ONNX Runtime's first-run costs.
// LoadModel returns only once they are done, and the repository publishes
// a model only once LoadModel has returned: no readiness check, and no
// request, can see a model half warm.
type Warmup struct {
	// Runs is how many times the model runs; 1 or more.
	Runs int `yaml:"runs" json:"runs"`
	// BatchSize is dim 0 of every input whose dim 0 is dynamic; 1 or more,
	// and no more than max_batch_size when that is set, as a request may
	// send no more.
	BatchSize int `yaml:"batch_size" json:"batch_size"`
}

func (w *Warmup) validate(maxBatch int) error {
	if w == nil {
		return nil
	}
	if w.Runs < 1 {
		return fmt.Errorf("runs must be 1 or more, got %d", w.Runs)
	}
	if w.BatchSize < 1 {
		return fmt.Errorf("batch_size must be 1 or more, got %d", w.BatchSize)
	}
	if maxBatch > 0 && w.BatchSize > maxBatch {
		return fmt.Errorf("batch_size must be at most max_batch_size (%d), got %d", maxBatch, w.BatchSize)
	}
	return nil
}

// warmUp runs the configured warmup, if any. Each run takes a run slot,
// as a request does, so that warming a model that is being reloaded never
// takes a core from under the models serving. The runs serve no request,
// so the Observer is not told of them.
func (m *Model) warmUp(log *slog.Logger) error {
	w := m.Config.Warmup
	if w == nil {
		return nil
	}
	inputs, from := m.warmupInputs()
	batch := m.Batch(inputs)
	// A warmup may take long: the log says what the load is waiting for.
	log.Info("warming up model", "model", m.Name, "version", m.Version,
		"runs", w.Runs, "batch_size", w.BatchSize, "inputs", from)
	begin := time.Now()
	for i := range w.Runs {
		if err := m.limiter.Acquire(context.Background()); err != nil {
			return err
		}
		_, err := m.run(context.Background(), m.whole(), inputs, m.outputs, batch, nil, nil)
		m.limiter.Release()
		if err != nil {
			return fmt.Errorf("warmup run %d of %d at batch_size %d: %w", i+1, w.Runs, w.BatchSize, err)
		}
	}
	log.Info("model warmed up", "model", m.Name, "version", m.Version, "took", time.Since(begin))
	return nil
}

// warmupInputs are zeros (empty strings) of every input's dtype and shape,
// dynamic dim 0 being the warmup's batch_size and other dynamic dims 1;
// the features input is as wide as the features, as a /v1 request makes
// it, and holds the config's example in every row when the example is a
// named-feature body. from says which: "example" or "zeros".
func (m *Model) warmupInputs() (_ []tensor.Tensor, from string) {
	ins := zeroInputs(m.Signature.Inputs, m.Config.Warmup.BatchSize)
	features := m.Config.Features
	if len(features) == 0 {
		return ins, "zeros"
	}
	// checkConfig has made sure the model has one input, of shape
	// [-1, len(features)] or [-1, -1].
	in := &ins[0]
	in.Shape[1] = int64(len(features))
	in.Data = tensor.NewBuffer(in.DType, tensor.NumElements(in.Shape))
	row, ok := exampleRow(m.Config)
	if !ok {
		return ins, "zeros"
	}
	switch data := in.Data.(type) {
	case []float32: // also float16 and bfloat16, converted when the run starts
		for i := range data {
			data[i] = float32(row[i%len(row)])
		}
	case []float64:
		for i := range data {
			data[i] = row[i%len(row)]
		}
	default:
		// An integer input would need each value checked against its
		// range, as the request decoders do; zeros warm it up as well.
		return ins, "zeros"
	}
	return ins, "example"
}

// exampleRow reads the config's example as one row, in features order,
// when it is a named-feature body: every feature a number, and nothing
// else. Its other forms (instances, inputs) are /v1's to decode, and
// runtime knows no protocol, so a model with one of those warms up on
// zeros.
func exampleRow(c *Config) ([]float64, bool) {
	if len(c.Example) != len(c.Features) {
		return nil, false
	}
	row := make([]float64, len(c.Features))
	for i, f := range c.Features {
		// The numbers YAML decodes into an any.
		switch v := c.Example[f].(type) {
		case int:
			row[i] = float64(v)
		case uint64:
			row[i] = float64(v)
		case float64:
			row[i] = v
		default:
			return nil, false
		}
	}
	return row, true
}
