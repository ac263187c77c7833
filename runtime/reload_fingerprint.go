package runtime

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// A fingerprint identifies the files a model is loaded from, so that a
// load or a poll can tell whether anything changed since the last one.
// Stats are cheap and catch almost every change; when they differ the
// content is hashed before deciding, so a touch or a copy of identical
// bytes (a config-map remount, a CI re-deploy) does not reload a session.
type fingerprint struct {
	files  []fileStat
	sum    [sha256.Size]byte // of the files' paths and contents, once hashed
	hashed bool
}

type fileStat struct {
	rel   string // path relative to the model's directory
	size  int64
	mtime int64 // nanoseconds
}

// statModel takes the stats of every file a load of dir would read:
// config.yaml, model.onnx and <version>/model.onnx. Missing ones are
// simply absent; what a load makes of that is loadEntry's business.
func statModel(dir string) (*fingerprint, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	rels := []string{"config.yaml", "model.onnx"}
	for _, e := range ents {
		if n, err := strconv.ParseInt(e.Name(), 10, 64); err == nil && n >= 0 && e.IsDir() {
			rels = append(rels, filepath.Join(e.Name(), "model.onnx"))
		}
	}
	slices.Sort(rels)
	f := &fingerprint{}
	for _, rel := range rels {
		st, err := os.Stat(filepath.Join(dir, rel))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		f.files = append(f.files, fileStat{rel, st.Size(), st.ModTime().UnixNano()})
	}
	return f, nil
}

// hash reads the files and records their digest.
func (f *fingerprint) hash(dir string) error {
	if f.hashed {
		return nil
	}
	h := sha256.New()
	for _, fs := range f.files {
		file, err := os.Open(filepath.Join(dir, fs.rel))
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", fs.rel, fs.size)
		_, err = io.Copy(h, file)
		file.Close()
		if err != nil {
			return fmt.Errorf("hash %s: %w", fs.rel, err)
		}
	}
	h.Sum(f.sum[:0])
	f.hashed = true
	return nil
}

// matches reports whether cur holds what f was taken from: the same stats,
// or else the same content. A nil f (never loaded) matches nothing.
func (f *fingerprint) matches(cur *fingerprint, dir string) bool {
	if f == nil {
		return false
	}
	if slices.Equal(f.files, cur.files) {
		return true
	}
	if !f.hashed || cur.hash(dir) != nil {
		return false
	}
	return f.sum == cur.sum
}
