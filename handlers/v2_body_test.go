package handlers_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/servertest"
	"github.com/onnxserve/onnxserve/runtime"
)

// A small body that declares a huge shape is refused over HTTP (the
// decoder's allocations are pinned in v2's TestDecodeHugeShapeSmallData).
func TestV2HugeShapeSmallData(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Control: runtime.ControlExplicit, Load: []string{"strings"}})
	// Over HTTP, within the test server's 1 MiB body limit.
	small := []byte(`{"inputs":[{"name":"text","shape":[500000],"datatype":"BYTES","data":["a"]}]}`)
	if res := postV2(t, srv.URL+"/v2/models/strings/infer", small, make([]byte, 600000), true); res.Status != http.StatusBadRequest {
		t.Errorf("over HTTP: status %d (%s), want 400", res.Status, res.Error)
	}
}

// Binary inputs use the request body in place, so the body must stay out
// of its pool until Infer has returned: concurrent requests with different
// rows each get their own row's outputs.
func TestV2BinaryBodyConcurrent(t *testing.T) {
	srv, _ := servertest.Start(t, servertest.TestRepo(t), servertest.Options{Control: runtime.ControlExplicit, Load: []string{"iris"}})
	exp := loadExpected(t, "../models/iris/1/expected.json")
	type row struct {
		x     []float32
		label int64
		probs []float64
	}
	var rows []row
	for _, c := range exp.Cases {
		var xs [][]float32
		var labels []int64
		var probs [][]float64
		if json.Unmarshal(c.Inputs["X"], &xs) != nil || json.Unmarshal(c.Outputs["label"], &labels) != nil ||
			json.Unmarshal(c.Outputs["probabilities"], &probs) != nil {
			t.Fatal("cannot read models/iris/1/expected.json")
		}
		for i := range xs {
			rows = append(rows, row{xs[i], labels[i], probs[i]})
		}
	}
	if len(rows) < 2 {
		t.Fatalf("%d iris rows in expected.json, want several", len(rows))
	}
	atol := max(exp.Atol, 1e-6)

	// one sends rows as binary FP32 and checks each row's outputs.
	one := func(rs []row) error {
		header := []byte(fmt.Sprintf(`{"inputs":[{"name":"X","shape":[%d,4],"datatype":"FP32","parameters":{"binary_data_size":%d}}]}`,
			len(rs), 16*len(rs)))
		body := header
		for _, r := range rs {
			for _, f := range r.x {
				body = binary.LittleEndian.AppendUint32(body, math.Float32bits(f))
			}
		}
		req, err := http.NewRequest("POST", srv.URL+"/v2/models/iris/infer", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set(headerLengthKey, strconv.Itoa(len(header)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", res.StatusCode, b)
		}
		var doc struct {
			Outputs []struct {
				Name string    `json:"name"`
				Data []float64 `json:"data"`
			} `json:"outputs"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%v: %s", err, b)
		}
		if len(doc.Outputs) != 2 {
			return fmt.Errorf("%d outputs, want 2: %s", len(doc.Outputs), b)
		}
		for _, o := range doc.Outputs {
			switch o.Name {
			case "label":
				if len(o.Data) != len(rs) {
					return fmt.Errorf("%d labels for %d rows", len(o.Data), len(rs))
				}
				for i, r := range rs {
					if int64(o.Data[i]) != r.label {
						return fmt.Errorf("row %v: label %v, want %d", r.x, o.Data[i], r.label)
					}
				}
			case "probabilities":
				if len(o.Data) != 3*len(rs) {
					return fmt.Errorf("%d probabilities for %d rows", len(o.Data), len(rs))
				}
				for i, r := range rs {
					for k, want := range r.probs {
						if got := o.Data[3*i+k]; math.Abs(got-want) > atol {
							return fmt.Errorf("row %v: probabilities %v, want %v", r.x, o.Data[3*i:3*i+3], r.probs)
						}
					}
				}
			default:
				return fmt.Errorf("unexpected output %q", o.Name)
			}
		}
		return nil
	}

	const workers, requests = 16, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			for i := range requests {
				// Each worker's requests differ from the others' in their
				// rows and in their size.
				rs := make([]row, 1+(g*5+i)%32)
				for j := range rs {
					rs[j] = rows[(g*3+i+j)%len(rows)]
				}
				if err := one(rs); err != nil {
					errs <- fmt.Errorf("worker %d, request %d: %w", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
