package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a model's optional config.yaml. Unknown keys are an error: a
// typo such as `feature:` must not silently turn a feature off.
type Config struct {
	// Description is shown in /v1/models and in the API docs.
	Description string `yaml:"description" json:"description,omitempty"`
	// Labels are the class names of a classifier's score output, in index order.
	Labels []string `yaml:"labels" json:"labels,omitempty"`
	// LabelsOutput names the output the labels score when several float
	// outputs have a last dimension of len(Labels): attaching them to the
	// first would be a guess.
	LabelsOutput string `yaml:"labels_output" json:"labels_output,omitempty"`
	// Softmax says that the labels' output holds logits: the predictions'
	// scores are their softmax, row by row. The output itself is returned
	// as the model gives it.
	Softmax bool `yaml:"softmax" json:"softmax,omitempty"`
	// Features are the ordered column names of a 2-D numeric input; they
	// enable named-field requests.
	Features []string `yaml:"features" json:"features,omitempty"`
	// MaxBatchSize is the largest batch (dim 0 of batched inputs) a request
	// may send and, with dynamic batching, the most rows one merged run
	// holds, as Triton's model-level max_batch_size is. 0 means no bound,
	// and no dynamic batching.
	MaxBatchSize int `yaml:"max_batch_size" json:"max_batch_size,omitempty"`
	// IntraOpThreads is ORT's per-session intra-op pool size. 0 means 1:
	// ORT's own default sizes the pool from host cores, blind to cgroups,
	// and its spinning workers starve concurrent requests.
	IntraOpThreads int `yaml:"intra_op_threads" json:"intra_op_threads,omitempty"`
	// Example is a predict request body shown prefilled in the API docs.
	Example map[string]any `yaml:"example" json:"example,omitempty"`
	// Warmup, when set, runs the model at load, before it counts as ready.
	Warmup *Warmup `yaml:"warmup" json:"warmup,omitempty"`
	// MaxQueueSize bounds the requests waiting to run on this model (in its
	// batcher's queue, or for a run slot); one more is refused at once as
	// overloaded, so a burst costs clients a retry, not a timeout. 0 means
	// no bound.
	MaxQueueSize int `yaml:"max_queue_size" json:"max_queue_size,omitempty"`
	// DynamicBatching, when set, merges concurrent requests into one run.
	DynamicBatching *DynamicBatching `yaml:"dynamic_batching" json:"dynamic_batching,omitempty"`
	// RequestTimeout bounds every request to this model, queued and
	// running, as one more bound beside the server's, the request's own
	// and the client's deadline: the shortest wins. 0 means no bound of
	// its own.
	RequestTimeout time.Duration `yaml:"request_timeout" json:"request_timeout,omitempty"`
	// ExecutionProvider is what this model runs on, instead of the
	// server's --execution-provider (provider.go).
	ExecutionProvider *ExecutionProvider `yaml:"execution_provider" json:"execution_provider,omitempty"`
	// ExecutionProviderStrict makes an execution_provider that cannot be
	// used a load error, where it would otherwise fall back to CPU with a
	// warning: for a model too slow to serve on CPU.
	ExecutionProviderStrict bool `yaml:"execution_provider_strict" json:"execution_provider_strict,omitempty"`
	// PrunedSessions bounds the sessions over part of the graph the model
	// may make, one per set of outputs requests ask for (pruned.go); past
	// it the whole graph serves. Nil is DefaultPrunedSessions, 0 none.
	PrunedSessions *int `yaml:"pruned_sessions" json:"pruned_sessions,omitempty"`
	// Outputs configure outputs by name.
	Outputs map[string]OutputConfig `yaml:"outputs" json:"outputs,omitempty"`
	// Inputs configure inputs by name.
	Inputs map[string]InputConfig `yaml:"inputs" json:"inputs,omitempty"`
}

// InputConfig is what config.yaml says of one input.
type InputConfig struct {
	// Image declares the input a picture per row, which /v1 also takes
	// as image files (multipart/form-data).
	Image *InputImage `yaml:"image" json:"image,omitempty"`
}

// InputImage is how an image file becomes a row of its input
// (runtime/imagetensor does it).
type InputImage struct {
	// Layout is NCHW, NHWC or flat (a row of H*W*C values, channels last).
	Layout string `yaml:"layout" json:"layout"`
	// Channels is gray, rgb or bgr.
	Channels string `yaml:"channels" json:"channels"`
	// Size is [H, W]; when unset, the model's shape gives it.
	Size []int `yaml:"size" json:"size,omitempty"`
	// Resize is how a file of another size is brought to Size: stretch
	// (the default: width and height scaled each to fit), fit (the aspect
	// kept, centred, padded with black) or crop (the aspect kept, the
	// shorter side filling, the centre kept); each target pixel takes the
	// source pixel nearest its centre (imagetensor.Resize).
	Resize string `yaml:"resize" json:"resize,omitempty"`
	// Scale multiplies each 0..255 pixel value; 0 means 1/255.
	Scale float64 `yaml:"scale" json:"scale,omitempty"`
	// Mean and Std, one per channel or one for all, normalise the scaled
	// value: (v - mean) / std.
	Mean []float64 `yaml:"mean" json:"mean,omitempty"`
	Std  []float64 `yaml:"std" json:"std,omitempty"`
}

