package handlers_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// TestV2Endpoints pins the health and metadata endpoints: Triton's status
// codes, the KServe bodies, v2 datatypes and -1 for dynamic dimensions,
// and 404 for what does not exist.
func TestV2Endpoints(t *testing.T) {
	dir := servertest.TestRepo(t)
	servertest.WriteFile(t, filepath.Join(dir, "broken", "model.onnx"), "not onnx")
	srv, _ := servertest.Start(t, dir, servertest.Options{Control: runtime.ControlNone, SkipBad: true})
	cases := []struct {
		what, path string
		status     int
		body       string // the JSON body, exactly; or "error:" and a substring of the message
	}{
		{"server metadata names the extensions", "/v2", 200, `{"name":"onnxserve","version":"0.1","extensions":["binary_tensor_data","classification","model_repository"]}`},
		{"live", "/v2/health/live", 200, `{"live":true}`},
		{"not ready while a model failed to load: 400, as Triton", "/v2/health/ready", 400, "error:not every model is loaded"},
		{"iris metadata: versions, platform, FP32 input with -1 batch", "/v2/models/iris", 200,
			`{"name":"iris","versions":["1"],"platform":"onnxruntime_onnx","inputs":[{"name":"X","datatype":"FP32","shape":[-1,4]}],"outputs":[{"name":"label","datatype":"INT64","shape":[-1]},{"name":"probabilities","datatype":"FP32","shape":[-1,3]}],"parameters":{"execution_provider":"cpu"}}`},
		{"versioned metadata", "/v2/models/iris/versions/1", 200,
			`{"name":"iris","versions":["1"],"platform":"onnxruntime_onnx","inputs":[{"name":"X","datatype":"FP32","shape":[-1,4]}],"outputs":[{"name":"label","datatype":"INT64","shape":[-1]},{"name":"probabilities","datatype":"FP32","shape":[-1,3]}],"parameters":{"execution_provider":"cpu"}}`},
		{"a scalar input has shape [], not null", "/v2/models/scalar", 200,
			`{"name":"scalar","versions":["1"],"platform":"onnxruntime_onnx","inputs":[{"name":"x","datatype":"FP32","shape":[-1,2]},{"name":"scale","datatype":"FP32","shape":[]}],"outputs":[{"name":"y","datatype":"FP32","shape":[-1,2]}],"parameters":{"execution_provider":"cpu"}}`},
		{"ZipMap outputs have no v2 datatype and are left out", "/v2/models/zipmap", 200,
			`{"name":"zipmap","versions":["1"],"platform":"onnxruntime_onnx","inputs":[{"name":"x","datatype":"FP32","shape":[-1,3]}],"outputs":[{"name":"probabilities","datatype":"FP32","shape":[-1,3]}],"parameters":{"execution_provider":"cpu"}}`},
		{"FP16, BF16 and BYTES names", "/v2/models/halfid", 200,
			`{"name":"halfid","versions":["1"],"platform":"onnxruntime_onnx","inputs":[{"name":"x16","datatype":"FP16","shape":[-1]},{"name":"xb","datatype":"BF16","shape":[-1]}],"outputs":[{"name":"y16","datatype":"FP16","shape":[-1]},{"name":"yb","datatype":"BF16","shape":[-1]}],"parameters":{"execution_provider":"cpu"}}`},
		{"model ready", "/v2/models/iris/ready", 200, `{"name":"iris","ready":true}`},
		{"version ready", "/v2/models/iris/versions/1/ready", 200, `{"name":"iris","ready":true}`},
		{"unknown model: 404", "/v2/models/nope", 404, `error:model "nope" not found`},
		{"unknown version: 404", "/v2/models/iris/versions/7", 404, `error:model "iris" has no version "7"`},
		{"unknown model not ready: 404", "/v2/models/nope/ready", 404, "error:not found"},
		{"unknown version not ready: 404", "/v2/models/iris/versions/2/ready", 404, "error:no version"},
		{"a model that failed to load is not ready: 400, as Triton", "/v2/models/broken/ready", 400, "error:model version not ready"},
		{"metadata of a model that failed to load: 503", "/v2/models/broken", 503, "error:not available"},
		{"unknown route", "/v2/nothing", 404, "error:no route"},
	}
	for _, c := range cases {
		res := do(t, "GET", srv.URL+c.path, "")
		if res.Status != c.status {
			t.Errorf("%s: %s: status %d, want %d: %s", c.what, c.path, res.Status, c.status, res.Body)
			continue
		}
		if msg, ok := strings.CutPrefix(c.body, "error:"); ok {
			var e map[string]string
			if json.Unmarshal(res.Body, &e) != nil || len(e) != 1 || !strings.Contains(e["error"], msg) {
				t.Errorf("%s: body %s, want {\"error\": ...%s...}", c.what, res.Body, msg)
			}
		} else if string(res.Body) != c.body {
			t.Errorf("%s: body\n%s\nwant\n%s", c.what, res.Body, c.body)
		}
	}
	if res := do(t, "POST", srv.URL+"/v2/models/iris", ""); res.Status != 405 {
		t.Errorf("POST on metadata: %d", res.Status)
	}
}

