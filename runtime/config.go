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
	if err := uniqueNames("features", c.Features); err != nil {
		return err
	}
	return uniqueNames("labels", c.Labels)
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
