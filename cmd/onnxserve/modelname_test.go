package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestServeModelName pins --model-name over the real serve path, as KServe
// runs it: a directory holding model.onnx (the storage initializer's
// /mnt/models) is served as the one model of that name, and nothing else.
func TestServeModelName(t *testing.T) {
	b, err := os.ReadFile("../../models/iris/1/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "models")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "model.onnx"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	addr, _ := serving(t, "--models", mnt, "--model-name", "flowers")
	for path, want := range map[string]int{
		"/v2/models/flowers/ready":            200,
		"/v2/models/flowers/versions/1/ready": 200,
		"/v2/models/models/ready":             404,
	} {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
}
