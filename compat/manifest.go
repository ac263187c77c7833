// Package compat is the compatibility suite of make compat: ONNX models
// made by others, shipped in npm packages and in the onnxruntime_go
// module, served by onnxserve and checked against a reference run of
// onnxruntime-node on the same ONNX Runtime version. This file reads the
// manifest (compat/models.json) that says where each model comes from;
// compat/fetch fetches them, compat/reference computes the expected
// answers, and the compat-tagged test serves and checks them.
package compat

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Model is one entry of the manifest.
type Model struct {
	// Name is the model's name in the served repository.
	Name string `json:"name"`
	// NPM is the package that ships it, "name@version" (exact); or Go is
	// the module, "path@version".
	NPM string `json:"npm,omitempty"`
	Go  string `json:"go,omitempty"`
	// File is the model's path inside the package tarball or module; or
	// Resource names it in an @imgly package's dist/resources.json, which
	// lists the chunks the file is cut into.
	File     string `json:"file,omitempty"`
	Resource string `json:"resource,omitempty"`
	// SHA256 and Size are the model file's.
	SHA256 string   `json:"sha256"`
	Size   int64    `json:"size"`
	Covers []string `json:"covers"`
}

// Source is where the model comes from, as the README names it.
func (m Model) Source() string {
	if m.NPM != "" {
		return "npm " + m.NPM
	}
	return "Go module " + m.Go
}

// ReadManifest reads the models of the manifest at path.
func ReadManifest(path string) ([]Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Models []Model `json:"models"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, m := range doc.Models {
		if m.Name == "" || (m.NPM == "") == (m.Go == "") || (m.File == "") == (m.Resource == "") || len(m.SHA256) != 64 {
			return nil, fmt.Errorf("%s: model %q needs a name, one of npm or go, one of file or resource, and a sha256", path, m.Name)
		}
	}
	return doc.Models, nil
}

// CachePath is where the fetched file of the model named name is kept
// in the cache directory dir.
func CachePath(dir, name string) string {
	return filepath.Join(dir, "models", name+".onnx")
}
