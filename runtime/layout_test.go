package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These tests pin the layouts of layout.go on real sessions of the shipped
// iris model: which files make which model, under which name and versions,
// with which config, and how polls, loads and unloads follow them.

func irisBytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../models/iris/1/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// served is what a repository serves: "name@v1,v2 description" per model in
// name order, or "name !reason" for one it cannot serve.
func served(t *testing.T, r *Repository) []string {
	t.Helper()
	var out []string
	for _, s := range r.Status() {
		if s.Err != nil {
			out = append(out, s.Name+" !"+s.Err.Error())
			continue
		}
		var vs []string
		for _, m := range s.Versions {
			vs = append(vs, m.Version)
			irisRow(t, m)
		}
		out = append(out, s.Name+"@"+strings.Join(vs, ",")+" "+s.Versions[0].Config.Description)
	}
	return out
}

func TestLayouts(t *testing.T) {
	iris := irisBytes(t)
	cfg := []byte("description: beside\n")
	for _, tc := range []struct {
		what      string
		files     map[string][]byte // relative to the directory, itself called "mnt"
		modelName string
		want      []string // as served reports it; a prefix after "!"
		wantErr   string   // of OpenRepository, when it fails
	}{
		{"a directory holding model.onnx is one model named after it, config.yaml beside it",
			map[string][]byte{"model.onnx": iris, "config.yaml": cfg}, "", []string{"mnt@1 beside"}, ""},
		{"--model-name names it (KServe's {{.Name}} over /mnt/models)",
			map[string][]byte{"model.onnx": iris, "config.yaml": cfg}, "flowers", []string{"flowers@1 beside"}, ""},
		{"model.onnx makes the directory one model: subdirectories and bare files are not models",
			map[string][]byte{"model.onnx": iris, "other/model.onnx": iris, "x.onnx": iris}, "", []string{"mnt@1 "}, ""},
		{"with --model-name, version directories are the model's versions",
			map[string][]byte{"1/model.onnx": iris, "2/model.onnx": iris, "config.yaml": cfg}, "flowers", []string{"flowers@1,2 beside"}, ""},
		{"with --model-name, a single bare file is the model, with config.yaml beside it",
			map[string][]byte{"exported.onnx": iris, "config.yaml": cfg}, "flowers", []string{"flowers@1 beside"}, ""},
		{"bare NAME.onnx files are models NAME with no config; a repository's own config.yaml is nobody's",
			map[string][]byte{"a.onnx": iris, "b.onnx": iris, "config.yaml": cfg, "notes.txt": cfg, ".hidden.onnx": iris}, "", []string{"a@1 ", "b@1 "}, ""},
		{"bare files beside model directories",
			map[string][]byte{"a.onnx": iris, "b/model.onnx": iris, "b/config.yaml": cfg, "c/3/model.onnx": iris}, "", []string{"a@1 ", "b@1 beside", "c@3 "}, ""},
		{"a bare file and a directory of one name: that model fails and names both, the others serve",
			map[string][]byte{"a.onnx": iris, "a/model.onnx": iris, "b.onnx": iris}, "", []string{"a !bad model: both a/ and a.onnx are model \"a\": keep one", "b@1 "}, ""},
		{"with --model-name, several bare files are ambiguous",
			map[string][]byte{"a.onnx": iris, "b.onnx": iris}, "flowers", []string{"flowers !bad model: mnt is the one model \"flowers\", but holds a.onnx, b.onnx and no model.onnx: keep one"}, ""},
		{"with --model-name, an empty directory is a model that is not there yet",
			map[string][]byte{"notes.txt": cfg}, "flowers", []string{"flowers !mnt: no model.onnx and no <version>/model.onnx"}, ""},
		{"a model name that is a path is refused",
			map[string][]byte{"model.onnx": iris}, "../x", nil, `model name: invalid model name "../x"`},
	} {
		t.Run(tc.what, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "mnt")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for rel, b := range tc.files {
				writeTestFile(t, filepath.Join(dir, rel), b)
			}
			opt := quietOptions()
			opt.ModelName = tc.modelName
			r, err := OpenRepository(dir, opt, true)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("OpenRepository: %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := served(t, r) // reasons name the directory by its base name alone
			if !slices.Equal(got, tc.want) {
				t.Fatalf("served\n%q\nwant\n%q", got, tc.want)
			}
			if r.Ready() != !slices.ContainsFunc(tc.want, func(s string) bool { return strings.Contains(s, " !") }) {
				t.Errorf("Ready %v with %q", r.Ready(), got)
			}
		})
	}
}

