package handlers_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// TestLabelsOutput pins which output config.yaml's labels score, on the
// test model logits (outputs logits = x and probabilities = softmax(x),
// both [-1, 3]): with both matching, the model does not load until
// labels_output names one, and the load error says so; with softmax: true
// the logits' predictions are their softmax, which must equal numpy's
// (the export's probabilities) as the probabilities output's do without
// it; the outputs themselves are returned as the model gives them.
func TestLabelsOutput(t *testing.T) {
	labels := "labels: [a, b, c]\n"
	for _, c := range []struct {
		name, config string
		loadErr      string // "" when it must load
	}{
		{"several outputs match", labels, "3 labels fit several outputs (logits float32 [-1, 3], probabilities float32 [-1, 3]): set labels_output"},
		{"labels_output not an output", labels + "labels_output: scores\n", `labels_output "scores" is not an output`},
		{"labels_output without labels", "labels_output: logits\n", "there are no labels"},
		{"softmax without labels", "softmax: true\n", "there are no labels"},
		{"probabilities", labels + "labels_output: probabilities\n", ""},
		{"logits with softmax", labels + "labels_output: logits\nsoftmax: true\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			servertest.CopyFile(t, servertest.Path("runtime/testdata/logits.onnx"), filepath.Join(dir, "logits", "model.onnx"))
			servertest.WriteFile(t, filepath.Join(dir, "logits", "config.yaml"), c.config)
			if c.loadErr != "" {
				_, err := runtime.OpenRepository(dir, runtime.LoadOptions{Logger: servertest.Quiet}, false)
				if err == nil || !strings.Contains(err.Error(), c.loadErr) {
					t.Fatalf("load: %v, want an error with %q", err, c.loadErr)
				}
				return
			}
			srv, _ := servertest.Start(t, dir, servertest.Options{})
			exp := loadExpected(t, servertest.Path("runtime/testdata/logits.expected.json"))
			for i, cs := range exp.Cases {
				res := do(t, "POST", srv.URL+"/v1/models/logits/predict", `{"inputs": {"x": `+string(cs.Inputs["x"])+`}}`)
				if res.Status != 200 {
					t.Fatalf("case %d: %d %s", i, res.Status, res.Body)
				}
				var got struct {
					Outputs     map[string]any `json:"outputs"`
					Predictions []struct {
						Label  string             `json:"label"`
						Scores map[string]float64 `json:"scores"`
					} `json:"predictions"`
				}
				if err := json.Unmarshal(res.Body, &got); err != nil {
					t.Fatal(err)
				}
				for _, out := range []string{"logits", "probabilities"} {
					assertClose(t, out, got.Outputs[out], cs.Outputs[out], exp.Atol)
				}
				probs := rowsOf(t, cs.Outputs["probabilities"])
				if len(got.Predictions) != len(probs) {
					t.Fatalf("case %d: %d predictions for %d rows", i, len(got.Predictions), len(probs))
				}
				for r, p := range got.Predictions {
					row := []any{p.Scores["a"], p.Scores["b"], p.Scores["c"]}
					assertClose(t, "scores", row, json.RawMessage(mustJSON(probs[r])), exp.Atol)
					best := 0
					for j, v := range probs[r] {
						if v > probs[r][best] {
							best = j
						}
					}
					if want := []string{"a", "b", "c"}[best]; p.Label != want {
						t.Errorf("case %d row %d: label %s, want %s", i, r, p.Label, want)
					}
				}
			}
		})
	}
}
