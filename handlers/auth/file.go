package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// The keys file (--api-keys-file) and the --api-keys entries: one key a
// line, then its scopes, separated by spaces or tabs:
//
//	# the dashboard's key
//	s3cr3t infer metrics
//
// Blank lines and lines starting with # are skipped. Errors name the
// line, never the key on it.

// parseLine reads one line; ok is false for a blank line or a comment.
func parseLine(line string) (e entry, ok bool, err error) {
	fields := strings.Fields(line)
	if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
		return entry{}, false, nil
	}
	if len(fields) == 1 {
		return entry{}, false, errors.New("a key with no scope: write its scopes after it, e.g. KEY infer metrics")
	}
	var scopes Scope
	for i, name := range fields[1:] {
		s, err := ParseScope(name)
		if err != nil {
			// Not the word itself: a line written scopes first, or a key
			// with a space in it, puts (part of) the key here.
			return entry{}, false, fmt.Errorf("word %d is not a scope: want infer, admin or metrics after the key", i+2)
		}
		scopes |= s
	}
	return newEntry(fields[0], scopes), true, nil
}

func parseFile(data []byte) ([]entry, error) {
	var entries []entry
	for i, line := range strings.Split(string(data), "\n") {
		e, ok, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if ok {
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// maxFile bounds what is read of a keys file: a file of keys is a few
// KiB, and a wrong path (a log, a model) should not be read whole each poll.
const maxFile = 1 << 20

func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--api-keys-file: %w", err)
	}
	if len(data) > maxFile {
		return nil, fmt.Errorf("--api-keys-file %s: %d bytes, more than a keys file's %d", path, len(data), maxFile)
	}
	return data, nil
}

// Watch re-reads the keys file every interval until ctx ends, and swaps
// its keys in when its contents changed and parse; a file that cannot be
// read or parsed keeps the keys in force, and is logged once per change.
// It compares the contents' digest, not the file's modification time: a
// Kubernetes Secret volume swaps a symbolic link, and an edit within the
// same second at the same size would go unseen by mtime and size. The
// file is small, so reading it each interval costs nothing that matters.
func (k *Keys) Watch(ctx context.Context, interval time.Duration) {
	if k.path == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			k.reload()
		}
	}
}

// reload is one look at the keys file.
func (k *Keys) reload() {
	data, err := readFile(k.path)
	var sum [sha256.Size]byte
	if err == nil {
		sum = sha256.Sum256(data)
	} else {
		// An unreadable file is a change too, logged once.
		sum = sha256.Sum256([]byte(err.Error()))
	}
	if bytes.Equal(sum[:], k.fileSum[:]) {
		return
	}
	k.fileSum = sum
	if err != nil {
		k.log.Error("API keys file not re-read; the keys in force stay", "file", k.path, "err", err)
		return
	}
	entries, err := parseFile(data)
	if err != nil {
		k.log.Error("API keys file not re-read; the keys in force stay", "file", k.path, "err", err)
		return
	}
	k.file.Store(&entries)
	k.log.Info("API keys file re-read", "file", k.path, "keys", len(entries))
}
