package handlers_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// refusedX is an x of the branches test model that picky refuses (its
// Gather takes only x under 3): 0, 0.25, ..., 11.75 over [3, 16], as JSON
// rows; doubled is ok = 2·x of it.
func refusedX() (rows string, doubled [][]float64) {
	var b strings.Builder
	b.WriteString("[")
	for r := range 3 {
		if r > 0 {
			b.WriteString(",")
		}
		b.WriteString("[")
		var row []float64
		for c := range 16 {
			x := float64(r*16+c) / 4
			if c > 0 {
				b.WriteString(",")
			}
			fmt.Fprint(&b, x)
			row = append(row, 2*x)
		}
		b.WriteString("]")
		doubled = append(doubled, row)
	}
	b.WriteString("]")
	return b.String(), doubled
}

// TestOutputsComputed pins that a request's outputs select what is
// computed, over /v1 (body and query) and /v2: on an x that picky refuses,
// ok alone is answered as 2·x, from the first request on, and picky,
// alone, with ok or by asking for every output, is still refused, 422 on
// /v1 and 400 on /v2 with the Gather's reason (runtime/outputs_test.go
// pins the same in the runtime, handlers/grpc on gRPC). With and without
// dynamic batching, which merges requests asking for different outputs.
func TestOutputsComputed(t *testing.T) {
	for _, config := range []string{"", "max_batch_size: 8\ndynamic_batching: {}\n"} {
		dir := t.TempDir()
		servertest.CopyFile(t, servertest.Path("runtime/testdata/branches.onnx"), filepath.Join(dir, "branches", "model.onnx"))
		if config != "" {
			servertest.WriteFile(t, filepath.Join(dir, "branches", "config.yaml"), config)
		}
		srv, _ := servertest.Start(t, dir, servertest.Options{})
		x, doubled := refusedX()
		v1 := srv.URL + "/v1/models/branches/predict"
		v2 := srv.URL + "/v2/models/branches/infer"
		v2Body := func(outputs string) string {
			return `{"inputs": [{"name": "x", "datatype": "FP32", "shape": [3, 16], "data": ` + x + `}]` + outputs + `}`
		}
		const refused = `Gather node: indices element out of data bounds`
		for _, c := range []struct {
			name, url, body string
			ok              bool // answered with ok alone; else refused
			status          int  // of a refusal
		}{
			{"v1 body: ok", v1, `{"inputs": {"x": ` + x + `}, "outputs": ["ok"]}`, true, 0},
			{"v1 query: ok", v1 + "?outputs=ok", `{"inputs": {"x": ` + x + `}}`, true, 0},
			{"v2: ok", v2, v2Body(`, "outputs": [{"name": "ok"}]`), true, 0},
			{"v1 body: picky", v1, `{"inputs": {"x": ` + x + `}, "outputs": ["picky"]}`, false, 422},
			{"v1 query: ok and picky", v1 + "?outputs=ok,picky", `{"inputs": {"x": ` + x + `}}`, false, 422},
			{"v1: every output", v1, `{"inputs": {"x": ` + x + `}}`, false, 422},
			{"v2: picky", v2, v2Body(`, "outputs": [{"name": "picky"}]`), false, 400},
			{"v2: picky and ok", v2, v2Body(`, "outputs": [{"name": "picky"}, {"name": "ok"}]`), false, 400},
			{"v2: every output", v2, v2Body(""), false, 400},
		} {
			name := c.name
			if config != "" {
				name += " (dynamic batching)"
			}
			res := do(t, "POST", c.url, c.body)
			if !c.ok {
				if res.Status != c.status || !strings.Contains(string(res.Body), refused) {
					t.Errorf("%s: %d %s, want %d with %q", name, res.Status, res.Body, c.status, refused)
				}
				continue
			}
			if res.Status != 200 {
				t.Errorf("%s: %d %s", name, res.Status, res.Body)
				continue
			}
			checkOkAlone(t, name, res.Body, doubled)
		}
	}
}

// checkOkAlone fails unless body (a /v1 or /v2 answer) holds ok alone,
// equal to want.
func checkOkAlone(t *testing.T, name string, body []byte, want [][]float64) {
	t.Helper()
	var got struct {
		Outputs json.RawMessage `json:"outputs"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v: %s", name, err, body)
	}
	var ok any
	var v1 map[string]any
	var v2 []struct {
		Name string    `json:"name"`
		Data []float64 `json:"data"`
	}
	switch {
	case json.Unmarshal(got.Outputs, &v1) == nil:
		if len(v1) != 1 || v1["ok"] == nil {
			t.Errorf("%s: outputs %s, want ok alone", name, got.Outputs)
			return
		}
		ok = v1["ok"]
	case json.Unmarshal(got.Outputs, &v2) == nil:
		if len(v2) != 1 || v2[0].Name != "ok" || len(v2[0].Data) != len(want)*len(want[0]) {
			t.Errorf("%s: outputs %s, want ok alone", name, got.Outputs)
			return
		}
		rows := make([]any, len(want))
		for r := range rows {
			row := make([]any, len(want[r]))
			for c := range row {
				row[c] = v2[0].Data[r*len(row)+c]
			}
			rows[r] = row
		}
		ok = rows
	default:
		t.Fatalf("%s: outputs %s", name, got.Outputs)
	}
	w, _ := json.Marshal(want)
	assertClose(t, name+": ok", ok, w, 0)
}
