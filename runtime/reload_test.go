package runtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// These tests pin the repository's lifecycle rules on real ORT sessions:
// a reload swaps atomically and frees the old session only after its last
// run, a failed load leaves the old version serving, unload hides a model
// at once and frees it after its runs, and a poll follows the directory.

// testRepo copies the shipped iris model into a fresh repository as "iris",
// with config.yaml holding description, and returns the directory.
func testRepo(t *testing.T, description string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile("../models/iris/1/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "iris", "model.onnx"), b)
	writeTestFile(t, filepath.Join(dir, "iris", "config.yaml"), []byte("description: "+description+"\n"))
	return dir
}

func writeTestFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	// Write then rename, as deploy tools do, so a poll never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func quietOptions() LoadOptions {
	return LoadOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func openTestRepo(t *testing.T, dir string) *Repository {
	t.Helper()
	r, err := OpenRepository(dir, quietOptions(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func irisRow(t *testing.T, m *Model) {
	t.Helper()
	outs, err := m.Infer(context.Background(), []tensor.Tensor{{DType: tensor.Float32, Shape: []int64{1, 4}, Data: []float32{5.1, 3.5, 1.4, 0.2}}})
	if err != nil {
		t.Fatalf("infer on %s: %v", m.Config.Description, err)
	}
	if got := outs[0].Data.([]int64)[0]; got != 0 {
		t.Fatalf("label %d, want 0 (setosa, as models/iris/1/expected.json says)", got)
	}
}

// TestReloadWaitsForLastRun pins the swap: new requests get the new version
// as soon as Load has swapped it in, a request holding the old version
// still runs on it, and Load returns only after that request let go, with
// the old session destroyed.
func TestReloadWaitsForLastRun(t *testing.T) {
	dir := testRepo(t, "first")
	r := openTestRepo(t, dir)
	old, release, err := r.Acquire("iris", "")
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "iris", "config.yaml"), []byte("description: second\n"))
	done := make(chan error, 1)
	go func() { done <- r.Load("iris") }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		m, rel, err := r.Acquire("iris", "")
		if err != nil {
			t.Fatal(err)
		}
		swapped := m.Config.Description == "second"
		rel()
		if swapped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the reload never swapped the new version in")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Load returned (%v) while a request still held the old version", err)
	case <-time.After(100 * time.Millisecond):
	}
	irisRow(t, old) // the old session still runs
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if old.session != nil {
		t.Error("the old session was not destroyed after its last run")
	}
}

// TestLoadUnchangedIsNoop pins that loading an unchanged model, or one
// whose files were only touched or rewritten with the same bytes, keeps
// the very same session, as Triton's load does.
func TestLoadUnchangedIsNoop(t *testing.T) {
	dir := testRepo(t, "same")
	r := openTestRepo(t, dir)
	first, release, _ := r.Acquire("iris", "")
	release()
	b, _ := os.ReadFile(filepath.Join(dir, "iris", "model.onnx"))
	for _, change := range []func(){
		func() {},
		func() { writeTestFile(t, filepath.Join(dir, "iris", "model.onnx"), b) },
		func() {
			later := time.Now().Add(time.Hour)
			os.Chtimes(filepath.Join(dir, "iris", "config.yaml"), later, later)
		},
	} {
		change()
		if err := r.Load("iris"); err != nil {
			t.Fatal(err)
		}
		m, release, _ := r.Acquire("iris", "")
		release()
		if m != first {
			t.Fatal("an unchanged model was reloaded")
		}
	}
}

