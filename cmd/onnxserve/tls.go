package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// tlsFiles are the --tls-* flags: the served certificate and key, and for
// mutual TLS the CAs a client's certificate must be signed by.
type tlsFiles struct {
	cert, key, clientCA string
}

// check refuses a half-given pair before anything is loaded, so that
// `onnxserve config` catches it too.
func (t tlsFiles) check() error {
	if (t.cert == "") != (t.key == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if t.clientCA != "" && t.cert == "" {
		return errors.New("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
	}
	return nil
}

// config is the TLS configuration every listener (HTTP, gRPC, metrics)
// serves with, or nil without --tls-cert. The certificate is read now, and
// again whenever its files change (certificate.get); the client CAs are
// read once, now.
func (t tlsFiles) config(log *slog.Logger) (*tls.Config, error) {
	if t.cert == "" {
		return nil, nil
	}
	c := &certificate{certFile: t.cert, keyFile: t.key, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.get}
	if t.clientCA != "" {
		pem, err := os.ReadFile(t.clientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificate in it", t.clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// certificate is the served key pair, re-read when its files change, so
// that a renewed certificate (cert-manager, a rotated Kubernetes secret)
// is served without a restart.
//
// The files are read on every handshake and compared with what was last
// read: a few kilobytes, next to the milliseconds of a handshake's
// public-key operations; comparing contents rather than modification
// times also catches two writes within one tick of the file system's
// clock. A new pair that does not load (the key written after the
// certificate, or a broken file) is logged and the old one kept; it is
// tried again once the files change again.
type certificate struct {
	certFile, keyFile string
	log               *slog.Logger

	mu     sync.Mutex
	served *tls.Certificate
	// certPEM and keyPEM are the files as last read, whether they loaded
	// or not.
	certPEM, keyPEM []byte
}

// load reads the pair at start: it must load.
func (c *certificate) load() error {
	certPEM, keyPEM, err := c.read()
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("--tls-cert %s, --tls-key %s: %w", c.certFile, c.keyFile, err)
	}
	c.served, c.certPEM, c.keyPEM = &pair, certPEM, keyPEM
	return nil
}

func (c *certificate) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(c.certFile); err != nil {
		return nil, nil, fmt.Errorf("--tls-cert: %w", err)
	}
	if keyPEM, err = os.ReadFile(c.keyFile); err != nil {
		return nil, nil, fmt.Errorf("--tls-key: %w", err)
	}
	return certPEM, keyPEM, nil
}

// get is tls.Config.GetCertificate.
func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	certPEM, keyPEM, err := c.read()
	if err != nil {
		if c.certPEM != nil { // say so once, not per handshake
			c.log.Warn("TLS certificate files unreadable: serving the certificate loaded before", "err", err)
			c.certPEM, c.keyPEM = nil, nil
		}
		return c.served, nil
	}
	if bytes.Equal(certPEM, c.certPEM) && bytes.Equal(keyPEM, c.keyPEM) {
		return c.served, nil
	}
	c.certPEM, c.keyPEM = certPEM, keyPEM
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		c.log.Warn("TLS certificate changed but does not load: serving the one loaded before", "cert", c.certFile, "key", c.keyFile, "err", err)
		return c.served, nil
	}
	c.served = &pair
	attrs := []any{"cert", c.certFile}
	if leaf, err := x509.ParseCertificate(pair.Certificate[0]); err == nil {
		attrs = append(attrs, "subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
	}
	c.log.Info("TLS certificate reloaded", attrs...)
	return c.served, nil
}

// pinnedTLS is the client side for onnxserve health: it trusts the one
// certificate the server serves from certFile, whatever names it holds.
// Checking the chain and the host name would refuse a certificate made
// for the service's DNS name when asked on 127.0.0.1, which is where a
// container's health check asks. The file is read at the handshake, as
// the server reads it, so a rotation in between does not fail the check.
func pinnedTLS(certFile string) (*tls.Config, error) {
	if _, err := os.Stat(certFile); err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verified below, against the file: there is no chain to check.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			b, err := os.ReadFile(certFile)
			if err != nil {
				return fmt.Errorf("--tls-cert: %w", err)
			}
			block, _ := pem.Decode(b)
			if block == nil || len(raw) == 0 || !bytes.Equal(block.Bytes, raw[0]) {
				return fmt.Errorf("the server's certificate is not the one in %s", certFile)
			}
			return nil
		},
	}, nil
}