// OutputConfig is what config.yaml says of one output.
type OutputConfig struct {
	// Image declares the output a picture per row ([H, W], [1, H, W] or
	// [C, H, W] after a dynamic batch dimension), which a client may ask
	// for as a PNG.
	Image *OutputImage `yaml:"image" json:"image,omitempty"`
}

// OutputImage is an image output's value range: Range[0] is black (0),
// Range[1] white (255).
type OutputImage struct {
	Range [2]float64 `yaml:"range" json:"range"`
}

// DynamicBatching configures the merging of concurrent requests along
// dim 0, as Triton's dynamic_batching does; the top-level max_batch_size
// caps the rows of a merged run.
type DynamicBatching struct {
	// MaxQueueDelayUS is how long the oldest queued request may wait for
	// more to merge with; 0 runs whatever is queued as soon as a run slot
	// is free, which already batches under load.
	MaxQueueDelayUS int `yaml:"max_queue_delay_us" json:"max_queue_delay_us,omitempty"`
	// PreferredBatchSizes, ascending, are the sizes to cut batches to when
	// more rows are queued: fewer distinct shapes keep ORT's per-shape
	// memory plans few.
	PreferredBatchSizes []int `yaml:"preferred_batch_sizes" json:"preferred_batch_sizes,omitempty"`
}

