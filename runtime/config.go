package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// Config is a model's optional config.yaml. Unknown keys are an error: a
// typo such as `feature:` must not silently turn a feature off.
type Config struct {
	// Description is shown in /v1/models and in the API docs.
	Description string `yaml:"description" json:"description,omitempty"`
	// Labels are the class names of a classifier's score output, in index order.
	Labels []string `yaml:"labels" json:"labels,omitempty"`
	// Features are the ordered column names of a 2-D numeric input; they
	// enable named-field requests.
	Features []string `yaml:"features" json:"features,omitempty"`
	// MaxBatchSize bounds dim 0 of batched inputs; 0 means no bound.
	MaxBatchSize int `yaml:"max_batch_size" json:"max_batch_size,omitempty"`
	// IntraOpThreads is ORT's per-session intra-op pool size. 0 means 1:
	// ORT's own default sizes the pool from host cores, blind to cgroups,
	// and its spinning workers starve concurrent requests.
	IntraOpThreads int `yaml:"intra_op_threads" json:"intra_op_threads,omitempty"`
	// Example is a predict request body shown prefilled in the API docs.
	Example map[string]any `yaml:"example" json:"example,omitempty"`
	// MaxQueueSize bounds the requests waiting to run on this model (in its
	// batcher's queue, or for a run slot); one more is refused at once as
	// overloaded, so a burst costs clients a retry, not a timeout. 0 means
	// no bound.
	MaxQueueSize int `yaml:"max_queue_size" json:"max_queue_size,omitempty"`
	// DynamicBatching, when set, merges concurrent requests into one run.
	DynamicBatching *DynamicBatching `yaml:"dynamic_batching" json:"dynamic_batching,omitempty"`
}

// DynamicBatching configures the merging of concurrent requests along
// dim 0, as Triton's dynamic_batching does.
type DynamicBatching struct {
	// MaxBatchSize is the most rows one merged run holds; a request with
	// more rows runs alone.
	MaxBatchSize int `yaml:"max_batch_size" json:"max_batch_size"`
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
	if err := c.DynamicBatching.validate(); err != nil {
		return fmt.Errorf("dynamic_batching: %w", err)
	}
	if err := uniqueNames("features", c.Features); err != nil {
		return err
	}
	return uniqueNames("labels", c.Labels)
}

func (b *DynamicBatching) validate() error {
	if b == nil {
		return nil
	}
	if b.MaxBatchSize < 1 {
		return fmt.Errorf("max_batch_size must be 1 or more, got %d", b.MaxBatchSize)
	}
	if b.MaxQueueDelayUS < 0 || b.MaxQueueDelayUS > 1e6 {
		return fmt.Errorf("max_queue_delay_us must be 0 to 1000000, got %d", b.MaxQueueDelayUS)
	}
	prev := 0
	for _, n := range b.PreferredBatchSizes {
		if n <= prev || n > b.MaxBatchSize {
			return fmt.Errorf("preferred_batch_sizes must ascend strictly within 1..max_batch_size (%d), got %v", b.MaxBatchSize, b.PreferredBatchSizes)
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
