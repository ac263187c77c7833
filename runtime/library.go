package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// WantVersion is the ONNX Runtime release line onnxruntime_go v1.27.0 was
// built against (C API 24). Other lines fail at init or, worse, misbehave.
const WantVersion = "1.24."

// DefaultCacheVersion is the release scripts/setup-ort.sh fetches.
const DefaultCacheVersion = "1.24.3"

// FindLibrary returns the ONNX Runtime shared library to load: $ORT_LIB when
// set, else the copy scripts/setup-ort.sh caches under root/.cache.
func FindLibrary(root string) (string, error) {
	if p := os.Getenv("ORT_LIB"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ORT_LIB=%s: %w", p, err)
		}
		return p, nil
	}
	p := filepath.Join(root, ".cache", "onnxruntime", DefaultCacheVersion, "libonnxruntime.so")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("ONNX Runtime not found at %s: run scripts/setup-ort.sh (or `make run`), or set ORT_LIB=/path/libonnxruntime.so", p)
	}
	return p, nil
}

// Init loads the library and creates the process-wide ORT environment: the
// one piece of global state onnxruntime_go allows. It returns the loaded
// ORT version and fails when the library is not a 1.24.x build.
func Init(libPath string) (string, error) {
	if ort.IsInitialized() {
		return ort.GetVersion(), nil
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return "", fmt.Errorf("load ONNX Runtime %s: %w (onnxruntime_go needs a %sx library)", libPath, err, WantVersion)
	}
	v := ort.GetVersion()
	if !strings.HasPrefix(v, WantVersion) {
		_ = ort.DestroyEnvironment()
		return "", fmt.Errorf("ONNX Runtime %s at %s: onnxruntime_go v1.27.0 needs %sx", v, libPath, WantVersion)
	}
	return v, nil
}

// Shutdown destroys the ORT environment. Every session must be gone first.
func Shutdown() error {
	if !ort.IsInitialized() {
		return nil
	}
	return ort.DestroyEnvironment()
}

// Version is the loaded ORT version, "" before Init.
func Version() string { return ort.GetVersion() }

var errNotInitialized = errors.New("ONNX Runtime is not initialized")