// ReadConfig reads path; a missing file is an empty Config.
func ReadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := refuseNestedMaxBatchSize(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkDuration(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// refuseNestedMaxBatchSize refuses the dynamic_batching.max_batch_size key
// that configs wrote before the top-level max_batch_size bounded merged
// runs too, saying what to write instead: the strict decoder would only
// call it an unknown field. Reading it as the top-level value would
// silently change the bound on requests.
func refuseNestedMaxBatchSize(b []byte) error {
	var old struct {
		DynamicBatching struct {
			MaxBatchSize yaml.Node `yaml:"max_batch_size"`
		} `yaml:"dynamic_batching"`
	}
	// Anything this lenient read cannot make sense of, the strict decoder
	// reports properly.
	if yaml.Unmarshal(b, &old) != nil || old.DynamicBatching.MaxBatchSize.Kind == 0 {
		return nil
	}
	return errors.New("dynamic_batching.max_batch_size is no longer read: delete it and set max_batch_size at the top level, which bounds both a request and a merged batch")
}

// checkDuration says what request_timeout takes when it is not a Go
// duration: the strict decoder would only say that it cannot unmarshal
// `250` into time.Duration, leaving the unit to guess.
func checkDuration(b []byte) error {
	var raw struct {
		RequestTimeout yaml.Node `yaml:"request_timeout"`
	}
	// Anything this lenient read cannot make sense of, and an empty value
	// (none), the strict decoder handles.
	if yaml.Unmarshal(b, &raw) != nil || raw.RequestTimeout.Kind != yaml.ScalarNode || raw.RequestTimeout.Tag == "!!null" {
		return nil
	}
	if _, err := time.ParseDuration(raw.RequestTimeout.Value); err != nil || raw.RequestTimeout.Tag != "!!str" {
		return fmt.Errorf("request_timeout: %s is not a duration: write it with its unit, as \"250ms\" or \"2s\" (\"0s\" for none)", raw.RequestTimeout.Value)
	}
	return nil
}

func (c *Config) validate() error {
	if c.MaxBatchSize < 0 {
		return fmt.Errorf("max_batch_size must be 0 or more, got %d", c.MaxBatchSize)
	}
	if c.IntraOpThreads < 0 {
		return fmt.Errorf("intra_op_threads must be 0 or more, got %d", c.IntraOpThreads)
	}
	if c.MaxQueueSize < 0 {
		return fmt.Errorf("max_queue_size must be 0 or more, got %d", c.MaxQueueSize)
	}
	if c.PrunedSessions != nil && *c.PrunedSessions < 0 {
		return fmt.Errorf("pruned_sessions must be 0 or more, got %d", *c.PrunedSessions)
	}
	if c.RequestTimeout < 0 {
		return fmt.Errorf("request_timeout must be 0 or more, got %v", c.RequestTimeout)
	}
	if c.DynamicBatching != nil && c.MaxBatchSize == 0 {
		// Without it a merged run would have no bound.
		return errors.New("dynamic_batching needs a top-level max_batch_size of 1 or more, the largest batch a request may send and the most rows one merged run holds; it is 0 or unset")
	}
	if err := c.DynamicBatching.validate(c.MaxBatchSize); err != nil {
		return fmt.Errorf("dynamic_batching: %w", err)
	}
	if err := c.ExecutionProvider.validate(); err != nil {
		return fmt.Errorf("execution_provider: %w", err)
	}
	if c.ExecutionProviderStrict && (c.ExecutionProvider == nil || c.ExecutionProvider.Name == ProviderCPU || c.ExecutionProvider.Name == ProviderAuto) {
		// Strict about what? auto promises a fallback, cpu always works.
		return errors.New("execution_provider_strict needs an execution_provider of cuda or tensorrt in the same config.yaml")
	}
	if err := c.Warmup.validate(c.MaxBatchSize); err != nil {
		return fmt.Errorf("warmup: %w", err)
	}
	if len(c.Labels) == 0 && c.LabelsOutput != "" {
		return fmt.Errorf("labels_output %q names the output that labels score, and there are no labels", c.LabelsOutput)
	}
	if len(c.Labels) == 0 && c.Softmax {
		return errors.New("softmax turns the labels' output into their scores, and there are no labels")
	}
	for name, in := range c.Inputs {
		if err := in.Image.validate(); err != nil {
			return fmt.Errorf("inputs.%s.image: %w", name, err)
		}
	}
	for name, o := range c.Outputs {
		if o.Image != nil && !(o.Image.Range[0] < o.Image.Range[1]) {
			return fmt.Errorf("outputs.%s.image.range must be [low, high] with low < high, got %v", name, o.Image.Range)
		}
	}
	if err := uniqueNames("features", c.Features); err != nil {
		return err
	}
	return uniqueNames("labels", c.Labels)
}

// DefaultPrunedSessions is pruned_sessions when config.yaml has none: a
// session per output set costs about what the model's own does (a graph
// cut to a few of its outputs can cost as much), and a handful covers the
// output sets clients ask for in practice.
const DefaultPrunedSessions = 4

// prunedSessions is the bound pruned_sessions sets.
func (c *Config) prunedSessions() int {
	if c.PrunedSessions == nil {
		return DefaultPrunedSessions
	}
	return *c.PrunedSessions
}

// validate checks b against the top-level max_batch_size, which caps its
// merged runs.
func (b *DynamicBatching) validate(maxBatch int) error {
	if b == nil {
		return nil
	}
	if b.MaxQueueDelayUS < 0 || b.MaxQueueDelayUS > 1e6 {
		return fmt.Errorf("max_queue_delay_us must be 0 to 1000000, got %d", b.MaxQueueDelayUS)
	}
	prev := 0
	for _, n := range b.PreferredBatchSizes {
		if n <= prev || n > maxBatch {
			return fmt.Errorf("preferred_batch_sizes must ascend strictly within 1..max_batch_size (%d), got %v", maxBatch, b.PreferredBatchSizes)
		}
		prev = n
	}
	return nil
}

func uniqueNames(what string, names []string) error {
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("%s[%d] is empty", what, i)
		}
		if seen[n] {
			return fmt.Errorf("%s: %q appears twice", what, n)
		}
		seen[n] = true
	}
	return nil
}

func (im *InputImage) validate() error {
	if im == nil {
		return nil
	}
	switch im.Layout {
	case "NCHW", "NHWC", "flat":
	default:
		return fmt.Errorf("layout must be NCHW, NHWC or flat, got %q", im.Layout)
	}
	channels := 3
	switch im.Channels {
	case "gray":
		channels = 1
	case "rgb", "bgr":
	default:
		return fmt.Errorf("channels must be gray, rgb or bgr, got %q", im.Channels)
	}
	if im.Size != nil && (len(im.Size) != 2 || im.Size[0] < 1 || im.Size[1] < 1) {
		return fmt.Errorf("size must be [H, W] of at least 1, got %v", im.Size)
	}
	switch im.Resize {
	case "", "stretch", "fit", "crop":
	default:
		return fmt.Errorf("resize must be stretch, fit or crop, got %q", im.Resize)
	}
	for key, vals := range map[string][]float64{"mean": im.Mean, "std": im.Std} {
		if len(vals) > 1 && len(vals) != channels {
			return fmt.Errorf("%s has %d values for %d channels; give one, or one per channel", key, len(vals), channels)
		}
	}
	for _, v := range im.Std {
		if v == 0 {
			return errors.New("std must not be 0")
		}
	}
	return nil
}
