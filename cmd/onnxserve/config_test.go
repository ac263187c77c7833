package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// writeConfig writes a config file in a test's directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "onnxserve.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigPrecedence pins flag > environment > file > default, each flag
// taking its value from one source, and the origin `onnxserve config`
// reports for it.
func TestConfigPrecedence(t *testing.T) {
	file := writeConfig(t, `
addr: "127.0.0.1:1111"         # overridden by the flag
max-body-bytes: 2222           # overridden by the environment
request-timeout: 3s            # from the file
metrics: false                 # from the file
`)
	t.Setenv("ONNXSERVE_MAX_BODY_BYTES", "4444")
	t.Setenv("ONNXSERVE_LOG_LEVEL", "debug")
	f, err := parseServeFlags([]string{"--config", file, "--addr", "127.0.0.1:5555"})
	if err != nil {
		t.Fatal(err)
	}
	if f.addr != "127.0.0.1:5555" || f.maxBody != 4444 || f.timeout != 3*time.Second || f.metrics || f.logLevel.String() != "DEBUG" || f.grpcAddr != ":8001" {
		t.Errorf("values: addr %q, max-body-bytes %d, request-timeout %v, metrics %v, log-level %v, grpc-addr %q",
			f.addr, f.maxBody, f.timeout, f.metrics, f.logLevel, f.grpcAddr)
	}
	for name, want := range map[string]origin{
		"addr": fromFlag, "config": fromFlag, "max-body-bytes": fromEnv, "log-level": fromEnv,
		"request-timeout": fromFile, "metrics": fromFile, "grpc-addr": fromDefault,
	} {
		if got := f.settings.origins[name]; got != want {
			t.Errorf("%s from %q, want %q", name, got, want)
		}
	}
	// The file can be named by the environment too.
	t.Setenv("ONNXSERVE_CONFIG", file)
	if f, err := parseServeFlags(nil); err != nil || f.addr != "127.0.0.1:1111" || f.settings.origins["config"] != fromEnv {
		t.Errorf("ONNXSERVE_CONFIG: %v, %v", f, err)
	}
}

