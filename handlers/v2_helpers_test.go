package handlers_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"testing"
)

// Helpers of the v2 tests: a client side of the binary tensor extension
// written from the protocol docs, independent of the server's.

// headerLengthKey is the binary tensor extension's header: the length of
// the JSON at the start of a body that binary tensor data follows.
const headerLengthKey = "Inference-Header-Content-Length"

// flatJSON reads nested JSON arrays into their shape and row-major leaves
// (json.Number, bool or string).
func flatJSON(t testing.TB, raw json.RawMessage) ([]int64, []any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var shape []int64
	for a, ok := v.([]any); ok; a, ok = a[0].([]any) {
		shape = append(shape, int64(len(a)))
		if len(a) == 0 {
			break
		}
	}
	var leaves []any
	var visit func(any)
	visit = func(x any) {
		if a, ok := x.([]any); ok {
			for _, y := range a {
				visit(y)
			}
			return
		}
		leaves = append(leaves, x)
	}
	visit(v)
	if shape == nil {
		shape = []int64{}
	}
	return shape, leaves
}

// encodeLeaves writes JSON leaves as the binary tensor extension says:
// little-endian, BOOL one byte, BYTES 4-byte length then the bytes.
func encodeLeaves(t testing.TB, datatype string, leaves []any) []byte {
	t.Helper()
	var b []byte
	for _, x := range leaves {
		switch datatype {
		case "BYTES":
			s := x.(string)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		case "BOOL":
			if x.(bool) {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		default:
			b = appendNumber(t, b, datatype, string(x.(json.Number)))
		}
	}
	return b
}

func appendNumber(t testing.TB, b []byte, datatype, s string) []byte {
	t.Helper()
	le := binary.LittleEndian
	f, _ := strconv.ParseFloat(s, 64)
	i, ierr := strconv.ParseInt(s, 10, 64)
	u, uerr := strconv.ParseUint(s, 10, 64)
	switch {
	case datatype == "FP32":
		return le.AppendUint32(b, math.Float32bits(float32(f)))
	case datatype == "FP64":
		return le.AppendUint64(b, math.Float64bits(f))
	case datatype == "FP16":
		return le.AppendUint16(b, toHalf(f))
	case datatype == "BF16":
		return le.AppendUint16(b, uint16(math.Float32bits(float32(f))>>16)) // the test values are exact in bf16
	case datatype == "UINT64" && uerr == nil:
		return le.AppendUint64(b, u)
	case ierr != nil:
		t.Fatalf("%s value %s", datatype, s)
	}
	switch datatype {
	case "INT8", "UINT8":
		return append(b, byte(i))
	case "INT16", "UINT16":
		return le.AppendUint16(b, uint16(i))
	case "INT32", "UINT32":
		return le.AppendUint32(b, uint32(i))
	}
	return le.AppendUint64(b, uint64(i))
}

// toHalf encodes f, which the tests keep exact in float16, as IEEE binary16.
func toHalf(f float64) uint16 {
	var sign uint16
	if math.Signbit(f) {
		sign, f = 0x8000, -f
	}
	if f == 0 {
		return sign
	}
	frac, exp := math.Frexp(f) // f = frac × 2^exp, frac in [0.5, 1)
	if exp < -13 {             // subnormal: f = m × 2^-24
		return sign | uint16(f*(1<<24))
	}
	return sign | uint16(exp+14)<<10 | uint16((frac*2-1)*1024)
}

// fromHalf decodes IEEE binary16.
func fromHalf(h uint16) float64 {
	v := float64(h&0x3ff) / 1024
	switch e := int(h>>10) & 0x1f; e {
	case 0:
		v = math.Ldexp(v, -14)
	case 0x1f:
		v = math.Inf(1)
	default:
		v = math.Ldexp(1+v, e-15)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

// decodeOutput reads a binary output into JSON-like values (float64, bool,
// string), as a JSON output would decode.
func decodeOutput(t testing.TB, datatype string, raw []byte) []any {
	t.Helper()
	le := binary.LittleEndian
	var out []any
	for len(raw) > 0 {
		var v any
		n := map[string]int{"BOOL": 1, "INT8": 1, "UINT8": 1, "INT16": 2, "UINT16": 2, "FP16": 2, "BF16": 2,
			"INT32": 4, "UINT32": 4, "FP32": 4, "INT64": 8, "UINT64": 8, "FP64": 8}[datatype]
		switch datatype {
		case "BYTES":
			l := int(le.Uint32(raw))
			v, n = string(raw[4:4+l]), 4+l
		case "BOOL":
			v = raw[0] == 1
		case "INT8":
			v = float64(int8(raw[0]))
		case "UINT8":
			v = float64(raw[0])
		case "INT16":
			v = float64(int16(le.Uint16(raw)))
		case "UINT16":
			v = float64(le.Uint16(raw))
		case "FP16":
			v = fromHalf(le.Uint16(raw))
		case "BF16":
			v = float64(math.Float32frombits(uint32(le.Uint16(raw)) << 16))
		case "INT32":
			v = float64(int32(le.Uint32(raw)))
		case "UINT32":
			v = float64(le.Uint32(raw))
		case "FP32":
			v = float64(math.Float32frombits(le.Uint32(raw)))
		case "INT64":
			v = float64(int64(le.Uint64(raw)))
		case "UINT64":
			v = float64(le.Uint64(raw))
		case "FP64":
			v = math.Float64frombits(le.Uint64(raw))
		default:
			t.Fatalf("datatype %q", datatype)
		}
		out = append(out, v)
		raw = raw[n:]
	}
	return out
}

// v2Response is an inference response with its binary outputs decoded.
type v2Response struct {
	Status  int
	Error   string
	ID      string
	Model   string
	Version string
	Outputs map[string]v2Out
	Order   []string
}

type v2Out struct {
	Datatype string
	Shape    []int64
	Data     []any // flat
	Binary   bool
}

// postV2 sends body (JSON header plus binary data) to path and reads the
// response as a Triton client does: the JSON header is the first
// Inference-Header-Content-Length bytes when that header is set, and each
// binary output's bytes follow it in the order the outputs are listed.
func postV2(t testing.TB, url string, header []byte, bin []byte, withLength bool) v2Response {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(append(append([]byte{}, header...), bin...)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if withLength {
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set(headerLengthKey, strconv.Itoa(len(header)))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return parseV2(t, res, body)
}

func parseV2(t testing.TB, res *http.Response, body []byte) v2Response {
	t.Helper()
	out := v2Response{Status: res.StatusCode, Outputs: map[string]v2Out{}}
	n := len(body)
	if h := res.Header.Get(headerLengthKey); h != "" {
		n, _ = strconv.Atoi(h)
	}
	var doc struct {
		Error        *string `json:"error"`
		ID           string  `json:"id"`
		ModelName    string  `json:"model_name"`
		ModelVersion string  `json:"model_version"`
		Outputs      []struct {
			Name       string  `json:"name"`
			Datatype   string  `json:"datatype"`
			Shape      []int64 `json:"shape"`
			Data       []any   `json:"data"`
			Parameters struct {
				BinaryDataSize *int `json:"binary_data_size"`
			} `json:"parameters"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(body[:n], &doc); err != nil {
		t.Fatalf("status %d: response header is not JSON: %v: %q", res.StatusCode, err, body)
	}
	if doc.Error != nil {
		var keys map[string]any
		json.Unmarshal(body, &keys)
		if len(keys) != 1 {
			t.Errorf("error body has more than \"error\": %s", body)
		}
		out.Error = *doc.Error
		return out
	}
	out.ID, out.Model, out.Version = doc.ID, doc.ModelName, doc.ModelVersion
	rest := body[n:]
	for _, o := range doc.Outputs {
		v := v2Out{Datatype: o.Datatype, Shape: o.Shape, Data: o.Data}
		if s := o.Parameters.BinaryDataSize; s != nil {
			if *s > len(rest) {
				t.Fatalf("output %s: binary_data_size %d, %d bytes left", o.Name, *s, len(rest))
			}
			v.Data, v.Binary = decodeOutput(t, o.Datatype, rest[:*s]), true
			rest = rest[*s:]
		}
		out.Outputs[o.Name] = v
		out.Order = append(out.Order, o.Name)
	}
	if len(rest) != 0 {
		t.Errorf("%d bytes after the last binary output", len(rest))
	}
	return out
}

// rssMB reads this process's resident set size from /proc.
func rssMB(t testing.TB) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	var kb float64
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("VmRSS:")) {
			fmt.Sscanf(string(line[len("VmRSS:"):]), "%f", &kb)
		}
	}
	return kb / 1024
}
