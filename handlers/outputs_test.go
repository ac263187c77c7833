package handlers_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
)

// The test models' words (scripts/export_models.py, BYTES_WORDS): code i
// gives word i; the last is not UTF-8. Their base64, worked out by hand
// from the bytes: "plain" 70 6c 61 69 6e, "café" 63 61 66 c3 a9, and
// ff 'r' 'a' 'w' fe.
var (
	bytesWords  = []string{"plain", "café", "\xffraw\xfe"}
	bytesBase64 = []string{"cGxhaW4=", "Y2Fmw6k=", "/3Jhd/4="}
)

// runFaultRepo serves the bytes, strings and reshape test models.
func runFaultRepo(t *testing.T) string {
	dir := t.TempDir()
	for _, m := range []string{"bytes", "strings", "reshape"} {
		servertest.CopyFile(t, servertest.Path("runtime/testdata", m+".onnx"), filepath.Join(dir, m, "model.onnx"))
	}
	return dir
}

// postRaw posts body with header set.
func postRaw(t *testing.T, url string, header map[string]string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res := doRequest(t, req)
	return res.Status, res.Body
}

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// TestBytesOutputsNotUTF8 pins the JSON form of a string output whose
// bytes are not valid UTF-8, which a JSON string cannot carry (it used to
// come back with U+FFFD in their place): the whole output as base64, said
// by content_type "base64" (a v2 output parameter, a /v1 content_types
// entry), while outputs that are UTF-8 stay plain strings, and the binary
// form returns the bytes exactly.
func TestBytesOutputsNotUTF8(t *testing.T) {
	srv, _ := servertest.Start(t, runFaultRepo(t), servertest.Options{})
	for _, tc := range []struct {
		name, path, body string
		want             string // part of the answer
		notWant          string
	}{
		{"v1, one word not UTF-8", "/v1/models/bytes/predict", `{"inputs": {"code": [0, 1, 2]}}`,
			`"outputs":{"word":` + quoted(bytesBase64) + `},"content_types":{"word":"base64"}}`, ""},
		{"v1, every word UTF-8", "/v1/models/bytes/predict", `{"inputs": {"code": [0, 1]}}`,
			`"outputs":{"word":` + quoted(bytesWords[:2]) + `}}`, "content_types"},
		{"v2 JSON, one word not UTF-8", "/v2/models/bytes/infer", `{"inputs": [{"name": "code", "shape": [3], "datatype": "INT64", "data": [0, 1, 2]}]}`,
			`{"name":"word","datatype":"BYTES","shape":[3],"parameters":{"content_type":"base64"},"data":` + quoted(bytesBase64) + `}`, ""},
		{"v2 JSON, every word UTF-8", "/v2/models/bytes/infer", `{"inputs": [{"name": "code", "shape": [2], "datatype": "INT64", "data": [1, 0]}]}`,
			`{"name":"word","datatype":"BYTES","shape":[2],"data":["café","plain"]}`, "content_type"},
	} {
		status, body := postRaw(t, srv.URL+tc.path, nil, []byte(tc.body))
		if status != 200 || !strings.Contains(string(body), tc.want) || tc.notWant != "" && strings.Contains(string(body), tc.notWant) {
			t.Errorf("%s: %d %s\nwant it to hold %s", tc.name, status, body, tc.want)
		}
	}

	// The bytes come in binary (the only way, as JSON input must be UTF-8)
	// through the strings model's Identity, and go out as JSON base64, or
	// binary, exactly.
	var bin []byte
	for _, w := range bytesWords {
		bin = binary.LittleEndian.AppendUint32(bin, uint32(len(w)))
		bin = append(bin, w...)
	}
	for _, tc := range []struct {
		name    string
		outputs string
		want    []byte // the answer's tail: its JSON's outputs part, or the binary bytes
	}{
		{"JSON", `[{"name": "same"}]`, []byte(`"outputs":[{"name":"same","datatype":"BYTES","shape":[3],"parameters":{"content_type":"base64"},"data":` + quoted(bytesBase64) + `}]}`)},
		{"binary", `[{"name": "same", "parameters": {"binary_data": true}}]`, bin},
	} {
		header := fmt.Sprintf(`{"inputs": [{"name": "text", "shape": [3], "datatype": "BYTES", "parameters": {"binary_data_size": %d}}], "outputs": %s}`, len(bin), tc.outputs)
		status, body := postRaw(t, srv.URL+"/v2/models/strings/infer", map[string]string{"Inference-Header-Content-Length": strconv.Itoa(len(header))}, append([]byte(header), bin...))
		if status != 200 || !bytes.HasSuffix(body, tc.want) {
			t.Errorf("identity of bytes not UTF-8, %s out: %d %q\nwant it to end with %q", tc.name, status, body, tc.want)
		}
	}
}

// TestRunRejectedInputs pins that a request ONNX Runtime refuses at run
// time because of its inputs, which fit the signature (the reshape test
// model needs batch*n to be a multiple of 32, which no signature can say),
// is the client's fault with ORT's reason, and no source path of ORT's:
// /v1 422, /v2 400, as any input that does not fit; the server stays ready,
// and an input that fits is answered as numpy computed at export.
func TestRunRejectedInputs(t *testing.T) {
	srv, _ := servertest.Start(t, runFaultRepo(t), servertest.Options{})
	row := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("0.5,", n), ",") + "]" }
	const reason = `model \"reshape\" refused the inputs at run time: Reshape node: The input tensor cannot be reshaped to the requested shape. Input shape:{1,48}, requested shape:{-1,32}`
	for _, tc := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"v1", "/v1/models/reshape/predict", `{"inputs": {"x": [` + row(48) + `]}}`, 422, `{"error":"` + reason + `"}`},
		{"v2", "/v2/models/reshape/infer", `{"inputs": [{"name": "x", "shape": [1, 48], "datatype": "FP32", "data": ` + row(48) + `}]}`, 400, `{"error":"` + reason + `"}`},
	} {
		status, body := postRaw(t, srv.URL+tc.path, nil, []byte(tc.body))
		if status != tc.status || string(body) != tc.want {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.want)
		}
	}
	if res := do(t, "GET", srv.URL+"/readyz", ""); res.Status != 200 {
		t.Errorf("not ready after the refusals: %d", res.Status)
	}
	raw, err := os.ReadFile(servertest.Path("runtime/testdata/reshape.expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Cases []struct{ Inputs, Outputs map[string]json.RawMessage }
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	for i, c := range exp.Cases {
		status, body := postRaw(t, srv.URL+"/v1/models/reshape/predict", nil, []byte(`{"inputs": {"x": `+string(c.Inputs["x"])+`}}`))
		var got struct{ Outputs map[string]any }
		json.Unmarshal(body, &got)
		var want any
		json.Unmarshal(c.Outputs["y"], &want)
		if status != 200 || fmt.Sprint(got.Outputs["y"]) != fmt.Sprint(want) {
			t.Errorf("case %d: %d %s, want y = %v", i, status, body, want)
		}
	}
}
