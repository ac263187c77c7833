package runtime

import (
	"strings"
	"testing"
)

// TestFindLibrary pins the start-up messages when ONNX Runtime is missing:
// each says how to fix it.
func TestFindLibrary(t *testing.T) {
	t.Setenv("ORT_LIB", "/nonexistent/libonnxruntime.so")
	if _, err := FindLibrary(".."); err == nil || !strings.Contains(err.Error(), "ORT_LIB=/nonexistent/libonnxruntime.so") {
		t.Errorf("bad ORT_LIB: %v", err)
	}
	t.Setenv("ORT_LIB", "")
	if _, err := FindLibrary(t.TempDir()); err == nil || !strings.Contains(err.Error(), "scripts/setup-ort.sh") {
		t.Errorf("no cache: %v", err)
	}
	if p, err := FindLibrary(".."); err != nil || !strings.HasSuffix(p, "libonnxruntime.so") {
		t.Errorf("cache: %q, %v", p, err)
	}
}
