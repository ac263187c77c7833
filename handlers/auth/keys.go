// Package auth is who may call what: the API keys and their scopes
// (--api-key, --admin-api-key, --api-keys, --api-keys-file, re-read when
// the file changes), the constant-time lookup of a key a request presents,
// and the one table of the scope every route and RPC needs (policy.go). It
// knows no protocol: the router's middleware and the gRPC interceptors
// hand it the credentials they read and answer with the error it returns.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/onnxserve/onnxserve/handlers/inference"
)

// Scope is a set of things a key may do.
type Scope uint8

const (
	// Infer is inference and what a client needs for it: predict, infer,
	// model metadata and readiness, the model list.
	Infer Scope = 1 << iota
	// Admin is the model repository: index, load, unload. A key given
	// admin gets infer too (ParseScope).
	Admin
	// Metrics is /metrics, unless --public-metrics.
	Metrics

	// Open is what a route that needs no key requires: nothing.
	Open Scope = 0
)

var scopeNames = []struct {
	name  string
	scope Scope
}{{"infer", Infer}, {"admin", Admin}, {"metrics", Metrics}}

// ParseScope reads one scope's name; admin includes infer.
func ParseScope(s string) (Scope, error) {
	for _, n := range scopeNames {
		if s == n.name {
			if n.scope == Admin {
				return Admin | Infer, nil
			}
			return n.scope, nil
		}
	}
	return 0, fmt.Errorf("unknown scope %q: want infer, admin or metrics", s)
}

func (s Scope) String() string {
	var names []string
	for _, n := range scopeNames {
		if s&n.scope != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "open"
	}
	return strings.Join(names, " ")
}

// Key is what the server knows of a key a request presented.
type Key struct {
	// ID names the key in logs: the first characters of its SHA-256, never
	// the key itself.
	ID     string
	Scopes Scope
}

// entry is one key as held: its digest, never the key.
type entry struct {
	digest [sha256.Size]byte
	key    Key
}

// idLen is how many hex digits of a key's digest its ID shows: enough to
// tell a handful of keys apart in the logs, far too few to guess it from.
const idLen = 8

func newEntry(secret string, scopes Scope) entry {
	d := sha256.Sum256([]byte(secret))
	return entry{digest: d, key: Key{ID: hex.EncodeToString(d[:idLen/2]), Scopes: scopes}}
}

// Options are the keys of the flags.
type Options struct {
	// Infer and Admin are keys of scope infer and admin (--api-key,
	// --admin-api-key).
	Infer, Admin []string
	// Entries are lines of the keys file's form, "KEY SCOPE...", from
	// --api-keys (ONNXSERVE_API_KEYS).
	Entries []string
	// File is --api-keys-file: a file of such lines, re-read by Watch.
	File string
	// PublicMetrics serves /metrics without a key (--public-metrics).
	PublicMetrics bool
	Logger        *slog.Logger
}

// Keys are the keys the server accepts: those of the flags, fixed, and
// those of the keys file, swapped whole when the file changes, so a
// request sees either the old set or the new one.
type Keys struct {
	fixed         []entry
	file          atomic.Pointer[[]entry]
	path          string
	publicMetrics bool
	log           *slog.Logger
	// fileSum is the digest of the file's contents last read, whether it
	// parsed or not: Watch reloads only on a change. Only Watch's
	// goroutine touches it after New.
	fileSum [sha256.Size]byte
}

// New reads the keys of opt; a keys file that cannot be read or parsed is
// an error at start, naming its line (never the key on it).
func New(opt Options) (*Keys, error) {
	k := &Keys{path: opt.File, publicMetrics: opt.PublicMetrics, log: opt.Logger}
	if k.log == nil {
		k.log = slog.Default()
	}
	for _, s := range opt.Infer {
		if s = strings.TrimSpace(s); s != "" {
			k.fixed = append(k.fixed, newEntry(s, Infer))
		}
	}
	for _, s := range opt.Admin {
		if s = strings.TrimSpace(s); s != "" {
			k.fixed = append(k.fixed, newEntry(s, Admin|Infer))
		}
	}
	for i, line := range opt.Entries {
		e, ok, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("--api-keys entry %d: %w", i+1, err)
		}
		if ok {
			k.fixed = append(k.fixed, e)
		}
	}
	if k.path != "" {
		data, err := readFile(k.path)
		if err != nil {
			return nil, err
		}
		entries, err := parseFile(data)
		if err != nil {
			return nil, fmt.Errorf("--api-keys-file %s: %w", k.path, err)
		}
		k.file.Store(&entries)
		k.fileSum = sha256.Sum256(data)
	}
	return k, nil
}

// Enabled says whether any key is configured, or a keys file that may
// hold some: when not, every route is open and no request pays for a
// check.
func (k *Keys) Enabled() bool { return k != nil && (len(k.fixed) > 0 || k.path != "") }

// lookup finds the key whose digest is that of secret. It compares the
// digest with every key's, all of them, with subtle.ConstantTimeCompare:
// how long it takes depends on the number of keys only, not on which key
// matched nor on how much of one did. A map of digests would be as safe
// in practice (a client cannot steer SHA-256's output towards a stored
// digest's first bytes), but its time does vary with the digests; with a
// handful of keys the scan costs nanoseconds, so the simpler argument wins.
func (k *Keys) lookup(secret string) (Key, bool) {
	d := sha256.Sum256([]byte(secret))
	var found Key
	match := 0
	scan := func(entries []entry) {
		for i := range entries {
			if subtle.ConstantTimeCompare(d[:], entries[i].digest[:]) == 1 {
				found, match = entries[i].key, 1
			}
		}
	}
	scan(k.fixed)
	if f := k.file.Load(); f != nil {
		scan(*f)
	}
	return found, match == 1
}

// Check is whether secret, the key a request presented ("" for none),
// may do what need says: the caller's Key, or an Unauthenticated error (no
// key, or one the server does not know) or a PermissionDenied one (a key
// without the scope). An open route needs no key, and neither does
// /metrics with PublicMetrics.
func (k *Keys) Check(need Scope, secret string) (Key, error) {
	if need == Open || need == Metrics && k.publicMetrics {
		return Key{}, nil
	}
	if secret == "" {
		return Key{}, inference.Errorf(inference.Unauthenticated, "an API key is needed: send it as Authorization: Bearer KEY or X-API-Key: KEY")
	}
	key, ok := k.lookup(secret)
	if !ok {
		return Key{}, inference.Errorf(inference.Unauthenticated, "the API key is not valid")
	}
	if key.Scopes&need != need {
		return key, inference.Errorf(inference.PermissionDenied, "the API key lacks the %s scope", need)
	}
	return key, nil
}

// Bearer is the key of an Authorization header's value, "Bearer KEY"
// (the scheme's name in any case, as RFC 7235 has it), or "".
func Bearer(authorization string) string {
	const scheme = "bearer "
	if len(authorization) > len(scheme) && strings.EqualFold(authorization[:len(scheme)], scheme) {
		return strings.TrimSpace(authorization[len(scheme):])
	}
	return ""
}
