package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/accesslog"
)

// TestLogger: the server's logger is accesslog's handler, whose access
// lines take the fast path, in the format and at the level the flags say.
func TestLogger(t *testing.T) {
	line := accesslog.Line{ID: "abc-123", Protocol: "http", Method: "POST", Route: "/v1/models/:name/predict", Code: 200, Client: "127.0.0.1"}
	for _, format := range []string{"text", "json"} {
		for _, c := range []struct {
			level slog.Level
			lines int
		}{{slog.LevelDebug, 1}, {slog.LevelInfo, 1}, {slog.LevelWarn, 0}} {
			var out bytes.Buffer
			log := (&serveFlags{logFormat: format, logLevel: c.level}).logger(&out)
			if _, ok := log.Handler().(*accesslog.Handler); !ok {
				t.Fatalf("handler %T, not accesslog's", log.Handler())
			}
			accesslog.Write(context.Background(), log, line)
			if n := strings.Count(out.String(), "\n"); n != c.lines {
				t.Fatalf("%s at %v: %d lines, want %d: %s", format, c.level, n, c.lines, out.String())
			}
			if c.lines == 0 {
				continue
			}
			var fields map[string]any
			if format == "text" != strings.HasPrefix(out.String(), "time=") || format == "json" && json.Unmarshal(out.Bytes(), &fields) != nil {
				t.Errorf("%s: %s", format, out.String())
			}
			if !strings.Contains(out.String(), "POST /v1/models/:name/predict") {
				t.Errorf("%s: no route in %s", format, out.String())
			}
		}
	}
}
