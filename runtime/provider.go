package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"

	ort "github.com/yalue/onnxruntime_go"
	"go.yaml.in/yaml/v3"
)

// Provider names an ONNX Runtime execution provider: what a session's
// graph runs on.
type Provider string

const (
	// ProviderCPU is ORT's own, always there.
	ProviderCPU Provider = "cpu"
	// ProviderCUDA needs a CUDA build of ONNX Runtime (its
	// libonnxruntime_providers_cuda.so beside the main library) and a GPU.
	ProviderCUDA Provider = "cuda"
	// ProviderTensorRT needs the TensorRT provider library and TensorRT
	// itself; it builds an engine per model at load, which can take minutes.
	ProviderTensorRT Provider = "tensorrt"
	// ProviderAuto is CUDA when it can be used, else CPU. Not TensorRT:
	// its engine build turns a load of milliseconds into minutes, which
	// nobody should get without asking.
	ProviderAuto Provider = "auto"
)

// providers are the names --execution-provider and config.yaml take.
var providers = []Provider{ProviderCPU, ProviderCUDA, ProviderTensorRT, ProviderAuto}

// ParseProvider reads a provider name.
func ParseProvider(s string) (Provider, error) {
	if p := Provider(s); slices.Contains(providers, p) {
		return p, nil
	}
	return "", fmt.Errorf("execution provider %q: want cpu, cuda, tensorrt or auto", s)
}

// ExecutionProvider is config.yaml's execution_provider: the provider's
// name alone (`execution_provider: cuda`), or with the device and the
// provider's own options, passed to ORT as they are:
//
//	execution_provider:
//	  name: cuda
//	  device_id: 1
//	  options: {gpu_mem_limit: 2147483648, cudnn_conv_algo_search: HEURISTIC}
type ExecutionProvider struct {
	Name     Provider          `yaml:"name" json:"name"`
	DeviceID int               `yaml:"device_id" json:"device_id,omitempty"`
	Options  map[string]string `yaml:"options" json:"options,omitempty"`
}

// UnmarshalYAML reads the name alone or the mapping, strictly: a custom
// unmarshaler's node.Decode does not inherit the file's KnownFields.
func (e *ExecutionProvider) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Name = Provider(n.Value)
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: execution_provider: want a name (cpu, cuda, tensorrt, auto) or a mapping of name, device_id and options", n.Line)
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains([]string{"name", "device_id", "options"}, k.Value) {
			return fmt.Errorf("line %d: execution_provider: unknown key %q: want name, device_id or options", k.Line, k.Value)
		}
	}
	type plain ExecutionProvider
	return n.Decode((*plain)(e))
}

func (e *ExecutionProvider) validate() error {
	if e == nil {
		return nil
	}
	if _, err := ParseProvider(string(e.Name)); err != nil {
		return err
	}
	if e.DeviceID < 0 {
		return fmt.Errorf("device_id must be 0 or more, got %d", e.DeviceID)
	}
	if _, ok := e.Options["device_id"]; ok {
		return errors.New("options.device_id: write it as device_id, beside name")
	}
	if e.Name == ProviderCPU && (e.DeviceID != 0 || len(e.Options) > 0) {
		return errors.New("cpu takes no device_id or options")
	}
	return nil
}

// ProviderError is a provider that cannot be used on this machine with
// this library: ORT's reason. Without execution_provider_strict the model
// falls back to CPU instead.
type ProviderError struct {
	Provider Provider
	Err      error
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("execution provider %s cannot be used: %v", e.Provider, e.Err)
}
func (e *ProviderError) Unwrap() error { return e.Err }

// attempts are the providers a session is tried with, in order; the last
// is the fallback.
func (e ExecutionProvider) attempts(strict bool) []Provider {
	switch {
	case e.Name == ProviderAuto:
		return []Provider{ProviderCUDA, ProviderCPU}
	case e.Name == ProviderCPU || e.Name == "":
		return []Provider{ProviderCPU}
	case strict:
		return []Provider{e.Name}
	}
	return []Provider{e.Name, ProviderCPU}
}

// appendProvider adds p to so, with e's device and options; an error is
// ORT's reason p cannot be used. CPU needs nothing: ORT always has it.
func appendProvider(so *ort.SessionOptions, p Provider, e ExecutionProvider) error {
	opts := map[string]string{"device_id": strconv.Itoa(e.DeviceID)}
	maps.Copy(opts, e.Options)
	switch p {
	case ProviderCUDA:
		return appendWith(ort.NewCUDAProviderOptions, so.AppendExecutionProviderCUDA, opts)
	case ProviderTensorRT:
		return appendWith(ort.NewTensorRTProviderOptions, so.AppendExecutionProviderTensorRT, opts)
	}
	return nil
}

// providerOptions are ORT's options of one provider, CUDA's or TensorRT's.
type providerOptions interface {
	Update(map[string]string) error
	Destroy() error
}

// appendWith makes a provider's options, sets opts on them and appends
// them; onnxruntime_go lets them be destroyed once appended.
func appendWith[O providerOptions](create func() (O, error), add func(O) error, opts map[string]string) error {
	o, err := create()
	if err != nil {
		return err
	}
	defer o.Destroy()
	if err := o.Update(opts); err != nil {
		return err
	}
	return add(o)
}

// chooseProvider runs create with each provider e allows until one
// succeeds, and says which did. A provider that fails, to append or to
// create the session with, is a ProviderError: returned when strict,
// else logged (at WARN when it was asked for by name, at INFO for auto,
// whose fallback is what it promises) and the next one tried. A failure
// on CPU is the model's own.
func chooseProvider(e ExecutionProvider, strict bool, log *slog.Logger, model string, create func(Provider) error) (Provider, error) {
	tries := e.attempts(strict)
	for i, p := range tries {
		err := create(p)
		if err == nil {
			return p, nil
		}
		if p == ProviderCPU {
			return "", err
		}
		perr := &ProviderError{Provider: p, Err: err}
		if i == len(tries)-1 {
			return "", fmt.Errorf("%w (execution_provider_strict is set: no fallback to cpu)", perr)
		}
		level := slog.LevelWarn
		if e.Name == ProviderAuto {
			level = slog.LevelInfo
		}
		log.Log(context.Background(), level, "execution provider unavailable: falling back", "model", model, "wanted", p, "using", tries[i+1], "reason", err.Error())
	}
	return "", errors.New("no execution provider to try") // attempts is never empty
}
