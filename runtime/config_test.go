package runtime

import (
	"strings"
	"testing"
	"time"

	"github.com/onnxserve/onnxserve/runtime/imagetensor"
)

// TestRequestTimeoutConfig pins how request_timeout is read: a Go duration
// with its unit, 0 or more; a number without a unit is refused saying what
// to write, not read as some unit the writer may not have meant.
func TestRequestTimeoutConfig(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want time.Duration
		err  string // "" when it must be read
	}{
		{"request_timeout: 250ms\n", 250 * time.Millisecond, ""},
		{"request_timeout: \"2s\"\n", 2 * time.Second, ""},
		{"request_timeout: 1m30s\n", 90 * time.Second, ""},
		{"request_timeout: 0s\n", 0, ""},
		{"request_timeout:\n", 0, ""},
		{"description: no timeout\n", 0, ""},
		{"request_timeout: -1s\n", 0, "request_timeout must be 0 or more, got -1s"},
		{"request_timeout: 250\n", 0, `request_timeout: 250 is not a duration: write it with its unit, as "250ms" or "2s" ("0s" for none)`},
		{"request_timeout: 0\n", 0, "request_timeout: 0 is not a duration"},
		{"request_timeout: soon\n", 0, "request_timeout: soon is not a duration"},
		{"request_timeout: [1s]\n", 0, "cannot unmarshal"},
	} {
		c, err := readConfigText(t, tc.yaml)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.err == "" && c.RequestTimeout != tc.want:
			t.Errorf("%q: request_timeout %v, want %v", tc.yaml, c.RequestTimeout, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: %v, want an error with %q", tc.yaml, err, tc.err)
		}
	}
	// A Config built in code meets the same rule.
	if _, err := LoadModel("test", "1", "../models/iris/1/model.onnx", &Config{RequestTimeout: -time.Second}, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "request_timeout must be 0 or more") {
		t.Errorf("a negative RequestTimeout in code: %v", err)
	}
}

// TestImageResizeConfig pins how an input image section's resize is read
// and reaches the image spec a model's files are made rows by: stretch
// when unset, stretch, fit or crop as written, anything else refused.
func TestImageResizeConfig(t *testing.T) {
	for _, tc := range []struct {
		resize string
		want   imagetensor.Resize
		err    string // "" when it must load
	}{
		{"", imagetensor.Stretch, ""},
		{"stretch", imagetensor.Stretch, ""},
		{"fit", imagetensor.Fit, ""},
		{"crop", imagetensor.Crop, ""},
		{"squash", "", `resize must be stretch, fit or crop, got "squash"`},
	} {
		yaml := "inputs:\n  pixels:\n    image: {layout: flat, channels: gray, size: [8, 8]"
		if tc.resize != "" {
			yaml += ", resize: " + tc.resize
		}
		cfg, err := readConfigText(t, yaml+"}\n")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("resize %q: %v, want an error with %q", tc.resize, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("resize %q: %v", tc.resize, err)
		}
		m, err := LoadModel("digits", "1", "../models/digits/model.onnx", cfg, LoadOptions{Limiter: NewLimiter(1)})
		if err != nil {
			t.Fatalf("resize %q: %v", tc.resize, err)
		}
		spec, _ := m.ImageInput("pixels")
		m.Close()
		if got := spec.Resize; got != tc.want {
			t.Errorf("resize %q: the spec's is %q, want %q", tc.resize, got, tc.want)
		}
	}
}

// TestPrunedSessionsConfig pins pruned_sessions: unset is the default
// bound, 0 none, a count as written, a negative one refused.
func TestPrunedSessionsConfig(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want int
		err  string // "" when it must be read
	}{
		{"description: unset\n", DefaultPrunedSessions, ""},
		{"pruned_sessions: 0\n", 0, ""},
		{"pruned_sessions: 9\n", 9, ""},
		{"pruned_sessions: -1\n", 0, "pruned_sessions must be 0 or more, got -1"},
		{"pruned_sessions: many\n", 0, "cannot unmarshal"},
	} {
		c, err := readConfigText(t, tc.yaml)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.err == "" && c.prunedSessions() != tc.want:
			t.Errorf("%q: pruned_sessions %d, want %d", tc.yaml, c.prunedSessions(), tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: %v, want an error with %q", tc.yaml, err, tc.err)
		}
	}
}
