package deploy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The cross-checks run the server binary the image holds, never a stand-in:
// its own flag parser reads the manifests' arguments and its own router
// answers their probes.

// serveDefaults reads serve's flags and their defaults from its own usage
// text (`onnxserve serve -h`): the flag parser is the one source of both.
func serveDefaults(t *testing.T, bin string) map[string]string {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-h")
	cmd.Env = []string{} // defaults, not this machine's ONNXSERVE_ variables
	out, _ := cmd.CombinedOutput()
	flags := map[string]string{}
	// "  -addr string\n    \tlisten address (default \":8080\")"
	re := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)(?: \S+)?\n((?:    \t.*\n?)+)`)
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		def := ""
		if d := regexp.MustCompile(`\(default "?([^")]*)"?\)\s*$`).FindStringSubmatch(m[2]); d != nil {
			def = d[1]
		}
		flags[m[1]] = def
	}
	if _, ok := flags["addr"]; !ok {
		t.Fatalf("onnxserve serve -h lists no --addr:\n%s", out)
	}
	return flags
}

// envName is serve's environment variable for a flag.
func envName(flag string) string {
	return "ONNXSERVE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagOf is the flag an ONNXSERVE_ variable sets.
func flagOf(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "ONNXSERVE_")), "_", "-")
}

// effective is a flag's value as serve would have it: the last of the
// arguments that set it, else its environment variable, else its default.
func effective(args []string, env map[string]string, defaults map[string]string, flag string) string {
	v, set := "", false
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != flag {
			continue
		}
		if !hasVal && i+1 < len(args) {
			val = args[i+1]
		}
		v, set = val, true
	}
	if set {
		return v
	}
	if e, ok := env[envName(flag)]; ok {
		return e
	}
	return defaults[flag]
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
	eventually(t, what, func() bool {
		select {
		case <-s.done:
			t.Fatalf("the server exited before %s: %v\n%s", what, s.err, s.logs.String())
		default:
		}
		return ok()
	})
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