// TestReloadSeesSameStatRewrite pins the racy-stats rule: a file rewritten
// with the same size and the same mtime (as a coarse file-system clock
// gives two quick writes) is still seen as changed while that mtime is
// recent, and only files older than the window are trusted by their stats.
func TestReloadSeesSameStatRewrite(t *testing.T) {
	dir := testRepo(t, "aaaa")
	cfg := filepath.Join(dir, "iris", "config.yaml")
	r := openTestRepo(t, dir)
	rewrite := func(description string, mtime time.Time) {
		writeTestFile(t, cfg, []byte("description: "+description+"\n"))
		if err := os.Chtimes(cfg, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	served := func() string {
		m, release, _ := r.Acquire("iris", "")
		release()
		return m.Config.Description
	}
	st, _ := os.Stat(cfg)
	rewrite("bbbb", st.ModTime()) // same size, same mtime, moments later
	if err := r.Load("iris"); err != nil || served() != "bbbb" {
		t.Fatalf("a same-stat rewrite of a recent file was missed: %v, serving %q", err, served())
	}

	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "iris", "model.onnx"), old, old)
	rewrite("cccc", old)
	if err := r.Load("iris"); err != nil || served() != "cccc" {
		t.Fatalf("reload: %v, serving %q", err, served())
	}
	rewrite("dddd", old) // old and unchanged stats are trusted: no hashing
	if err := r.Load("iris"); err != nil || served() != "cccc" {
		t.Fatalf("stats of an old file were not trusted: %v, serving %q", err, served())
	}
}

// TestFailedLoadKeepsServing pins that a broken replacement does not take
// the model down: Load reports why, the old version answers, the index says
// READY with the reason, and fixing the files clears it.
func TestFailedLoadKeepsServing(t *testing.T) {
	dir := testRepo(t, "good")
	r := openTestRepo(t, dir)
	good, _ := os.ReadFile(filepath.Join(dir, "iris", "model.onnx"))
	writeTestFile(t, filepath.Join(dir, "iris", "model.onnx"), []byte("not an onnx file"))

	err := r.Load("iris")
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "load failed for model 'iris'") || !errors.Is(err, ErrBadModel) {
		t.Fatalf("load of a broken file: %v", err)
	}
	m, release, err := r.Acquire("iris", "")
	if err != nil {
		t.Fatalf("the old version stopped serving: %v", err)
	}
	irisRow(t, m)
	release()
	idx, _ := r.Index()
	if len(idx) != 1 || idx[0].State != StateReady || !strings.Contains(idx[0].Reason, "last load failed") {
		t.Fatalf("index after a failed reload: %+v", idx)
	}
	if st := r.Status(); st[0].Err != nil || len(st[0].Versions) != 1 || !r.Ready() {
		t.Fatalf("status after a failed reload: %+v", st)
	}

	writeTestFile(t, filepath.Join(dir, "iris", "model.onnx"), good)
	if err := r.Load("iris"); err != nil {
		t.Fatal(err)
	}
	if idx, _ := r.Index(); idx[0].Reason != "" {
		t.Fatalf("reason after the fix: %+v", idx)
	}
}

// TestUnload pins that an unloaded model is unknown to requests at once,
// freed only after its in-flight run, listed by the index as unloaded, and
// loadable again; and that unloading an unknown name is NotFound.
func TestUnload(t *testing.T) {
	dir := testRepo(t, "x")
	r := openTestRepo(t, dir)
	held, release, _ := r.Acquire("iris", "")
	done := make(chan error, 1)
	go func() { done <- r.Unload("iris") }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, rel, err := r.Acquire("iris", "")
		var nf *NotFoundError
		if errors.As(err, &nf) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rel()
		if time.Now().After(deadline) {
			t.Fatal("model still served after Unload")
		}
		time.Sleep(5 * time.Millisecond)
	}
	irisRow(t, held)
	select {
	case <-done:
		t.Fatal("Unload returned while a request held the model")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil || held.session != nil {
		t.Fatalf("unload: %v, session destroyed: %v", err, held.session == nil)
	}
	if idx, _ := r.Index(); len(idx) != 1 || idx[0].State != StateUnavailable || idx[0].Reason != "unloaded" {
		t.Fatalf("index: %+v", idx)
	}
	if len(r.Status()) != 0 || !r.Ready() {
		t.Fatal("an unloaded model still counts in Status or Ready")
	}
	var nf *NotFoundError
	if err := r.Unload("nope"); !errors.As(err, &nf) {
		t.Fatalf("unload of an unknown name: %v", err)
	}
	if err := r.Unload("iris"); err != nil {
		t.Fatalf("second unload: %v", err)
	}
	if err := r.Load("iris"); err != nil {
		t.Fatal(err)
	}
	m, release, err := r.Acquire("iris", "")
	if err != nil {
		t.Fatal(err)
	}
	irisRow(t, m)
	release()
}