// jsonInput writes one JSON input object.
func jsonInput(name, datatype string, shape []int64, data string) string {
	return `{"name":"` + name + `","datatype":"` + datatype + `","shape":` + mustJSON(shape) + `,"data":` + data + `}`
}

// TestV2ErrorBodies pins whole error bodies, byte for byte, where the
// rule behind them lives in the core: the text v2 clients have always got.
func TestV2ErrorBodies(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{SkipBad: true})
	x := jsonInput("X", "FP32", []int64{1, 4}, "[5.1,3.5,1.4,0.2]")
	for _, c := range []struct{ model, body, want string }{
		{"iris", `{"inputs":[` + x + `,` + jsonInput("Z", "FP32", []int64{1}, "[1]") + `]}`,
			`{"error":"unexpected inference input 'Z' for model 'iris'"}`},
		{"tabular", `{"inputs":[` + jsonInput("numeric", "FP32", []int64{2, 3}, "[1,2,3,4,5,6]") + `,` + jsonInput("category", "INT64", []int64{3}, "[1,2,3]") + `]}`,
			`{"error":"validation failed: inputs.category: batch of 3 differs from input numeric's batch of 2"}`},
		{"tabular", `{"inputs":[` + jsonInput("numeric", "FP32", []int64{1, 3}, "[1,2,3]") + `]}`,
			`{"error":"expected 2 inputs but got 1 inputs for model 'tabular'; missing input(s) \"category\""}`},
		{"iris", `{"inputs":[` + jsonInput("X", "FP32", []int64{65, 4}, "["+strings.Repeat("0,", 259)+"0]") + `]}`,
			`{"error":"inference request batch-size must be \u003c= 64 for 'iris', input 'X' has 65"}`}, // gin's JSON escapes <
	} {
		res := do(t, "POST", srv.URL+"/v2/models/"+c.model+"/infer", c.body)
		if res.Status != 400 || string(res.Body) != c.want {
			t.Errorf("%s: %d %s\nwant 400 %s", c.model, res.Status, res.Body, c.want)
		}
	}
}

