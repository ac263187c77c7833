package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// TestLogWriter pins that lines are held, then written by the timer
// without another line coming, and by Close, whole and in order.
func TestLogWriter(t *testing.T) {
	var out servertest.SyncBuffer
	l := newLogWriter(&out)
	l.Write([]byte("one\n"))
	l.Write([]byte("two\n"))
	if got := out.String(); got != "" {
		t.Errorf("written at once: %q", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for out.String() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := out.String(); got != "one\ntwo\n" {
		t.Fatalf("after the flush timer: %q", got)
	}
	l.Write([]byte("three\n"))
	l.Close()
	if got := out.String(); got != "one\ntwo\nthree\n" {
		t.Errorf("after Close: %q", got)
	}
	big := strings.Repeat("x", 100<<10)
	l.Write([]byte(big))
	if got := out.String(); len(got) < 64<<10 {
		t.Errorf("a line past the buffer waited: %d bytes written", len(got))
	}
	l.Close()
}

// BenchmarkLogLine is one access-sized log line through slog to a file,
// written at once and through logWriter: what the buffering saves a
// request.
func BenchmarkLogLine(b *testing.B) {
	for _, buffered := range []bool{false, true} {
		name := "direct"
		if buffered {
			name = "logWriter"
		}
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var w io.Writer = f
			if buffered {
				lw := newLogWriter(f)
				defer lw.Close()
				w = lw
			}
			log := slog.New(slog.NewTextHandler(w, nil))
			for b.Loop() {
				log.Info("request", "request_id", "82a15ee6ecde94ee", "protocol", "http", "route", "POST /v1/models/:name/predict",
					"status", "200", "duration_ms", 0.474, "bytes_in", 112, "bytes_out", 231, "client", "127.0.0.1", "model", "iris")
			}
		})
	}
}