// TestLoadRejectsPaths pins that a name can only ever reach a directory of
// the repository itself.
func TestLoadRejectsPaths(t *testing.T) {
	r := openTestRepo(t, testRepo(t, "x"))
	for _, name := range []string{"..", ".", "", "../iris", `a\b`, ".hidden"} {
		var le *LoadError
		if err := r.Load(name); !errors.As(err, &le) {
			t.Errorf("Load(%q): %v", name, err)
		}
	}
	if err := r.Load("missing"); err == nil || !strings.Contains(err.Error(), "no model \"missing\"") {
		t.Errorf("Load of a missing model: %v", err)
	}
}

// TestPoll pins poll mode: a new directory is loaded, a changed model is
// reloaded, a broken one fails once and is not retried until it changes,
// and a removed directory is unloaded.
func TestPoll(t *testing.T) {
	dir := testRepo(t, "v1")
	r := openTestRepo(t, dir)
	iris, _ := os.ReadFile(filepath.Join(dir, "iris", "model.onnx"))
	writeTestFile(t, filepath.Join(dir, "copy", "3", "model.onnx"), iris)
	writeTestFile(t, filepath.Join(dir, "iris", "config.yaml"), []byte("description: v2\n"))
	before := r.Generation()
	if err := r.Poll(); err != nil {
		t.Fatal(err)
	}
	if r.Generation() == before {
		t.Error("generation did not move")
	}
	if v := r.Versions("copy"); len(v) != 1 || v[0] != "3" {
		t.Fatalf("new model versions %v", v)
	}
	m, release, _ := r.Acquire("iris", "")
	release()
	if m.Config.Description != "v2" {
		t.Fatalf("changed model not reloaded: %q", m.Config.Description)
	}

	writeTestFile(t, filepath.Join(dir, "broken", "model.onnx"), []byte("junk"))
	if err := r.Poll(); err == nil || !strings.Contains(err.Error(), "'broken'") {
		t.Fatalf("first poll with a broken model: %v", err)
	}
	if err := r.Poll(); err != nil {
		t.Fatalf("an unchanged broken model was retried: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "copy")); err != nil {
		t.Fatal(err)
	}
	if err := r.Poll(); err != nil {
		t.Fatal(err)
	}
	var nf *NotFoundError
	if _, _, err := r.Acquire("copy", ""); !errors.As(err, &nf) {
		t.Fatalf("removed model still served: %v", err)
	}
	if _, err := ParseModelControl("sometimes"); err == nil {
		t.Error("ParseModelControl accepted a bad mode")
	}
}

// TestClosedRepository pins that nothing loads into a closed repository.
func TestClosedRepository(t *testing.T) {
	r := openTestRepo(t, testRepo(t, "x"))
	r.Close()
	for _, err := range []error{r.Load("iris"), r.Unload("iris"), r.Poll()} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
	}
}

// TestExplicitLoadRetriesFailedModel pins that an explicit Load of a model
// whose last load failed tries again and reports the failure, even when
// its files did not change (only polls skip unchanged failures), and that
// version directories must be canonical numbers.
func TestExplicitLoadRetriesFailedModel(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "broken", "model.onnx"), []byte("not onnx"))
	writeTestFile(t, filepath.Join(dir, "padded", "01", "model.onnx"), []byte("not onnx either"))
	r := openTestRepo(t, dir)
	for i := 0; i < 2; i++ {
		var le *LoadError
		if err := r.Load("broken"); !errors.As(err, &le) {
			t.Fatalf("load %d of a broken model: %v", i, err)
		}
	}
	if err := r.Load("padded"); err == nil || !strings.Contains(err.Error(), "no model.onnx") {
		t.Errorf(`version directory "01": %v`, err)
	}
}
