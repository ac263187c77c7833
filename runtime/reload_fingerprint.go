package runtime

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// A fingerprint identifies the files a model is loaded from, so that a
// load or a poll can tell whether anything changed since the last one.
// Stats are cheap and catch almost every change; when they differ the
// content is hashed before deciding, so a touch or a copy of identical
// bytes (a config-map remount, a CI re-deploy) does not reload a session.
//
// Equal stats prove nothing when a file was written shortly before they
// were taken: file systems stamp mtimes with a coarse clock (a tick, or a
// second), so a second write of the same size moments later can leave the
// stats as they were. Such a fingerprint is compared by content, as git
// does with its "racily clean" index entries.
type fingerprint struct {
	// layout is which files made the model and why they could not: the
	// same files can change from failing to serving when a file beside
	// them goes (two sources of one name become one).
	layout string
	files  []fileStat
	taken  time.Time         // just before the stats were read
	sum    [sha256.Size]byte // of the files' paths and contents, once hashed
	hashed bool
}

// racyWindow is how recent a write must be for equal stats not to count:
// above the coarsest common mtime granularity, one second.
const racyWindow = 2 * time.Second

type fileStat struct {
	rel   string // path relative to the model's directory
	size  int64
	mtime int64 // nanoseconds
}

// statModel takes the stats of every file a load of src could read (its
// candidates: config.yaml, model.onnx and <version>/model.onnx, or a bare
// file). Missing ones are simply absent; what a load makes of that is
// loadEntry's business.
func statModel(src source) (*fingerprint, error) {
	dir := src.dir
	rels, err := src.candidates()
	if err != nil {
		return nil, err
	}
	f := &fingerprint{layout: fmt.Sprintf("%s|%s|%v|%v", src.dir, src.file, src.config, src.err), taken: time.Now()}
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
	if f == nil || f.layout != cur.layout {
		return false
	}
	if slices.Equal(f.files, cur.files) && !f.racy() {
		return true
	}
	if !f.hashed || cur.hash(dir) != nil {
		return false
	}
	return f.sum == cur.sum
}

// racy reports whether a file changed so shortly before the stats were
// taken that a later write might not have changed them.
func (f *fingerprint) racy() bool {
	for _, fs := range f.files {
		if fs.mtime >= f.taken.Add(-racyWindow).UnixNano() {
			return true
		}
	}
	return false
}
