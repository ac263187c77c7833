package handlers_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// imageCases are models/digits/images/expected.json: each committed image
// file, the tensor row numpy made of it at export, and its digit.
type imageCases struct {
	Cases []struct {
		File   string          `json:"file"`
		Pixels json.RawMessage `json:"pixels"`
		Label  int             `json:"label"`
	} `json:"cases"`
}

type upload struct {
	field, name string
	data        []byte
}

func postFiles(t *testing.T, url string, files []upload) response {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, f := range files {
		var part interface{ Write([]byte) (int, error) }
		var err error
		if f.name == "" {
			part, err = w.CreateFormField(f.field)
		} else {
			part, err = w.CreateFormFile(f.field, f.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		part.Write(f.data)
	}
	w.Close()
	req, _ := http.NewRequest("POST", url, &b)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return doRequest(t, req)
}

// TestImageInput pins image files into /v1 on the shipped digits, whose
// config.yaml declares its input pixels an 8x8 gray image scaled to 0..16:
// each committed image file (one 8x8, one 32x32 to be resized) sent as
// multipart/form-data is classified as its digit and gets, byte for byte,
// the answer of the tensor row numpy computed from it at export sent as
// JSON (the same probabilities, so the same float32 input); several
// files are a batch, in the order sent; a file that does not decode is a
// 422 naming it, as is a field that is not an image input.
func TestImageInput(t *testing.T) {
	srv := shippedServer(t)
	var exp imageCases
	b, err := os.ReadFile("../models/digits/images/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	var all []upload
	for _, c := range exp.Cases {
		data, err := os.ReadFile(filepath.Join("../models/digits/images", c.File))
		if err != nil {
			t.Fatal(err)
		}
		f := upload{"pixels", c.File, data}
		all = append(all, f)
		res := postFiles(t, srv.URL+"/v1/models/digits/predict", []upload{f})
		var got struct {
			Outputs     map[string]json.RawMessage `json:"outputs"`
			Predictions []struct{ Label string }   `json:"predictions"`
		}
		if err := json.Unmarshal(res.Body, &got); res.Status != 200 || err != nil {
			t.Fatalf("%s: %d %s", c.File, res.Status, res.Body)
		}
		if string(got.Outputs["label"]) != "["+itoa(c.Label)+"]" {
			t.Errorf("%s: label %s, want %d", c.File, got.Outputs["label"], c.Label)
		}
		// numpy's tensor for the file, as JSON, must answer the same.
		js := do(t, "POST", srv.URL+"/v1/models/digits/predict?outputs=probabilities", `{"inputs": {"pixels": `+string(c.Pixels)+`}}`)
		img := postFiles(t, srv.URL+"/v1/models/digits/predict?outputs=probabilities", []upload{f})
		if js.Status != 200 || !bytes.Equal(js.Body, img.Body) {
			t.Errorf("%s: the file's answer differs from numpy's tensor's:\n%s\n%s", c.File, img.Body, js.Body)
		}
	}
	res := postFiles(t, srv.URL+"/v1/models/digits/predict", append(all, upload{"outputs", "", []byte("label")}))
	var batch struct {
		Outputs map[string][]int `json:"outputs"`
	}
	json.Unmarshal(res.Body, &batch)
	if res.Status != 200 || len(batch.Outputs) != 1 || len(batch.Outputs["label"]) != 2 || batch.Outputs["label"][0] != exp.Cases[0].Label || batch.Outputs["label"][1] != exp.Cases[1].Label {
		t.Errorf("two files as a batch: %d %s", res.Status, res.Body)
	}
	for _, c := range []struct {
		files []upload
		want  string
	}{
		{[]upload{{"pixels", "notes.png", []byte("not an image")}}, `"field":"pixels","message":"notes.png: not a PNG or JPEG image`},
		{[]upload{{"image", "a.png", all[0].data}}, `"field":"image","message":"not an image input; image inputs are \"pixels\""`},
		{[]upload{{"outputs", "", []byte("label")}}, `"field":"body","message":"no image file`},
	} {
		if res := postFiles(t, srv.URL+"/v1/models/digits/predict", c.files); res.Status != 422 || !strings.Contains(string(res.Body), c.want) {
			t.Errorf("%s: %d %s, want 422 with %s", c.files[0].name, res.Status, res.Body, c.want)
		}
	}
	if res := postFiles(t, srv.URL+"/v1/models/iris/predict", all[:1]); res.Status != 422 || !strings.Contains(string(res.Body), "none: this model takes JSON") {
		t.Errorf("a file for iris: %d %s", res.Status, res.Body)
	}
}

// TestImageInputConfig pins the load errors of an input image section
// that does not fit the model.
func TestImageInputConfig(t *testing.T) {
	for _, c := range []struct{ config, err string }{
		{"inputs:\n  x:\n    image: {layout: flat, channels: gray, size: [8, 8]}\n", "inputs.x: not an input"},
		{"inputs:\n  pixels:\n    image: {layout: flat, channels: gray, size: [4, 4]}\n", "size [4 4] with 1 channel(s) is 16 values a row, input \"pixels\" has 64"},
		{"inputs:\n  pixels:\n    image: {layout: flat, channels: gray}\n", "needs size: [H, W]"},
		{"inputs:\n  pixels:\n    image: {layout: NCHW, channels: rgb}\n", "layout NCHW is an input [-1, C, H, W]"},
		{"inputs:\n  pixels:\n    image: {layout: CHW, channels: gray}\n", "layout must be NCHW, NHWC or flat"},
		{"inputs:\n  pixels:\n    image: {layout: flat, channels: rgb, size: [8, 8], mean: [1, 2]}\n", "mean has 2 values for 3 channels"},
	} {
		dir := t.TempDir()
		servertest.CopyFile(t, servertest.Path("models/digits/model.onnx"), filepath.Join(dir, "m", "model.onnx"))
		servertest.WriteFile(t, filepath.Join(dir, "m", "config.yaml"), c.config)
		if _, err := runtime.OpenRepository(dir, runtime.LoadOptions{Logger: servertest.Quiet}, false); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: %v, want %q", c.config, err, c.err)
		}
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

// TestImageInputBounds pins what a hostile upload cannot make the server
// hold: a 62-byte PNG claiming 10^6×10^6 pixels (runtime/imagetensor's
// testdata) is a 422 naming the file, where Go's decoder used to allocate
// the whole picture and end the process out of memory; and files past
// max_batch_size are refused as they come, before they are decoded.
func TestImageInputBounds(t *testing.T) {
	srv := shippedServer(t)
	bomb, err := os.ReadFile("../runtime/imagetensor/testdata/bomb.png")
	if err != nil {
		t.Fatal(err)
	}
	res := postFiles(t, srv.URL+"/v1/models/digits/predict", []upload{{"pixels", "bomb.png", bomb}})
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "bomb.png") || !strings.Contains(string(res.Body), "pixels a picture may have") {
		t.Errorf("the bomb: %d %s, want a 422 naming the file and the pixel bound", res.Status, res.Body)
	}
	zero, err := os.ReadFile("../models/digits/images/zero_8x8.png")
	if err != nil {
		t.Fatal(err)
	}
	var many []upload
	for range 257 { // digits' max_batch_size is 256
		many = append(many, upload{"pixels", "zero_8x8.png", zero})
	}
	res = postFiles(t, srv.URL+"/v1/models/digits/predict", many)
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "max_batch_size (256)") {
		t.Errorf("257 files: %d %.300s, want a 422 naming max_batch_size", res.Status, res.Body)
	}
	if r := do(t, "GET", srv.URL+"/readyz", ""); r.Status != http.StatusOK {
		t.Errorf("not ready after the bounds: %d %s", r.Status, r.Body)
	}
}
