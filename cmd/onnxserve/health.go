package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// readyPath is the readiness probe health asks: the Open Inference
// Protocol's, which Kubernetes and KServe probe too.
const readyPath = "/v2/health/ready"

// health asks the server at --addr whether it is ready, for a container's
// HEALTHCHECK: slim images have no curl. A nil error (exit 0) is ready.
func health(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	// The same name and environment variable as serve's --addr, so that
	// a container that moves the port with ONNXSERVE_ADDR checks it too.
	addr := fs.String("addr", ":8080", "the server's HTTP address, HOST:PORT (an empty host is this machine)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	// serve's --tls-cert, by the same environment variable: a server
	// that serves TLS is asked over HTTPS.
	cert := fs.String("tls-cert", "", "the certificate the server serves (serve's --tls-cert): ask over HTTPS, trusting exactly that certificate")
	// serve's config file, by the same flag and environment variable: its
	// addr and tls-cert are the server's, where neither a flag nor the
	// environment says otherwise, as for serve; its other keys are
	// serve's, and left out.
	fs.String(configFlag, "", "serve's YAML config file (serve's --config): its addr and tls-cert, unless a flag or the environment sets them")
	serveFS, _ := serveFlagSet(&serveFlags{})
	if _, err := settleSharing(fs, args, os.LookupEnv, func(name string) bool { return serveFS.Lookup(name) != nil }); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", *addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1" // a server listening on every address answers here
	}
	scheme, transport := "http", http.DefaultTransport
	if *cert != "" {
		cfg, err := pinnedTLS(*cert)
		if err != nil {
			return err
		}
		scheme, transport = "https", &http.Transport{TLSClientConfig: cfg}
	}
	url := scheme + "://" + net.JoinHostPort(host, port) + readyPath
	client := &http.Client{Timeout: *timeout, Transport: transport}
	res, err := client.Get(url)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("not ready: %s did not answer within %v", url, *timeout)
		}
		return fmt.Errorf("not ready: no server answers at %s: %w", url, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s answered %s", url, res.Status)
	}
	fmt.Fprintf(stdout, "ready: %s\n", url)
	return nil
}
