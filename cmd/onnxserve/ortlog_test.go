package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefusedRunsDoNotWriteToStderr pins that an input ONNX Runtime refuses
// at run time leaves no line of ORT's own on stderr: the refusal is the
// client's 422, and ORT's logger writing there (in colour, outside slog)
// would let any client flood the server's log one request at a time.
func TestRefusedRunsDoNotWriteToStderr(t *testing.T) {
	repo := t.TempDir()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(filepath.Join(root, "runtime/testdata/reshape.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "reshape"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "reshape", "model.onnx"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProcess(t, "--models", repo, "--access-log=false")
	// 48 values: the model reshapes to [-1, 32], which 48 does not divide.
	body := `{"inputs": {"x": [[` + strings.TrimSuffix(strings.Repeat("1,", 48), ",") + `]]}}`
	for range 3 {
		res, err := http.Post("http://"+p.addr+"/v1/models/reshape/predict", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", res.StatusCode)
		}
	}
	p.terminate(t)
	p.exited(t)
	// ORT's own lines start "[E:onnxruntime:"; the server's are slog's.
	if log := p.log.String(); strings.Contains(log, "[E:onnxruntime") {
		t.Errorf("ONNX Runtime wrote the refusal to stderr itself:\n%s", log)
	}
}
