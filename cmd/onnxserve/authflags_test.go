package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
)

// TestAuthFlags pins how the key and CORS flags read: repeated, or as
// comma-separated lists (the only way an environment variable carries
// several), --api-keys also by lines; and an environment value replaced,
// not added to, by the flag given on the command line.
func TestAuthFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		infer   []string
		admin   []string
		entries []string
		origins []string
	}{
		{name: "none"},
		{name: "repeated", args: []string{"--api-key", "a", "--api-key", "b", "--admin-api-key", "c"}, infer: []string{"a", "b"}, admin: []string{"c"}},
		{name: "lists", args: []string{"--api-key", "a, b", "--cors-origins", "http://x:1,https://y"}, infer: []string{"a", "b"}, origins: []string{"http://x:1", "https://y"}},
		{name: "env", env: map[string]string{"ONNXSERVE_API_KEY": "a,b", "ONNXSERVE_ADMIN_API_KEY": "c", "ONNXSERVE_API_KEYS": "d infer metrics\ne admin\n", "ONNXSERVE_CORS_ORIGINS": "*"},
			infer: []string{"a", "b"}, admin: []string{"c"}, entries: []string{"d infer metrics", "e admin"}, origins: []string{"*"}},
		{name: "env entries by commas", env: map[string]string{"ONNXSERVE_API_KEYS": "d infer metrics, e admin"}, entries: []string{"d infer metrics", "e admin"}},
		{name: "flag over env", env: map[string]string{"ONNXSERVE_API_KEY": "a,b"}, args: []string{"--api-key", "c", "--api-key", "d"}, infer: []string{"c", "d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f, err := parseServeFlags(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			a := f.auth
			for _, c := range []struct {
				flag      string
				got, want []string
			}{{"--api-key", []string(a.apiKeys), tc.infer}, {"--admin-api-key", []string(a.adminKeys), tc.admin}, {"--api-keys", []string(a.keyEntries), tc.entries}, {"--cors-origins", []string(a.corsOrigins), tc.origins}} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s = %q, want %q", c.flag, c.got, c.want)
				}
			}
		})
	}
}

// TestAuthFlagsOpen pins the start-up: no key at all is one warning that
// the server is open, a key none; a bad entry or origin stops the start
// naming the flag and not the key.
func TestAuthFlagsOpen(t *testing.T) {
	for _, tc := range []struct {
		args []string
		warn bool
		err  string
	}{
		{nil, true, ""},
		{[]string{"--public-metrics"}, true, ""},
		{[]string{"--api-key", "k"}, false, ""},
		{[]string{"--api-keys", "hunter2 write"}, false, "--api-keys entry 1"},
		{[]string{"--cors-origins", "example.com"}, true, "--cors-origins"},
	} {
		f, err := parseServeFlags(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		_, _, err = f.auth.open(slog.New(slog.NewTextHandler(&log, nil)))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%v: %v, want an error naming %s and no key", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if n := strings.Count(log.String(), "no API keys configured"); n != map[bool]int{true: 1, false: 0}[tc.warn] {
			t.Errorf("%v: warned %d times: %s", tc.args, n, log.String())
		}
	}
}

// TestServeAuth pins the keys on the real serve path, from a flag and from
// ONNXSERVE_API_KEYS: the probes open, the API and /metrics (on --addr and
// --metrics-addr) behind their scopes, and gRPC too.
func TestServeAuth(t *testing.T) {
	t.Setenv("ONNXSERVE_API_KEYS", "scraper metrics\n")
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	grpcAddr, metricsAddr := free(), free()
	addr, stop := serving(t, "--api-key", "client", "--grpc-addr", grpcAddr, "--metrics-addr", metricsAddr)
	get := func(url, key string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		url, key string
		want     int
	}{
		{"http://" + addr + "/healthz", "", 200},
		{"http://" + addr + "/v1/models", "", 401},
		{"http://" + addr + "/v1/models", "scraper", 403},
		{"http://" + addr + "/v1/models", "client", 200},
		{"http://" + addr + "/metrics", "", 401},
		{"http://" + addr + "/metrics", "client", 403},
		{"http://" + addr + "/metrics", "scraper", 200},
		{"http://" + metricsAddr + "/metrics", "", 401},
		{"http://" + metricsAddr + "/metrics", "client", 403},
		{"http://" + metricsAddr + "/metrics", "scraper", 200},
	} {
		if got := get(tc.url, tc.key); got != tc.want {
			t.Errorf("GET %s with key %q: %d, want %d", tc.url, tc.key, got, tc.want)
		}
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewGRPCInferenceServiceClient(conn)
	req := &pb.ModelMetadataRequest{Name: "iris"}
	if _, err := client.ModelMetadata(t.Context(), req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ModelMetadata without a key: %v, want UNAUTHENTICATED", err)
	}
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer client")
	if r, err := client.ModelMetadata(ctx, req); err != nil || r.Name != "iris" {
		t.Errorf("ModelMetadata with the key: %v, %v", r, err)
	}
	stop()
}
