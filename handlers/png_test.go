package handlers_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// TestPNGOutput pins image outputs on the shipped digitview (its output
// image, [-1, 1, 32, 32] in 0..1, declared an image in config.yaml): with
// Accept: image/png a one-row request is answered with a PNG whose gray
// levels, decoded by image/png, are the ones numpy computed at export
// (expected.json's "image.png"); JSON still answers with the tensor; a
// PNG of several rows, or of a model without image outputs, is a 422.
func TestPNGOutput(t *testing.T) {
	srv := shippedServer(t)
	exp := loadExpected(t, "../models/digitview/expected.json")
	post := func(path, accept, body string) response {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Accept", accept)
		return doRequest(t, req)
	}
	for i, c := range exp.Cases {
		body := `{"inputs": {"pixels": ` + string(c.Inputs["pixels"]) + `}}`
		var levels [][][]int
		if err := json.Unmarshal(c.Outputs["image.png"], &levels); err != nil {
			t.Fatal(err)
		}
		res := post("/v1/models/digitview/predict", "application/json", body)
		var js struct {
			Outputs map[string]any `json:"outputs"`
		}
		if err := json.Unmarshal(res.Body, &js); res.Status != 200 || err != nil {
			t.Fatalf("case %d JSON: %d %s", i, res.Status, res.Body)
		}
		assertClose(t, "image", js.Outputs["image"], c.Outputs["image"], 0)

		res = post("/v1/models/digitview/predict", "image/png", body)
		if len(levels) > 1 {
			if res.Status != 422 || !strings.Contains(string(res.Body), "one picture and the request has 2 rows") {
				t.Errorf("case %d, %d rows as PNG: %d %s", i, len(levels), res.Status, res.Body)
			}
			continue
		}
		if res.Status != 200 || res.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("case %d PNG: %d %s %s", i, res.Status, res.Header.Get("Content-Type"), res.Body)
		}
		img, err := png.Decode(bytes.NewReader(res.Body))
		if err != nil {
			t.Fatal(err)
		}
		g, ok := img.(*image.Gray)
		if !ok || g.Bounds() != image.Rect(0, 0, 32, 32) {
			t.Fatalf("case %d: %T %v", i, img, img.Bounds())
		}
		for y, row := range levels[0] {
			for x, want := range row {
				if got := g.GrayAt(x, y).Y; int(got) != want {
					t.Fatalf("case %d: pixel (%d, %d) is %d, numpy says %d", i, x, y, got, want)
				}
			}
		}
	}
	if res := post("/v1/models/iris/predict", "image/png", `{"inputs": {"X": [[5.1, 3.5, 1.4, 0.2]]}}`); res.Status != 422 || !strings.Contains(string(res.Body), "no output of model 'iris' is an image") {
		t.Errorf("iris as PNG: %d %s", res.Status, res.Body)
	}
	if res := post("/v1/models/iris/predict", "*/*", `{"inputs": {"X": [[5.1, 3.5, 1.4, 0.2]]}}`); res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("iris with */*: %d %s", res.Status, res.Header.Get("Content-Type"))
	}
}

// TestImageOutputConfig pins the load errors of config.yaml's outputs
// section: an output the model lacks, an output that cannot be pictures,
// a range that is not low < high.
func TestImageOutputConfig(t *testing.T) {
	for _, c := range []struct{ model, config, err string }{
		{"models/digitview/model.onnx", "outputs:\n  picture:\n    image: {range: [0, 1]}\n", "outputs.picture: not an output"},
		{"models/digits/model.onnx", "outputs:\n  probabilities:\n    image: {range: [0, 1]}\n", "outputs.probabilities.image: an image output is [H, W]"},
		{"models/digitview/model.onnx", "outputs:\n  image:\n    image: {range: [1, 1]}\n", "outputs.image.image.range must be [low, high] with low < high"},
	} {
		dir := t.TempDir()
		servertest.CopyFile(t, servertest.Path(c.model), filepath.Join(dir, "m", "model.onnx"))
		servertest.WriteFile(t, filepath.Join(dir, "m", "config.yaml"), c.config)
		if _, err := runtime.OpenRepository(dir, runtime.LoadOptions{Logger: servertest.Quiet}, false); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: %v, want %q", c.config, err, c.err)
		}
	}
}
