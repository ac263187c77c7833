package rest

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/handlers/sizeclass"
)

// trickle is a request body that arrives step bytes at a time, as a slow
// or chunking client sends it, as net/http reads it: no more than a
// declared length, and cut short (io.ErrUnexpectedEOF) when the body is
// shorter than declared.
type trickle struct {
	b     []byte
	step  int
	short bool
}

func (r *trickle) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		if r.short {
			return 0, io.ErrUnexpectedEOF
		}
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.step)], r.b)
	r.b = r.b[n:]
	return n, nil
}

func (r *trickle) Close() error { return nil }

// FuzzReadBody feeds bodies, in reads of any size, with a Content-Length
// that is right, absent (-1, chunked), short or long, to ReadBody under a
// limit and a budget. What it returns must be the body exactly when the
// body fits and its length is told truly; a body past the limit, declared
// or found, must be ResourceExhausted; any other failure a client's
// (Malformed) or the budget's (Overloaded, ResourceExhausted); and the
// buffer never larger than what the body may be (the declared length or
// the limit, and Slack, as Buffers' classes round it), nor the lease more
// than that.
func FuzzReadBody(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}`), int64(0), uint16(4096), uint16(7), uint32(1<<20))
	f.Add(bytes.Repeat([]byte{0x3f}, 70000), int64(-1), uint16(65535), uint16(1000), uint32(80000))
	f.Add(bytes.Repeat([]byte("1,"), 40000), int64(-70000), uint16(50000), uint16(3), uint32(60000))
	f.Add([]byte("abc"), int64(100), uint16(10), uint16(1), uint32(0))
	f.Fuzz(func(t *testing.T, body []byte, skew int64, limit16, step16 uint16, budget32 uint32) {
		limit, step, budget := int64(limit16)+1, int(step16)+1, int64(budget32)
		declared := int64(len(body)) + skew // skew 0: the truth
		if skew < -int64(len(body)) {
			declared = -1
		}
		c, _ := testContext("", declared)
		sent := body
		if declared >= 0 && declared < int64(len(body)) {
			sent = body[:declared]
		}
		c.Request.Body = &trickle{sent, step, declared > int64(len(body))}
		b := inference.NewBudget(budget)
		lease := b.Lease()
		got, err := readBody(nil, c, limit, &lease)
		// A buffer is rounded up to Buffers' size class: at most a quarter
		// more, or sizeclass.Min for a small body.
		bound := max(declared, limit) + Slack
		if int64(cap(got)) > max(bound+bound/4, sizeclass.Min) || lease.Held() > bound {
			t.Fatalf("body %d, declared %d, limit %d: a %d-byte buffer, %d bytes held", len(body), declared, limit, cap(got), lease.Held())
		}
		if lease.Release(); b.Held() != 0 {
			t.Fatalf("the budget holds %d after the lease is released", b.Held())
		}
		var e *inference.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("%T %v, not an *inference.Error", err, err)
		}
		fits := int64(len(sent)) <= limit
		switch {
		case err == nil:
			if !fits || !bytes.Equal(got, sent) {
				t.Fatalf("body %d, limit %d: read %d bytes that differ, or past the limit", len(sent), limit, len(got))
			}
		case !fits || declared > limit:
			if e.Kind != inference.ResourceExhausted {
				t.Fatalf("body %d, declared %d, limit %d: %v, want ResourceExhausted", len(body), declared, limit, err)
			}
		case e.Kind == inference.Overloaded || e.Kind == inference.ResourceExhausted:
			if budget == 0 || budget >= bound {
				t.Fatalf("refused by a budget of %d: %v", budget, err)
			}
		case e.Kind != inference.Malformed || declared <= int64(len(body)):
			t.Fatalf("body %d, declared %d, limit %d: %v", len(body), declared, limit, err)
		}
	})
}