// TestV2Errors pins every way a request can be refused: the status, and
// a message that names what is wrong (the input, the output, the header),
// as a {"error": "..."} body and nothing else.
func TestV2Errors(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Control: runtime.ControlNone, SkipBad: true})
	iris := func(in ...string) string { return `{"inputs":[` + strings.Join(in, ",") + `]}` }
	x := jsonInput("X", "FP32", []int64{1, 4}, "[5.1,3.5,1.4,0.2]")
	tab := jsonInput("numeric", "FP32", []int64{1, 3}, "[1,2,3]") + "," + jsonInput("category", "INT64", []int64{1}, "[1]")
	bin := func(name, datatype string, shape []int64, size int) string {
		return `{"name":"` + name + `","datatype":"` + datatype + `","shape":` + mustJSON(shape) + `,"parameters":{"binary_data_size":` + strconv.Itoa(size) + `}}`
	}
	f32 := func(vs ...float32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return b
	}
	cases := []struct {
		what   string
		model  string
		header string // the Inference-Header-Content-Length value; "auto" for the JSON's length
		body   string
		bin    []byte
		status int
		msg    string
	}{
		{"unknown model", "nope", "", iris(x), nil, 404, `model "nope" not found`},
		{"unknown version", "iris/versions/9", "", iris(x), nil, 404, `no version "9"`},
		{"empty body", "iris", "", "", nil, 400, "empty request"},
		{"malformed JSON", "iris", "", `{"inputs":[`, nil, 400, "malformed JSON"},
		{"not an object", "iris", "", `[1]`, nil, 400, "malformed JSON"},
		{"trailing garbage", "iris", "", iris(x) + "x", nil, 400, "malformed JSON"},
		{"inputs not an array", "iris", "", `{"inputs":{}}`, nil, 400, "expected an array"},
		{"duplicate inputs field", "iris", "", `{"inputs":[` + x + `],"inputs":[]}`, nil, 400, `duplicate field "inputs"`},
		{"no inputs", "iris", "", `{"inputs":[]}`, nil, 400, `expected 1 inputs but got 0 inputs for model 'iris'; missing input(s) "X"`},
		{"missing input named", "tabular", "", iris(jsonInput("numeric", "FP32", []int64{1, 3}, "[1,2,3]")), nil, 400, `missing input(s) "category"`},
		{"unknown input", "iris", "", iris(x, jsonInput("Z", "FP32", []int64{1}, "[1]")), nil, 400, "unexpected inference input 'Z' for model 'iris'"},
		{"duplicate input", "iris", "", iris(x, x), nil, 400, "input 'X' appears twice"},
		{"datatype not the model's", "iris", "", iris(jsonInput("X", "FP64", []int64{1, 4}, "[1,2,3,4]")), nil, 400, "inference input 'X' data-type is 'FP64', but model 'iris' expects 'FP32'"},
		{"unknown datatype", "iris", "", iris(jsonInput("X", "FLOAT", []int64{1, 4}, "[1,2,3,4]")), nil, 400, "input 'X': unknown datatype 'FLOAT'"},
		{"our dtype names are not v2 names", "iris", "", iris(jsonInput("X", "float32", []int64{1, 4}, "[1,2,3,4]")), nil, 400, "unknown datatype 'float32'"},
		{"rank not the model's", "iris", "", iris(jsonInput("X", "FP32", []int64{4}, "[1,2,3,4]")), nil, 400, "unexpected shape for input 'X' for model 'iris'. Expected [-1, 4], got [4]"},
		{"fixed dimension not the model's", "iris", "", iris(jsonInput("X", "FP32", []int64{1, 3}, "[1,2,3]")), nil, 400, "Expected [-1, 4], got [1, 3]"},
		{"flat data shorter than the shape", "iris", "", iris(jsonInput("X", "FP32", []int64{2, 4}, "[1,2,3,4]")), nil, 400, "input 'X': shape [2, 4] has 8 elements, but data has 4"},
		{"flat data longer than the shape", "iris", "", iris(jsonInput("X", "FP32", []int64{1, 4}, "[1,2,3,4,5]")), nil, 400, "has 4 elements, but data has 5"},
		{"empty data", "iris", "", iris(jsonInput("X", "FP32", []int64{1, 4}, "[]")), nil, 400, "has 4 elements, but data has 0"},
		{"nested data not the shape", "iris", "", iris(jsonInput("X", "FP32", []int64{2, 4}, "[[1,2,3,4],[1,2,3]]")), nil, 400, "inputs.X[1]: expected 4 elements, got 3"},
		{"nested deeper than the shape", "iris", "", iris(jsonInput("X", "FP32", []int64{1, 4}, "[[[1,2,3,4]]]")), nil, 400, "inputs.X"},
		{"data not an array", "iris", "", iris(jsonInput("X", "FP32", []int64{1, 4}, `"1,2,3,4"`)), nil, 400, "expected an array, got a string"},
		{"a string among numbers", "iris", "", iris(jsonInput("X", "FP32", []int64{1, 4}, `[1,2,"3",4]`)), nil, 400, "inputs.X[2]: expected a number, got a string"},
		{"a number beyond FP32", "iris", "", iris(jsonInput("X", "FP32", []int64{1, 4}, `[1,2,1e39,4]`)), nil, 400, "out of range for float32"},
		{"INT8 out of range", "dtypes", "", `{"inputs":[` + jsonInput("i8", "INT8", []int64{1, 2}, "[1,300]") + `]}`, nil, 400, "300 is out of range for int8"},
		{"a fraction for INT64", "tabular", "", iris(jsonInput("numeric", "FP32", []int64{1, 3}, "[1,2,3]"), jsonInput("category", "INT64", []int64{1}, "[1.5]")), nil, 400, "expected an integer, got 1.5"},
		{"negative UINT8", "dtypes", "", `{"inputs":[` + jsonInput("u8", "UINT8", []int64{1, 2}, "[-1,0]") + `]}`, nil, 400, "out of range for uint8"},
		{"1 for BOOL", "dtypes", "", `{"inputs":[` + jsonInput("b", "BOOL", []int64{1, 2}, "[1,0]") + `]}`, nil, 400, "expected true or false"},
		{"a number for BYTES", "strings", "", iris(jsonInput("text", "BYTES", []int64{1}, "[1]")), nil, 400, "expected a string, got a number"},
		{"FP16 beyond its range", "halfid", "", iris(jsonInput("x16", "FP16", []int64{1}, "[70000]"), jsonInput("xb", "BF16", []int64{1}, "[1]")), nil, 400, "70000 is out of range for float16"},
		{"negative dimension", "iris", "", iris(jsonInput("X", "FP32", []int64{-1, 4}, "[1,2,3,4]")), nil, 400, "shape[0]: -1 is not a valid size"},
		{"a shape no request could fill", "iris", "", iris(jsonInput("X", "FP32", []int64{1000000000000, 4}, "[1]")), nil, 400, "has more elements than a request of"},
		{"batch over max_batch_size", "iris", "", iris(jsonInput("X", "FP32", []int64{65, 4}, "["+strings.Repeat("0,", 259)+"0]")), nil, 400, "inference request batch-size must be <= 64 for 'iris'"},
		{"batches that disagree", "tabular", "", iris(jsonInput("numeric", "FP32", []int64{2, 3}, "[1,2,3,4,5,6]"), jsonInput("category", "INT64", []int64{3}, "[1,2,3]")), nil, 400, "batch of 3 differs from input numeric's batch of 2"},
		{"missing shape", "iris", "", `{"inputs":[{"name":"X","datatype":"FP32","data":[1,2,3,4]}]}`, nil, 400, `input 'X': missing "shape"`},
		{"missing name", "iris", "", `{"inputs":[{"datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}`, nil, 400, `inputs[0]: missing "name"`},
		{"no data at all", "iris", "", `{"inputs":[{"name":"X","datatype":"FP32","shape":[1,4]}]}`, nil, 400, "must set one of 'data' and 'binary_data_size'"},
		{"data and binary", "iris", "auto", `{"inputs":[{"name":"X","datatype":"FP32","shape":[1,4],"data":[1,2,3,4],"parameters":{"binary_data_size":16}}]}`, f32(1, 2, 3, 4), 400, "must set only one of 'data' and 'binary_data_size'"},
		{"shared memory", "iris", "", `{"inputs":[{"name":"X","datatype":"FP32","shape":[1,4],"parameters":{"shared_memory_region":"r"}}]}`, nil, 400, "shared-memory extension is not supported"},
		{"id not a string", "iris", "", `{"id":42,"inputs":[` + x + `]}`, nil, 400, "id: expected a string, got a number"},
		{"binary_data_output not a bool", "iris", "", `{"parameters":{"binary_data_output":"yes"},"inputs":[` + x + `]}`, nil, 400, "binary_data_output: expected true or false"},
		{"timeout negative", "iris", "", `{"parameters":{"timeout":-5},"inputs":[` + x + `]}`, nil, 400, "parameters.timeout: -5 is not a timeout: microseconds, 0 (none) or more"},
		{"timeout not an integer", "iris", "", `{"parameters":{"timeout":"1s"},"inputs":[` + x + `]}`, nil, 400, "parameters.timeout: expected an integer, got a string"},
		{"a timeout the request fits in", "iris", "", `{"parameters":{"timeout":60000000},"inputs":[` + x + `]}`, nil, 200, ""},
		{"unknown output", "iris", "", `{"inputs":[` + x + `],"outputs":[{"name":"nope"}]}`, nil, 400, "unexpected inference output 'nope' for model 'iris'"},
		{"output requested twice", "iris", "", `{"inputs":[` + x + `],"outputs":[{"name":"label"},{"name":"label"}]}`, nil, 400, "output 'label' is requested twice"},
		{"output without a name", "iris", "", `{"inputs":[` + x + `],"outputs":[{}]}`, nil, 400, `outputs[0]: missing "name"`},
		{"a ZipMap model answers with its tensor outputs", "zipmap", "", iris(jsonInput("x", "FP32", []int64{1, 3}, "[1,2,3]")), nil, 200, ""},
		{"a ZipMap output requested", "zipmap", "", `{"inputs":[` + jsonInput("x", "FP32", []int64{1, 3}, "[1,2,3]") + `],"outputs":[{"name":"output_probability"}]}`, nil, 400, "output 'output_probability' is a sequence of maps"},
		{"classification of a BOOL output", "tabular", "", `{"outputs":[{"name":"flag","parameters":{"classification":1}}],"inputs":[` + tab + `]}`, nil, 400, "class result not available for output 'flag' due to unsupported type 'BOOL'"},
		{"classification of 0", "iris", "", `{"inputs":[` + x + `],"outputs":[{"name":"probabilities","parameters":{"classification":0}}]}`, nil, 400, "classification must be at least 1"},
		{"classification not a number", "iris", "", `{"inputs":[` + x + `],"outputs":[{"name":"probabilities","parameters":{"classification":"2"}}]}`, nil, 400, "classification: expected an integer"},
		{"binary size not the shape's", "iris", "auto", iris(bin("X", "FP32", []int64{1, 4}, 12)), f32(1, 2, 3), 400, "the raw data is 12 bytes, but 4 FP32 elements of shape [1, 4] take 16"},
		{"binary bytes missing", "iris", "auto", iris(bin("X", "FP32", []int64{1, 4}, 16)), f32(1, 2), 400, "unexpected size for input 'X', expecting 8 additional bytes for model 'iris'"},
		{"binary bytes left over", "iris", "auto", iris(bin("X", "FP32", []int64{1, 4}, 16)), f32(1, 2, 3, 4, 5), 400, "unexpected additional input data for model 'iris': 4 bytes"},
		{"binary without the header length", "iris", "", iris(bin("X", "FP32", []int64{1, 4}, 16)), nil, 400, "expecting 16 additional bytes"},
		{"binary BOOL not 0 or 1", "dtypes", "auto", `{"inputs":[` + bin("b", "BOOL", []int64{1, 2}, 2) + `]}`, []byte{1, 2}, 400, "input 'b': BOOL element 1 is byte 2; must be 0 or 1"},
		{"binary BYTES cut short", "strings", "auto", iris(bin("text", "BYTES", []int64{1}, 6)), []byte{9, 0, 0, 0, 'a', 'b'}, 400, "BYTES element 0 is 9 bytes long, but only 2 bytes are left"},
		{"binary BYTES count not the shape's", "strings", "auto", iris(bin("text", "BYTES", []int64{2}, 5)), []byte{1, 0, 0, 0, 'a'}, 400, "shape [2] has 2 elements, but the raw data holds 1"},
		{"header length not a number", "iris", "x", iris(x), nil, 400, "Unable to parse Inference-Header-Content-Length, got: x"},
		{"header length beyond the body", "iris", "100000", iris(x), nil, 400, "inference header size should be in range"},
		{"raw binary to a model of two inputs", "tabular", "0", "", f32(1, 2, 3), 400, "needs a model with one input; 'tabular' has 2"},
		{"raw binary not whole elements", "iris", "0", "", []byte{1, 2, 3}, 400, "3 bytes is not a whole number of FP32 elements"},
		{"raw binary not the shape", "iris", "0", "", f32(1, 2, 3), 400, "take 16"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("POST", srv.URL+"/v2/models/"+c.model+"/infer", bytes.NewReader(append([]byte(c.body), c.bin...)))
		switch c.header {
		case "auto":
			req.Header.Set(headerLengthKey, strconv.Itoa(len(c.body)))
		case "":
		default:
			req.Header.Set(headerLengthKey, c.header)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.what, res.StatusCode, c.status, body.Bytes())
			continue
		}
		if c.status == 200 {
			continue
		}
		var e map[string]any
		if json.Unmarshal(body.Bytes(), &e) != nil || len(e) != 1 {
			t.Errorf("%s: body is not {\"error\": ...}: %s", c.what, body.Bytes())
			continue
		}
		if msg, _ := e["error"].(string); !strings.Contains(msg, c.msg) {
			t.Errorf("%s: error %q, want it to contain %q", c.what, msg, c.msg)
		}
	}

	// Over the body limit: 413; GET on infer: 405.
	big := iris(jsonInput("X", "FP32", []int64{1, 4}, "["+strings.Repeat(" ", 2<<20)+"1,2,3,4]"))
	if res := do(t, "POST", srv.URL+"/v2/models/iris/infer", big); res.Status != 413 || !strings.Contains(string(res.Body), `"error"`) {
		t.Errorf("over the body limit: %d %s", res.Status, res.Body)
	}
	if res := do(t, "GET", srv.URL+"/v2/models/iris/infer", ""); res.Status != 405 {
		t.Errorf("GET infer: %d", res.Status)
	}
}

