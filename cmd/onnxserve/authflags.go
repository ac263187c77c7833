package main

import (
	"flag"
	"log/slog"
	"strings"
	"time"

	"github.com/onnxserve/onnxserve/handlers/auth"
	"github.com/onnxserve/onnxserve/handlers/cors"
)

// authFlags are the flags of who may call what: API keys and CORS.
type authFlags struct {
	apiKeys       listFlag // --api-key: scope infer
	adminKeys     listFlag // --admin-api-key: scope admin (and infer)
	keyEntries    listFlag // --api-keys: "KEY SCOPE..." entries
	keysFile      string
	publicMetrics bool
	corsOrigins   listFlag
}

func (a *authFlags) register(fs *flag.FlagSet) {
	fs.Var(&a.apiKeys, "api-key", "an API key of scope infer (repeatable; comma-separated in ONNXSERVE_API_KEY); no key of any kind leaves every endpoint open")
	fs.Var(&a.adminKeys, "admin-api-key", "an API key of scope admin, which includes infer (repeatable; comma-separated in ONNXSERVE_ADMIN_API_KEY)")
	fs.Var(&a.keyEntries, "api-keys", `API keys with their scopes, "KEY SCOPE..." each (scopes infer, admin, metrics), entries separated by commas or new lines, as in ONNXSERVE_API_KEYS (repeatable)`)
	fs.StringVar(&a.keysFile, "api-keys-file", "", "a file of API keys, one a line with its scopes (e.g. \"s3cr3t infer metrics\"; # comments), re-read when it changes")
	fs.BoolVar(&a.publicMetrics, "public-metrics", false, "serve /metrics without a key even when API keys are configured")
	fs.Var(&a.corsOrigins, "cors-origins", "origins a browser page may call the API from, comma-separated (e.g. https://app.example.com), or * for any; none: no CORS")
}

// keysPoll is how often the keys file is looked at: a rotated key works
// within seconds, and reading a small file that often costs nothing.
const keysPoll = 2 * time.Second

// open reads the keys and the CORS origins the flags configure, and warns
// once when no key is: then anyone who can reach the server may call it.
func (a *authFlags) open(log *slog.Logger) (*auth.Keys, *cors.Policy, error) {
	keys, err := auth.New(auth.Options{Infer: a.apiKeys, Admin: a.adminKeys, Entries: a.keyEntries,
		File: a.keysFile, PublicMetrics: a.publicMetrics, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	if !keys.Enabled() {
		log.Warn("no API keys configured: every endpoint is open to anyone who can reach it; see --api-key, --admin-api-key, --api-keys-file")
	}
	var policy *cors.Policy
	if len(a.corsOrigins) > 0 {
		if policy, err = cors.New(a.corsOrigins); err != nil {
			return nil, nil, err
		}
	}
	return keys, policy, nil
}

// listFlag is a repeatable flag whose value may also be a comma-separated
// list (or, for --api-keys, lines), as an environment variable must carry
// several values in one. A flag given on the command line is not read from
// the environment or the config file at all (config.go), so flags win.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}