// TestConfigFileErrors pins that a config file is read strictly, and that
// each error names the file, the line and the key.
func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		what, text string
		want       []string
	}{
		{"unknown key", "addr: :1\nmax-body-byte: 10\n", []string{":2:", `unknown key "max-body-byte"`, `did you mean "max-body-bytes"?`}},
		{"snake case", "request_timeout: 2s\n", []string{":1:", `unknown key "request_timeout"`, `did you mean "request-timeout"?`}},
		{"nothing near", "colour: blue\n", []string{`unknown key "colour": no serve flag has this name`}},
		{"bad int", "\n\nmax-body-bytes: lots\n", []string{`:3: max-body-bytes: invalid value "lots"`}},
		{"bad bool", "metrics: maybe\n", []string{`:1: metrics: invalid value "maybe"`}},
		{"bad duration", "request-timeout: 250\n", []string{`:1: request-timeout: invalid value "250"`}},
		{"list for a single flag", "addr: [a, b]\n", []string{":1: addr: takes one value, not a list"}},
		{"mapping", "addr: {host: a}\n", []string{":1: addr: want a value"}},
		{"null", "addr:\n", []string{":1: addr: has no value"}},
		{"twice", "addr: a\naddr: b\n", []string{":2: addr appears twice (first on line 1)"}},
		{"config in config", "config: other.yaml\n", []string{":1: config cannot be set inside a config file"}},
		{"not a mapping", "- addr\n", []string{":1: want a mapping of flag names"}},
		{"not yaml", "addr: [\n", []string{"onnxserve.yaml"}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			file := writeConfig(t, tc.text)
			_, err := parseServeFlags([]string{"--config", file})
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(tc.want, file) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := parseServeFlags([]string{"--config", "/nonexistent/onnxserve.yaml"}); err == nil || !strings.Contains(err.Error(), "/nonexistent/onnxserve.yaml") {
		t.Errorf("missing file: %v", err)
	}
	// An empty file sets nothing.
	if f, err := parseServeFlags([]string{"--config", writeConfig(t, "# nothing yet\n")}); err != nil || f.addr != ":8080" {
		t.Errorf("empty file: %v %v", f, err)
	}
}

// list is a repeatable flag as --api-key is: each Set appends.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// TestRepeatableFlags pins that a flag whose value collects every Set
// takes a YAML list (or one value) in the file, that a source's values
// replace the lower ones' instead of adding to them, and how `onnxserve
// config` shows it.
func TestRepeatableFlags(t *testing.T) {
	for _, tc := range []struct {
		what   string
		args   []string
		env    string
		envSet bool // ONNXSERVE_API_KEY is set, to env (empty or not)
		file   string
		want   []string
	}{
		{"file list", nil, "", false, "api-key: [k-alpha, k-beta]\n", []string{"k-alpha", "k-beta"}},
		{"file block list", nil, "", false, "api-key:\n  - k-alpha\n  - k-beta\n", []string{"k-alpha", "k-beta"}},
		{"file one value", nil, "", false, "api-key: k-alpha\n", []string{"k-alpha"}},
		{"env over file", nil, "k-env", true, "api-key: [k-alpha, k-beta]\n", []string{"k-env"}},
		{"flags over env", []string{"--api-key", "k-x", "--api-key", "k-y"}, "k-env", true, "api-key: [k-alpha]\n", []string{"k-x", "k-y"}},
		// An empty Secret must not open the server the file closes.
		{"empty env leaves the file's", nil, "", true, "api-key: [k-alpha, k-beta]\n", []string{"k-alpha", "k-beta"}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			var keys list
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.Var(&keys, "api-key", "a key")
			fs.String(configFlag, "", "")
			env := func(k string) (string, bool) { return tc.env, tc.envSet && k == "ONNXSERVE_API_KEY" }
			s, err := settle(fs, append([]string{"--config", writeConfig(t, tc.file)}, tc.args...), env)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(keys, "|") != strings.Join(tc.want, "|") {
				t.Errorf("api-key %q, want %q", keys, tc.want)
			}
			out, err := s.effective()
			if err != nil {
				t.Fatal(err)
			}
			masked := strings.TrimSuffix(strings.Repeat(`'***', `, len(tc.want)), ", ")
			if !bytes.Contains(out, []byte("api-key: ["+masked+"]")) || bytes.Contains(out, []byte("k-")) {
				t.Errorf("effective configuration shows the keys unmasked or not as a list:\n%s", out)
			}
		})
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Var(new(list), "api-key", "a key")
	if help := serveUsage(fs); !strings.Contains(help, "--api-key value (repeatable)") {
		t.Errorf("help does not say the flag repeats:\n%s", help)
	}
}

// TestSecret pins which flags `onnxserve config` masks: key, token,
// secret and password values, not the paths of files that hold them.
func TestSecret(t *testing.T) {
	for name, want := range map[string]bool{
		"api-key": true, "admin-api-key": true, "api-keys": true, "auth-token": true, "db-password": true,
		"api-keys-file": false, "tls-key": false, "tls-cert": false, "max-inflight-bytes": false, "addr": false, "monkey": false,
	} {
		if secret(name) != want {
			t.Errorf("secret(%q) = %v, want %v", name, !want, want)
		}
	}
}

// TestConfigCommand pins `onnxserve config`: YAML with every flag but
// --config, each value with its origin as a comment, that reads back as
// a config file giving the same values.
func TestConfigCommand(t *testing.T) {
	file := writeConfig(t, "request-timeout: 3s\nload-model: \"\"\n")
	t.Setenv("ONNXSERVE_LOG_FORMAT", "json")
	var out bytes.Buffer
	if err := run([]string{"config", "--config", file, "--addr", "127.0.0.1:7"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	got := map[string][2]string{}
	root := doc.Content[0]
	for i := 0; i < len(root.Content); i += 2 {
		got[root.Content[i].Value] = [2]string{root.Content[i+1].Value, root.Content[i+1].LineComment}
	}
	for name, want := range map[string][2]string{
		"addr": {"127.0.0.1:7", "# flag"}, "log-format": {"json", "# env"}, "request-timeout": {"3s", "# file"},
		"load-model": {"", "# file"}, "max-body-bytes": {"33554432", "# default"}, "metrics": {"true", "# default"},
	} {
		if got[name] != want {
			t.Errorf("%s: %q, want %q", name, got[name], want)
		}
	}
	f, _ := parseServeFlags(nil)
	f.settings.fs.VisitAll(func(fl *flag.Flag) {
		if _, ok := got[fl.Name]; !ok && fl.Name != configFlag {
			t.Errorf("flag %s missing", fl.Name)
		}
	})
	if _, ok := got[configFlag]; ok {
		t.Error("the output names a config file, so it cannot be read back as one")
	}
	if !strings.Contains(doc.HeadComment, file) {
		t.Errorf("head comment %q does not name the file", doc.HeadComment)
	}
	again, err := parseServeFlags([]string{"--config", writeConfig(t, out.String())})
	if err != nil || again.addr != "127.0.0.1:7" || again.logFormat != "json" || again.timeout != 3*time.Second {
		t.Errorf("output read back: %+v, %v", again, err)
	}
	// Values are checked as serve checks them.
	if err := run([]string{"config", "--max-body-bytes", "0"}, io.Discard, io.Discard); err == nil {
		t.Error("config accepted what serve refuses")
	}
}

// TestExampleConfig pins that the shipped sample config loads and names
// every serve flag, so that it cannot fall behind the flags.
func TestExampleConfig(t *testing.T) {
	const path = "../../onnxserve.example.yaml"
	f, err := parseServeFlags([]string{"--config", path})
	if err != nil {
		t.Fatal(err)
	}
	f.settings.fs.VisitAll(func(fl *flag.Flag) {
		if o := f.settings.origins[fl.Name]; o != fromFile && fl.Name != configFlag {
			t.Errorf("%s does not set %s", path, fl.Name)
		}
	})
}

// TestHelp pins the help texts: each goes to stdout and is no error.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"serve [flags]", "config [flags]", "inspect FILE.onnx", "version"}},
		{[]string{"--help"}, []string{"serve [flags]", "version"}},
		{[]string{"-h"}, []string{"serve [flags]", "version"}},
		{[]string{"serve", "--help"}, []string{
			"Usage: onnxserve serve [flags]",
			"  --max-body-bytes int\n", "env ONNXSERVE_MAX_BODY_BYTES, default \"33554432\"\n",
			"  --metrics bool\n", "env ONNXSERVE_METRICS, default \"true\"\n",
			"  --request-timeout duration\n", "env ONNXSERVE_REQUEST_TIMEOUT, default \"0s\"\n",
			"  --metrics-addr string\n", "env ONNXSERVE_METRICS_ADDR, default none\n",
			"  --config string\n", "env ONNXSERVE_CONFIG",
		}},
		{[]string{"serve", "-h"}, []string{"Usage: onnxserve serve [flags]"}},
	} {
		var out bytes.Buffer
		if err := run(tc.args, &out, io.Discard); err != nil {
			t.Errorf("%v: %v", tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v lacks %q:\n%s", tc.args, w, out.String())
			}
		}
	}
	// Every flag is listed, with its environment name.
	var out bytes.Buffer
	run([]string{"serve", "--help"}, &out, io.Discard)
	f, _ := parseServeFlags(nil)
	f.settings.fs.VisitAll(func(fl *flag.Flag) {
		if !strings.Contains(out.String(), "  --"+fl.Name) || !strings.Contains(out.String(), "env "+envName(fl.Name)+",") {
			t.Errorf("serve --help lacks %s", fl.Name)
		}
	})
	for _, args := range [][]string{{"serve", "--nope"}, {"frobnicate"}, nil} {
		if err := run(args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestVersion pins `onnxserve version`: onnxserve's version, then the
// ONNX Runtime library's version and path.
func TestVersion(t *testing.T) {
	t.Chdir("../..")
	var out bytes.Buffer
	if err := run([]string{"version"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "onnxserve ") || !strings.HasPrefix(lines[1], "onnx runtime 1.24.") || !strings.Contains(lines[1], "libonnxruntime.so") {
		t.Errorf("version:\n%s", out.String())
	}
	t.Setenv("ORT_LIB", "/nonexistent/libonnxruntime.so")
	if err := run([]string{"version"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "/nonexistent/libonnxruntime.so") {
		t.Errorf("version with a missing library: %v", err)
	}
}

// TestExecutionProviderFlag pins --execution-provider: a provider name
// from any source, anything else refused naming the flag.
func TestExecutionProviderFlag(t *testing.T) {
	f, err := parseServeFlags([]string{"--config", writeConfig(t, "execution-provider: auto\n")})
	if err != nil || f.provider != "auto" {
		t.Errorf("from the file: %v, %v", f, err)
	}
	if f, err := parseServeFlags(nil); err != nil || f.provider != "cpu" {
		t.Errorf("default: %v, %v", f, err)
	}
	if _, err := parseServeFlags([]string{"--execution-provider", "gpu"}); err == nil || !strings.Contains(err.Error(), `--execution-provider: execution provider "gpu": want cpu, cuda, tensorrt or auto`) {
		t.Errorf("gpu: %v", err)
	}
}