// TestV2RawBinary pins Triton's raw binary request: with
// Inference-Header-Content-Length: 0 the body is the only input's bytes,
// batch 1, and every output comes back binary.
func TestV2RawBinary(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Control: runtime.ControlNone, SkipBad: true})
	exp := loadExpected(t, servertest.Path(servertest.Models["iris"]))
	_, row := flatJSON(t, json.RawMessage(`[5.1, 3.5, 1.4, 0.2]`))
	res := postV2Raw(t, srv.URL+"/v2/models/iris/infer", encodeLeaves(t, "FP32", row))
	if res.Status != 200 {
		t.Fatalf("%d %s", res.Status, res.Error)
	}
	if l := res.Outputs["label"]; !l.Binary || len(l.Data) != 1 || l.Data[0] != 0.0 {
		t.Errorf("label %+v, want [0] as binary", l)
	}
	_, want := flatJSON(t, exp.Cases[0].Outputs["probabilities"])
	assertClose(t, "raw probabilities", res.Outputs["probabilities"].Data, []byte(mustJSON(asStored("FP32", want))), exp.Atol)

	res = postV2Raw(t, srv.URL+"/v2/models/strings/infer", encodeLeaves(t, "BYTES", []any{"green"}))
	if res.Status != 200 || res.Outputs["code"].Data[0] != 1.0 || res.Outputs["same"].Data[0] != "green" {
		t.Errorf("raw BYTES: %+v", res)
	}
}

func postV2Raw(t *testing.T, url string, body []byte) v2Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set(headerLengthKey, "0")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return parseV2(t, res, b.Bytes())
}
