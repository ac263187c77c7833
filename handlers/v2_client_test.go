package handlers_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// No third-party v2 client can be installed here (see the issue note), so
// this test speaks the wire format of Triton's Python HTTP client as its
// source writes it (tritonclient/http/_utils.py, _infer_input.py,
// _requested_output.py): compact JSON with keys in its order ("name",
// "shape", "datatype", "parameters", "data" per input; "id", "inputs",
// "outputs", "parameters" per request), inputs binary by default, and
// "binary_data_output": true when no outputs are named. Its keys come in
// the order that lets the decoder read data in the same pass as the rest,
// where the map-ordered requests of TestV2InferConformance take the other path.
func TestV2TritonClientWireFormat(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Control: runtime.ControlNone, SkipBad: true})
	for _, model := range slices.Sorted(maps.Keys(servertest.Models)) {
		exp := loadExpected(t, servertest.Path(servertest.Models[model]))
		types, md := modelDatatypes(t, srv.URL, model)
		cs := exp.Cases[len(exp.Cases)-1]
		for _, binaryData := range []bool{true, false} {
			where := fmt.Sprintf("%s binary_data=%v", model, binaryData)
			var ins []string
			var bin []byte
			for _, in := range md.Inputs { // InferInput objects in the model's order
				shape, leaves := flatJSON(t, cs.Inputs[in.Name])
				if len(shape) == 0 && len(leaves) == 1 {
					shape = []int64{}
				}
				s := `{"name":` + mustJSON(in.Name) + `,"shape":` + mustJSON(shape) + `,"datatype":` + mustJSON(types[in.Name])
				if binaryData {
					raw := encodeLeaves(t, types[in.Name], leaves)
					s += `,"parameters":{"binary_data_size":` + fmt.Sprint(len(raw)) + `}}`
					bin = append(bin, raw...)
				} else {
					s += `,"data":` + mustJSON(leaves) + `}`
				}
				ins = append(ins, s)
			}
			req := `{"id":"7","inputs":[` + strings.Join(ins, ",") + `]`
			var outputs []string
			for _, o := range md.Outputs {
				outputs = append(outputs, o.Name)
			}
			if binaryData {
				req += `,"parameters":{"binary_data_output":true}}`
			} else { // InferRequestedOutput(name, binary_data=False) for each
				var outs []string
				for _, o := range outputs {
					outs = append(outs, `{"name":`+mustJSON(o)+`,"parameters":{"binary_data":false}}`)
				}
				req += `,"outputs":[` + strings.Join(outs, ",") + `]}`
			}
			res := postV2(t, srv.URL+"/v2/models/"+model+"/infer", []byte(req), bin, binaryData)
			if res.Status != 200 || res.ID != "7" {
				t.Fatalf("%s: %d %s", where, res.Status, res.Error)
			}
			if !slices.Equal(res.Order, outputs) {
				t.Errorf("%s: outputs %v, want %v", where, res.Order, outputs)
			}
			for _, o := range outputs {
				got := res.Outputs[o]
				_, leaves := flatJSON(t, cs.Outputs[o])
				if got.Binary != binaryData {
					t.Errorf("%s %s: binary %v", where, o, got.Binary)
				}
				assertClose(t, where+" "+o, asStored(got.Datatype, got.Data), []byte(mustJSON(asStored(got.Datatype, leaves))), exp.Atol)
			}
		}
	}
}
