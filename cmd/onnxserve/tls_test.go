package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/onnxserve/onnxserve/handlers/grpc/inferencepb"
)

// testCA signs the certificates a TLS test serves and presents.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key the CA signed: for 127.0.0.1 as
// a server, or as a client.
func (ca *testCA) issue(t *testing.T, serial int64, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "onnxserve test"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	if client {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	}
	return ca.sign(t, tmpl)
}

// issueFor is a server certificate for a DNS name only.
func (ca *testCA) issueFor(t *testing.T, serial int64, dnsName string) (certPEM, keyPEM []byte) {
	t.Helper()
	return ca.sign(t, &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
}

// sign makes a key and a certificate of it from tmpl, valid for an hour
// either side of now, signed by the CA.
func (ca *testCA) sign(t *testing.T, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.NotBefore, tmpl.NotAfter, tmpl.KeyUsage = time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func (ca *testCA) clientCert(t *testing.T) tls.Certificate {
	t.Helper()
	c, k := ca.issue(t, 100, true)
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsFixture is a CA and a served pair of serial 1 in a directory.
type tlsFixture struct {
	ca                        *testCA
	certFile, keyFile, caFile string
}

func newTLSFixture(t *testing.T) *tlsFixture {
	dir := t.TempDir()
	fx := &tlsFixture{ca: newCA(t, "onnxserve test CA"), certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key"), caFile: filepath.Join(dir, "ca.crt")}
	fx.rotate(t, 1)
	write(t, fx.caFile, fx.ca.pem)
	return fx
}

// rotate writes a new served pair, of the serial given.
func (fx *tlsFixture) rotate(t *testing.T, serial int64) {
	c, k := fx.ca.issue(t, serial, false)
	write(t, fx.certFile, c)
	write(t, fx.keyFile, k)
}

// rotateNamed writes a served pair for a DNS name and no IP address.
func (fx *tlsFixture) rotateNamed(t *testing.T, serial int64, name string) {
	c, k := fx.ca.issueFor(t, serial, name)
	write(t, fx.certFile, c)
	write(t, fx.keyFile, k)
}

// client trusts the fixture's CA and presents certs; it opens a new
// connection, so a new handshake, for every request.
func (fx *tlsFixture) client(certs ...tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(fx.ca.pem)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
}

// servedSerial is the serial of the certificate a new connection is served.
func servedSerial(t *testing.T, c *http.Client, url string) int64 {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.TLS.PeerCertificates[0].SerialNumber.Int64()
}

const irisBody = `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`

// TestTLS pins --tls-cert and --tls-key over the real serve path: HTTPS
// predict and metrics work, plain HTTP is refused, and a rotated
// certificate is served from the next handshake on, while a broken new one
// leaves the old one served.
func TestTLS(t *testing.T) {
	fx := newTLSFixture(t)
	c := fx.client()
	metricsAddr := freeAddr(t)
	addr, stop := servingWith(t, "https", "/readyz", c.Transport.(*http.Transport),
		"--tls-cert", fx.certFile, "--tls-key", fx.keyFile, "--metrics-addr", metricsAddr)
	res, err := c.Post("https://"+addr+"/v1/models/iris/predict", "application/json", strings.NewReader(irisBody))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"label":"setosa"`) || res.ProtoMajor != 2 {
		t.Errorf("HTTPS predict: %s %d %s, want HTTP/2 200 with setosa", res.Proto, res.StatusCode, body)
	}
	if res, err := c.Get("https://" + metricsAddr + "/metrics"); err != nil || res.StatusCode != 200 {
		t.Errorf("HTTPS metrics: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	// Go's server answers plain HTTP on a TLS port with a 400 naming the
	// mistake, never with the API.
	for _, url := range []string{"http://" + addr + "/v1/models/iris/predict", "http://" + metricsAddr + "/metrics"} {
		res, err := http.Post(url, "application/json", strings.NewReader(irisBody))
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
				t.Errorf("plain HTTP to %s: %d %s", url, res.StatusCode, body)
			}
		}
	}

	url := "https://" + addr + "/healthz"
	if got := servedSerial(t, c, url); got != 1 {
		t.Fatalf("serial %d served at start, want 1", got)
	}
	fx.rotate(t, 2)
	if got := servedSerial(t, c, url); got != 2 {
		t.Errorf("serial %d served after rotation, want 2", got)
	}
	write(t, fx.certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	if got := servedSerial(t, c, url); got != 2 {
		t.Errorf("serial %d served after a broken certificate was written, want 2 still", got)
	}
	os.Remove(fx.keyFile)
	if got := servedSerial(t, c, url); got != 2 {
		t.Errorf("serial %d served with the key file gone, want 2 still", got)
	}
	fx.rotate(t, 3)
	if got := servedSerial(t, c, url); got != 3 {
		t.Errorf("serial %d served after the next rotation, want 3", got)
	}
	stop()
}

// TestMutualTLS pins --tls-client-ca: a client without a certificate, or
// with one another CA signed, is refused in the handshake; one the CA
// signed is served, over HTTP and gRPC.
func TestMutualTLS(t *testing.T) {
	fx := newTLSFixture(t)
	good := fx.ca.clientCert(t)
	grpcAddr := freeAddr(t)
	addr, stop := servingWith(t, "https", "/readyz", fx.client(good).Transport.(*http.Transport),
		"--tls-cert", fx.certFile, "--tls-key", fx.keyFile, "--tls-client-ca", fx.caFile, "--grpc-addr", grpcAddr)
	for _, tc := range []struct {
		what   string
		certs  []tls.Certificate
		served bool
	}{
		{"no client certificate", nil, false},
		{"a certificate of another CA", []tls.Certificate{newCA(t, "other CA").clientCert(t)}, false},
		{"a certificate of the client CA", []tls.Certificate{good}, true},
	} {
		t.Run(tc.what, func(t *testing.T) {
			res, err := fx.client(tc.certs...).Post("https://"+addr+"/v1/models/iris/predict", "application/json", strings.NewReader(irisBody))
			if err == nil {
				res.Body.Close()
			}
			if served := err == nil && res.StatusCode == 200; served != tc.served {
				t.Errorf("HTTP: %v %v, want served %v", res, err, tc.served)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(fx.ca.pem)
			_, err = grpcInfer(t, grpcAddr, credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: tc.certs}))
			if served := err == nil; served != tc.served {
				t.Errorf("gRPC: %v, want served %v", err, tc.served)
			}
		})
	}
	stop()
}

// TestGRPCTLS pins gRPC over TLS on --grpc-addr: a TLS client is served,
// a plaintext one is not.
func TestGRPCTLS(t *testing.T) {
	fx := newTLSFixture(t)
	grpcAddr := freeAddr(t)
	_, stop := servingWith(t, "https", "/readyz", fx.client().Transport.(*http.Transport),
		"--tls-cert", fx.certFile, "--tls-key", fx.keyFile, "--grpc-addr", grpcAddr)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(fx.ca.pem)
	resp, err := grpcInfer(t, grpcAddr, credentials.NewTLS(&tls.Config{RootCAs: pool}))
	if err != nil || len(resp.RawOutputContents) != 2 || string(resp.RawOutputContents[0]) != string(make([]byte, 8)) {
		t.Errorf("ModelInfer over TLS: %v, %v; want label 0 (setosa)", resp, err)
	}
	if _, err := grpcInfer(t, grpcAddr, insecure.NewCredentials()); err == nil {
		t.Error("a plaintext gRPC client was served")
	}
	stop()
}

// grpcInfer sends one iris ModelInfer with creds.
func grpcInfer(t *testing.T, addr string, creds credentials.TransportCredentials) (*pb.ModelInferResponse, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return pb.NewGRPCInferenceServiceClient(conn).ModelInfer(t.Context(), &pb.ModelInferRequest{ModelName: "iris",
		Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "X", Datatype: "FP32", Shape: []int64{1, 4},
			Contents: &pb.InferTensorContents{Fp32Contents: []float32{5.1, 3.5, 1.4, 0.2}}}}})
}

// TestTLSFlags pins the --tls-* flags refused before anything is served:
// a half pair, a client CA without TLS, files that are not what they
// should be.
func TestTLSFlags(t *testing.T) {
	fx := newTLSFixture(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", fx.certFile}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-key", fx.keyFile}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-client-ca", fx.caFile}, "--tls-client-ca needs --tls-cert"},
		{[]string{"--tls-cert", "/nonexistent/tls.crt", "--tls-key", fx.keyFile}, "/nonexistent/tls.crt"},
		{[]string{"--tls-cert", fx.caFile, "--tls-key", fx.keyFile}, "private key does not match public key"},
		{[]string{"--tls-cert", fx.certFile, "--tls-key", fx.keyFile, "--tls-client-ca", fx.keyFile}, "no PEM certificate"},
	} {
		err := run(append([]string{"serve", "--addr", "127.0.0.1:0", "--grpc-addr", "", "--models", "/nonexistent"}, tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestHealthTLS pins onnxserve health against a server with TLS: asked
// with the served certificate's file it says ready over HTTPS, whatever
// names the certificate holds; asked with another certificate, or none,
// it fails.
func TestHealthTLS(t *testing.T) {
	fx := newTLSFixture(t)
	addr, stop := servingWith(t, "https", "/readyz", fx.client().Transport.(*http.Transport), "--tls-cert", fx.certFile, "--tls-key", fx.keyFile)
	other := filepath.Join(t.TempDir(), "other.crt")
	c, _ := newCA(t, "other CA").issue(t, 1, false)
	write(t, other, c)
	for _, tc := range []struct {
		what string
		args []string
		want string // output, or for an error its start
		ok   bool
	}{
		{"the served certificate", []string{"--tls-cert", fx.certFile}, "ready: https://127.0.0.1:", true},
		{"another certificate", []string{"--tls-cert", other}, "not ready: no server answers at https://127.0.0.1:", false},
		{"plain HTTP", nil, "not ready: http://127.0.0.1:", false},
	} {
		var out strings.Builder
		err := run(append([]string{"health", "--addr", addr}, tc.args...), &out, io.Discard)
		switch {
		case tc.ok && (err != nil || !strings.HasPrefix(out.String(), tc.want)):
			t.Errorf("%s: %v, printed %q", tc.what, err, out.String())
		case !tc.ok && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error starting %q", tc.what, err, tc.want)
		}
	}
	// The certificate names no localhost address: health does not ask it to.
	fx.rotateNamed(t, 2, "onnxserve.default.svc")
	var out strings.Builder
	if err := run([]string{"health", "--addr", addr, "--tls-cert", fx.certFile}, &out, io.Discard); err != nil {
		t.Errorf("a certificate for a DNS name: %v", err)
	}
	stop()
}
