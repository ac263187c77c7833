package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// processEnv, set in a test binary's environment, makes it the real
// onnxserve: TestMain calls runAsProcess, which runs main with the
// arguments after "--" and exits with main's status.
const processEnv = "ONNXSERVE_TEST_PROCESS"

// runAsProcess runs main when the test binary was started as the real
// onnxserve by startProcess, and returns otherwise.
func runAsProcess() {
	if os.Getenv(processEnv) != "1" {
		return
	}
	for i, a := range os.Args {
		if a == "--" {
			os.Args = append([]string{os.Args[0]}, os.Args[i+1:]...)
			break
		}
	}
	main()
	os.Exit(0)
}

// process is onnxserve serving in a process of its own, so that a test can
// signal it and read its exit status.
type process struct {
	cmd      *exec.Cmd
	addr     string
	grpcAddr string
	done     chan struct{}
	err      error                 // the exit status, once done is closed
	log      servertest.SyncBuffer // stderr, read while it runs
}

// freeAddr is a loopback address no one listens on, for a server to take.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess starts onnxserve serve on the shipped models, HTTP and gRPC
// on loopback, with args added, and returns once /readyz answers 200. A
// process still running when the test ends is killed.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	p := &process{addr: freeAddr(t), grpcAddr: freeAddr(t), done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$", "--", "serve", "--addr", p.addr, "--grpc-addr", p.grpcAddr, "--models", "models")
	p.cmd.Args = append(p.cmd.Args, args...)
	p.cmd.Dir = root
	p.cmd.Env = append(os.Environ(), processEnv+"=1")
	p.cmd.Stderr = &p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", p.log.String())
		}
	})
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if res, err := probe.Get("http://" + p.addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("server exited before it was ready: %v", p.err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("server never became ready")
		}
	}
}

// terminate sends SIGTERM, as Kubernetes does to stop a pod.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// exited waits for the process to end (at most a minute) and fails the
// test unless it exited 0.
func (p *process) exited(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatal("server did not exit within a minute of SIGTERM")
	}
	if p.err != nil {
		t.Errorf("server exited with %v, want status 0", p.err)
	}
}
