package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"sigs.k8s.io/yaml"
)

// The cross-checks run the server binary the image holds, never a stand-in:
// its own flag parser reads the manifests' arguments and its own router
// answers their probes.

// config is serve's effective configuration for args (serve's, without
// the subcommand) and env, as `onnxserve config` prints it: the server's own
// parser, with its precedence of flag over environment over --config file
// over default. A value that does not parse fails the test.
func config(t *testing.T, bin string, args []string, env map[string]string) map[string]string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"config"}, args...)...)
	cmd.Env = environ(env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("onnxserve config %v: %v\n%s", args, err, out)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(out, &raw); err != nil {
		t.Fatalf("onnxserve config printed no YAML: %v\n%s", err, out)
	}
	cfg := map[string]string{}
	for k, v := range raw {
		if l, ok := v.([]any); ok {
			var parts []string
			for _, e := range l {
				parts = append(parts, fmt.Sprint(e))
			}
			cfg[k] = strings.Join(parts, ",")
			continue
		}
		cfg[k] = fmt.Sprint(v)
	}
	if _, ok := cfg["addr"]; !ok {
		t.Fatalf("onnxserve config lists no addr:\n%s", out)
	}
	return cfg
}

// serveArgs are a container's arguments after the serve subcommand.
func serveArgs(t *testing.T, args []string) []string {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("arguments %v: want serve first", args)
	}
	return args[1:]
}

// flagOf is the flag an ONNXSERVE_ variable sets.
func flagOf(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "ONNXSERVE_")), "_", "-")
}

func environ(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// A server is a running server binary.
type server struct {
	done chan struct{}
	err  error // once done is closed
	logs *bytes.Buffer
}

// start runs bin with args and only env (and PATH); the test's cleanup
// SIGTERMs it and expects a clean exit, as a pod's termination does.
func start(t *testing.T, bin string, args []string, env map[string]string) *server {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(environ(env), "PATH="+os.Getenv("PATH"))
	s := &server{done: make(chan struct{}), logs: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-s.done
		if s.err != nil {
			t.Errorf("%s %v after SIGTERM: %v\n%s", bin, args, s.err, s.logs.String())
		}
	})
	return s
}

// up polls ok until it holds, failing at once when the server exits.
func (s *server) up(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		select {
		case <-s.done:
			t.Fatalf("the server exited before %s: %v\n%s", what, s.err, s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s; the server's log:\n%s", what, s.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func httpGet(t *testing.T, url string) int {
	t.Helper()
	code, _ := httpBody(t, url)
	return code
}

func httpBody(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// grpcServing asks grpc.health.v1 at addr for service, as the kubelet's
// gRPC probe does.
func grpcServing(t *testing.T, addr, service string) bool {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	return err == nil && res.Status == healthpb.HealthCheckResponse_SERVING
}