// TestLayoutPoll pins poll mode over each layout: a new version directory
// of a one-model directory rolls in, a bare file that appears is loaded and
// one that goes is unloaded, and a clash of names that is resolved on disk
// is served at the next poll although the remaining file did not change.
func TestLayoutPoll(t *testing.T) {
	iris := irisBytes(t)
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "1", "model.onnx"), iris)
	opt := quietOptions()
	opt.ModelName = "flowers"
	one, err := OpenRepository(dir, opt, false)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	writeTestFile(t, filepath.Join(dir, "2", "model.onnx"), iris)
	if err := one.Poll(); err != nil {
		t.Fatal(err)
	}
	if got := served(t, one); !slices.Equal(got, []string{"flowers@1,2 "}) {
		t.Fatalf("after version 2 arrived: %q", got)
	}

	repo := t.TempDir()
	writeTestFile(t, filepath.Join(repo, "a.onnx"), iris)
	r := openTestRepo(t, repo)
	writeTestFile(t, filepath.Join(repo, "b.onnx"), iris)
	writeTestFile(t, filepath.Join(repo, "b", "model.onnx"), iris)
	if err := r.Poll(); err == nil || !strings.Contains(err.Error(), "keep one") {
		t.Fatalf("poll with b.onnx and b/: %v", err)
	}
	if err := r.Poll(); err != nil {
		t.Fatalf("an unchanged clash was retried: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(repo, "b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(repo, "a.onnx")); err != nil {
		t.Fatal(err)
	}
	if err := r.Poll(); err != nil {
		t.Fatal(err)
	}
	if got := served(t, r); !slices.Equal(got, []string{"b@1 "}) {
		t.Fatalf("after a.onnx and b/ went: %q", got)
	}
}

// TestLayoutExplicit pins explicit control over bare files and a one-model
// directory: they load and unload by name, and a name that is not on disk
// is not found.
func TestLayoutExplicit(t *testing.T) {
	iris := irisBytes(t)
	repo := t.TempDir()
	writeTestFile(t, filepath.Join(repo, "a.onnx"), iris)
	r, err := NewRepository(repo, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Load("a"); err != nil {
		t.Fatal(err)
	}
	if got := served(t, r); !slices.Equal(got, []string{"a@1 "}) {
		t.Fatalf("after Load(a): %q", got)
	}
	if err := r.Unload("a"); err != nil {
		t.Fatal(err)
	}
	var nf *NotFoundError
	if _, _, err := r.Acquire("a", ""); !errors.As(err, &nf) {
		t.Fatalf("unloaded bare model: %v", err)
	}
	if err := r.Unload("model"); !errors.As(err, &nf) {
		t.Errorf("Unload of a name not on disk: %v", err)
	}

	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "model.onnx"), iris)
	opt := quietOptions()
	opt.ModelName = "flowers"
	one, err := NewRepository(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if err := one.Load("model"); err == nil || !strings.Contains(err.Error(), `no model "model"`) {
		t.Errorf("Load of the file's name instead of the model's: %v", err)
	}
	if err := one.Load("flowers"); err != nil {
		t.Fatal(err)
	}
	if got := served(t, one); !slices.Equal(got, []string{"flowers@1 "}) {
		t.Fatalf("after Load(flowers): %q", got)
	}
}
