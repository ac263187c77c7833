package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHealth pins onnxserve health against the real serve path: exit 0
// (a nil error) and "ready" from a ready server, an error naming the
// status from one that is up but not ready (a model that failed to load,
// kept with --skip-bad-models), and an error naming the address when
// nothing listens there.
func TestHealth(t *testing.T) {
	broken := t.TempDir()
	if err := os.MkdirAll(filepath.Join(broken, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "broken", "model.onnx"), []byte("not onnx"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what    string
		start   func(t *testing.T) string // the address to ask
		wantOut string
		wantErr string
	}{
		{"ready", func(t *testing.T) string {
			addr, _ := serving(t)
			return addr
		}, "ready: http://127.0.0.1:", ""},
		{"up but not ready", func(t *testing.T) string {
			addr, _ := servingUntil(t, "/healthz", "--models", broken, "--skip-bad-models")
			return addr
		}, "", "not ready: http://127.0.0.1:"},
		{"nothing listening", func(t *testing.T) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			return addr
		}, "", "not ready: no server answers at http://127.0.0.1:"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			addr := tc.start(t)
			var out bytes.Buffer
			err := run([]string{"health", "--addr", addr}, &out, &out)
			if tc.wantErr == "" {
				if err != nil || !strings.HasPrefix(out.String(), tc.wantOut) {
					t.Fatalf("health: %v, printed %q", err, out.String())
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("health: %v, want an error starting %q", err, tc.wantErr)
			}
			// /v2/health/ready answers a server not ready 400, as Triton.
			if tc.what == "up but not ready" && !strings.HasSuffix(err.Error(), "answered 400 Bad Request") {
				t.Errorf("health does not name the status: %v", err)
			}
		})
	}
}

// TestHealthAddrFromEnv pins that health asks where ONNXSERVE_ADDR moved
// the server, as serve reads it, and that an empty host is this machine.
func TestHealthAddrFromEnv(t *testing.T) {
	addr, _ := serving(t)
	_, port, _ := net.SplitHostPort(addr)
	t.Setenv("ONNXSERVE_ADDR", ":"+port)
	var out bytes.Buffer
	if err := run([]string{"health"}, &out, &out); err != nil {
		t.Fatalf("health with ONNXSERVE_ADDR=:%s: %v", port, err)
	}
}

// TestHealthConfig pins that health reads serve's config file, by --config
// or ONNXSERVE_CONFIG, for the server's addr (a container started with a
// config file is checked where it listens), that a flag still beats the
// file, that the file's other serve keys are left out, and that a key
// no serve flag has is still refused.
func TestHealthConfig(t *testing.T) {
	addr, _ := serving(t)
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	file := filepath.Join(dir, "onnxserve.yaml")
	if err := os.WriteFile(file, []byte("addr: \":"+port+"\"\nmodels: ./models\ngrpc-addr: \"\"\naccess-log: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("adr: \":"+port+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nothing := free.Addr().String()
	free.Close()
	for _, tc := range []struct {
		what    string
		args    []string
		env     string // ONNXSERVE_CONFIG
		wantErr string
	}{
		{"--config", []string{"--config", file}, "", ""},
		{"ONNXSERVE_CONFIG", nil, file, ""},
		{"a flag beats the file", []string{"--config", file, "--addr", nothing}, "", "not ready: no server answers"},
		{"a key no serve flag has", []string{"--config", typo}, "", `unknown key "adr"`},
	} {
		t.Run(tc.what, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("ONNXSERVE_CONFIG", tc.env)
			}
			var out bytes.Buffer
			err := run(append([]string{"health"}, tc.args...), &out, &out)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("health %v: %v", tc.args, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("health %v: %v, want an error with %q", tc.args, err, tc.wantErr)
			}
		})
	}
}
