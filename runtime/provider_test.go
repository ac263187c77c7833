package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestExecutionProviderConfig pins config.yaml's execution_provider: a
// name alone or name, device_id and options, read as strictly as the rest
// of the file, and execution_provider_strict only beside a GPU provider.
func TestExecutionProviderConfig(t *testing.T) {
	for _, tc := range []struct {
		yaml   string
		want   *ExecutionProvider
		strict bool
		err    string // "" when it must be read
	}{
		{"description: none\n", nil, false, ""},
		{"execution_provider: cuda\n", &ExecutionProvider{Name: ProviderCUDA}, false, ""},
		{"execution_provider: auto\n", &ExecutionProvider{Name: ProviderAuto}, false, ""},
		{"execution_provider: {name: tensorrt, device_id: 1}\nexecution_provider_strict: true\n", &ExecutionProvider{Name: ProviderTensorRT, DeviceID: 1}, true, ""},
		{"execution_provider:\n  name: cuda\n  options:\n    gpu_mem_limit: 2147483648\n    cudnn_conv_algo_search: HEURISTIC\n",
			&ExecutionProvider{Name: ProviderCUDA, Options: map[string]string{"gpu_mem_limit": "2147483648", "cudnn_conv_algo_search": "HEURISTIC"}}, false, ""},
		{"execution_provider: gpu\n", nil, false, `execution_provider: execution provider "gpu": want cpu, cuda, tensorrt or auto`},
		{"execution_provider: {name: cuda, device: 1}\n", nil, false, `execution_provider: unknown key "device": want name, device_id or options`},
		{"execution_provider: {name: cuda, device_id: -1}\n", nil, false, "device_id must be 0 or more, got -1"},
		{"execution_provider: {name: cuda, options: {device_id: 1}}\n", nil, false, "options.device_id: write it as device_id"},
		{"execution_provider: {name: cpu, device_id: 1}\n", nil, false, "cpu takes no device_id or options"},
		{"execution_provider: [cuda]\n", nil, false, "want a name (cpu, cuda, tensorrt, auto) or a mapping"},
		{"execution_provider_strict: true\n", nil, false, "execution_provider_strict needs an execution_provider of cuda or tensorrt"},
		{"execution_provider: auto\nexecution_provider_strict: true\n", nil, false, "execution_provider_strict needs an execution_provider of cuda or tensorrt"},
		{"execution_providers: cuda\n", nil, false, "field execution_providers not found"},
	} {
		c, err := readConfigText(t, tc.yaml)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.err == "" && (fmt.Sprint(c.ExecutionProvider) != fmt.Sprint(tc.want) || c.ExecutionProviderStrict != tc.strict):
			t.Errorf("%q: %+v strict %v, want %+v strict %v", tc.yaml, c.ExecutionProvider, c.ExecutionProviderStrict, tc.want, tc.strict)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: %v, want an error with %q", tc.yaml, err, tc.err)
		}
	}
}

// TestExecutionProviderFallback pins, on this machine's CPU-only ONNX
// Runtime, that a GPU provider asked for (by config.yaml or the server's
// default) falls back to CPU with a WARN naming it and ORT's reason (INFO
// for auto, whose fallback is what it promises), that the model then
// answers as its export computed, and that it reports CPU as what it runs
// on.
func TestExecutionProviderFallback(t *testing.T) {
	for _, tc := range []struct {
		what     string
		cfg      *Config
		server   Provider
		log      string // a line the load logs, "" for none
		wantWarn bool
	}{
		{"cuda in config.yaml", &Config{ExecutionProvider: &ExecutionProvider{Name: ProviderCUDA, DeviceID: 0}}, "", "wanted=cuda using=cpu", true},
		{"tensorrt in config.yaml", &Config{ExecutionProvider: &ExecutionProvider{Name: ProviderTensorRT}}, "", "wanted=tensorrt using=cpu", true},
		{"cuda with options", &Config{ExecutionProvider: &ExecutionProvider{Name: ProviderCUDA, Options: map[string]string{"gpu_mem_limit": "1073741824"}}}, "", "wanted=cuda using=cpu", true},
		{"cuda as the server's default", nil, ProviderCUDA, "wanted=cuda using=cpu", true},
		{"auto", &Config{ExecutionProvider: &ExecutionProvider{Name: ProviderAuto}}, "", "wanted=cuda using=cpu", false},
		{"config.yaml's cpu over the server's cuda", &Config{ExecutionProvider: &ExecutionProvider{Name: ProviderCPU}}, ProviderCUDA, "", false},
		{"cpu", nil, "", "", false},
	} {
		t.Run(tc.what, func(t *testing.T) {
			var logs bytes.Buffer
			m, err := LoadModel("iris", "1", "../models/iris/1/model.onnx", tc.cfg, LoadOptions{
				ExecutionProvider: tc.server, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.ExecutionProvider != ProviderCPU {
				t.Errorf("runs on %q, want cpu", m.ExecutionProvider)
			}
			fallback := "execution provider unavailable: falling back"
			switch {
			case tc.log == "" && strings.Contains(logs.String(), fallback):
				t.Errorf("a fallback logged:\n%s", logs.String())
			case tc.log != "" && (!strings.Contains(logs.String(), tc.log) || !strings.Contains(logs.String(), "reason=")):
				t.Errorf("log lacks %q and ORT's reason:\n%s", tc.log, logs.String())
			case tc.log != "" && strings.Contains(logs.String(), "level=WARN") != tc.wantWarn:
				t.Errorf("logged at WARN: %v, want %v:\n%s", !tc.wantWarn, tc.wantWarn, logs.String())
			}
			exp := readExpected(t, "../models/iris/1/expected.json")
			cs := exp.Cases[0]
			outs, err := m.Infer(context.Background(), []tensor.Tensor{testTensor(t, m.Signature.Inputs[0].DType, cs.Inputs[m.Signature.Inputs[0].Name])})
			if err != nil {
				t.Fatal(err)
			}
			for i, spec := range m.Signature.Outputs {
				compareOutput(t, spec.Name, outs[i], cs.Outputs[spec.Name], exp.Atol)
			}
		})
	}
}

// TestExecutionProviderStrict pins execution_provider_strict: a provider
// that cannot be used is the load's error, a ProviderError naming it and
// carrying ORT's reason, and no CPU session is made.
func TestExecutionProviderStrict(t *testing.T) {
	for _, p := range []Provider{ProviderCUDA, ProviderTensorRT} {
		cfg := &Config{ExecutionProvider: &ExecutionProvider{Name: p}, ExecutionProviderStrict: true}
		_, err := LoadModel("iris", "1", "../models/iris/1/model.onnx", cfg, LoadOptions{})
		var perr *ProviderError
		if !errors.As(err, &perr) || perr.Provider != p || perr.Err == nil || !errors.Is(err, ErrBadModel) {
			t.Fatalf("%s: %v, want a bad model's ProviderError for %s", p, err, p)
		}
		for _, want := range []string{"model.onnx", "execution provider " + string(p) + " cannot be used: " + perr.Err.Error(), "execution_provider_strict is set: no fallback to cpu"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q lacks %q", p, err, want)
			}
		}
	}
}
