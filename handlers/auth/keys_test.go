package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/inference"
)

func kindOf(err error) (inference.Kind, bool) {
	var e *inference.Error
	if !errors.As(err, &e) {
		return 0, false
	}
	return e.Kind, true
}

// TestCheck pins who may do what: no key and an unknown key are
// unauthenticated, a known key without the scope is denied, admin
// includes infer but not metrics, open routes and public metrics take no
// key, and a key's scopes come from the flag or the line that gave it.
func TestCheck(t *testing.T) {
	keys, err := New(Options{
		Infer:   []string{"inf-1", " inf-2 "},
		Admin:   []string{"adm"},
		Entries: []string{"met metrics", "all infer admin metrics", "# a comment"},
	})
	if err != nil {
		t.Fatal(err)
	}
	const ok, unauth, denied = -1, inference.Unauthenticated, inference.PermissionDenied
	for _, tc := range []struct {
		need   Scope
		secret string
		want   inference.Kind
	}{
		{Open, "", ok},
		{Open, "wrong", ok},
		{Infer, "", unauth},
		{Infer, "wrong", unauth},
		{Infer, "inf-1", ok},
		{Infer, "inf-2", ok}, // trimmed as flags and env give it
		{Infer, "inf-1 ", unauth},
		{Infer, "INF-1", unauth},
		{Infer, "adm", ok},
		{Admin, "adm", ok},
		{Admin, "inf-1", denied},
		{Metrics, "adm", denied},
		{Metrics, "met", ok},
		{Infer, "met", denied},
		{Metrics, "all", ok},
		{Admin, "all", ok},
		{Infer, "# a comment", unauth},
	} {
		_, err := keys.Check(tc.need, tc.secret)
		got, isKind := kindOf(err)
		switch {
		case tc.want == ok && err != nil:
			t.Errorf("%v with %q: %v, want allowed", tc.need, tc.secret, err)
		case tc.want != ok && (!isKind || got != tc.want):
			t.Errorf("%v with %q: %v, want %v", tc.need, tc.secret, err, tc.want)
		}
		if err != nil && tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
			t.Errorf("the error names the key: %v", err)
		}
	}

	public, err := New(Options{Infer: []string{"k"}, PublicMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := public.Check(Metrics, ""); err != nil {
		t.Errorf("public metrics without a key: %v", err)
	}
	if _, err := public.Check(Infer, ""); err == nil {
		t.Error("public metrics opened infer too")
	}
}

// TestKeyID pins that a key's id is the first 8 hex digits of its
// SHA-256 (computed here with the standard library, as an operator would
// with sha256sum) and never the key.
func TestKeyID(t *testing.T) {
	keys, err := New(Options{Infer: []string{"s3cr3t"}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.Check(Infer, "s3cr3t")
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("s3cr3t"))
	if want := hex.EncodeToString(d[:])[:8]; key.ID != want {
		t.Errorf("key id %q, want %q", key.ID, want)
	}
}

// TestEnabled pins when the server checks keys at all: any key, or a keys
// file even when it holds none yet (so that a file emptied locks the
// server, and does not open it).
func TestEnabled(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(empty, []byte("# none yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opt  Options
		want bool
	}{
		{Options{}, false},
		{Options{Infer: []string{" "}}, false},
		{Options{PublicMetrics: true}, false},
		{Options{Infer: []string{"k"}}, true},
		{Options{Admin: []string{"k"}}, true},
		{Options{Entries: []string{"k metrics"}}, true},
		{Options{File: empty}, true},
	} {
		keys, err := New(tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if got := keys.Enabled(); got != tc.want {
			t.Errorf("%+v: Enabled = %v, want %v", tc.opt, got, tc.want)
		}
	}
	if (*Keys)(nil).Enabled() {
		t.Error("no Keys at all is enabled")
	}
}

// TestParseFile pins the keys file's grammar, and that an error names the
// line but never the key on it.
func TestParseFile(t *testing.T) {
	for _, tc := range []struct {
		text   string
		scopes []Scope // of the keys in order; nil with err
		err    string
	}{
		{"", []Scope{}, ""},
		{"# only\n\n   \n", []Scope{}, ""},
		{"a infer\nb admin\n\tc\tmetrics infer\n", []Scope{Infer, Admin | Infer, Metrics | Infer}, ""},
		{"a infer\r\nb metrics\r\n", []Scope{Infer, Metrics}, ""},
		{"a infer\nhunter2\n", nil, "line 2: a key with no scope"},
		{"a infer\n\nhunter2 read\n", nil, `line 3: word 2 is not a scope`},
		// Scopes first: the key is in a scope's place, and not echoed.
		{"infer s3cr3tvalue\n", nil, `line 1: word 2 is not a scope`},
	} {
		entries, err := parseFile([]byte(tc.text))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("%q: %v, want %q without the key", tc.text, err, tc.err)
			}
			continue
		}
		if err != nil || len(entries) != len(tc.scopes) {
			t.Errorf("%q: %d keys, %v; want %d", tc.text, len(entries), err, len(tc.scopes))
			continue
		}
		for i, e := range entries {
			if e.key.Scopes != tc.scopes[i] {
				t.Errorf("%q: key %d has %v, want %v", tc.text, i, e.key.Scopes, tc.scopes[i])
			}
		}
	}
	if _, err := New(Options{Entries: []string{"k write"}}); err == nil || !strings.Contains(err.Error(), "--api-keys entry 1") {
		t.Errorf("a bad --api-keys entry: %v", err)
	}
}

// TestReload pins the rotation of the keys file: a changed file replaces
// its keys (the flags' stay), a broken or missing one keeps those in force
// and is logged once, and a mended one is read again.
func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("old infer\n")
	var log bytes.Buffer
	keys, err := New(Options{File: path, Admin: []string{"flag"}, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	allowed := func(secret string) bool { _, err := keys.Check(Infer, secret); return err == nil }
	step := func(what string, want map[string]bool) {
		t.Helper()
		for secret, w := range want {
			if got := allowed(secret); got != w {
				t.Errorf("%s: %q allowed = %v, want %v", what, secret, got, w)
			}
		}
	}
	step("at start", map[string]bool{"old": true, "new": false, "flag": true})

	write("new infer\n")
	keys.reload()
	step("rotated", map[string]bool{"old": false, "new": true, "flag": true})

	write("new infer\nbroken\n")
	keys.reload()
	keys.reload() // the same broken file: not logged again
	step("broken", map[string]bool{"new": true, "flag": true})
	if n := strings.Count(log.String(), "not re-read"); n != 1 {
		t.Errorf("a broken file logged %d times, want once: %s", n, log.String())
	}
	if strings.Contains(log.String(), "broken") || !strings.Contains(log.String(), "line 2") {
		t.Errorf("the log names the key of the broken line, or not the line: %s", log.String())
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	keys.reload()
	step("missing", map[string]bool{"new": true, "flag": true})

	write("newer infer\n")
	keys.reload()
	step("mended", map[string]bool{"new": false, "newer": true, "flag": true})

	// At start, a broken file is an error, not an open server.
	write("x\n")
	if _, err := New(Options{File: path}); err == nil {
		t.Error("a broken keys file at start was taken")
	}
	if _, err := New(Options{File: filepath.Join(t.TempDir(), "none")}); err == nil {
		t.Error("a missing keys file at start was taken")
	}
}

// TestBearer pins the Authorization header's form.
func TestBearer(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer k":       "k",
		"bearer k":       "k",
		"BEARER  k ":     "k",
		"Basic a2V5Og==": "",
		"Bearer":         "",
		"Bearer ":        "",
		"k":              "",
		"":               "",
	} {
		if got := Bearer(in); got != want {
			t.Errorf("Bearer(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParseScope pins the scopes' names, admin including infer.
func TestParseScope(t *testing.T) {
	for in, want := range map[string]Scope{"infer": Infer, "admin": Admin | Infer, "metrics": Metrics} {
		if got, err := ParseScope(in); err != nil || got != want {
			t.Errorf("ParseScope(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "Infer", "write", "infer:iris"} {
		if _, err := ParseScope(bad); err == nil {
			t.Errorf("ParseScope(%q) took it", bad)
		}
	}
}
