package tensorimage

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"strings"
	"testing"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// TestLayoutOf pins the shapes an image output may have.
func TestLayoutOf(t *testing.T) {
	for _, c := range []struct {
		shape []int64
		want  Layout
		err   bool
	}{
		{[]int64{32, 32}, Layout{Channels: 1}, false},
		{[]int64{-1, 32, 32}, Layout{Batched: true, Channels: 1}, false},
		{[]int64{-1, 1, -1, -1}, Layout{Batched: true, Channels: 1, HasChannelDim: true}, false},
		{[]int64{3, 8, 8}, Layout{Channels: 3, HasChannelDim: true}, false},
		{[]int64{-1, 4, 8, 8}, Layout{Batched: true, Channels: 4, HasChannelDim: true}, false},
		{[]int64{-1, 2, 8, 8}, Layout{}, true},
		{[]int64{-1, 64}, Layout{}, true}, // a batch of rows, not pictures
		{[]int64{8}, Layout{}, true},
	} {
		got, err := LayoutOf(c.shape)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%v: %+v %v", c.shape, got, err)
		}
	}
}

// TestLevel pins the value → 8-bit mapping: clipped to the range, scaled,
// rounded half up; NaN is black.
func TestLevel(t *testing.T) {
	r := Range{Lo: -1, Hi: 1}
	for v, want := range map[float64]uint8{-2: 0, -1: 0, 1: 255, 5: 255, 0: 128, -0.5: 64, math.NaN(): 0, math.Inf(1): 255} {
		if got := r.Level(v); got != want {
			t.Errorf("Level(%v) = %d, want %d", v, got, want)
		}
	}
}

// TestEncode pins that each batch row becomes one PNG whose pixels, read
// back with image/png, are the levels of the tensor's values, channel
// planes becoming RGB.
func TestEncode(t *testing.T) {
	gray := tensor.Tensor{DType: tensor.Float32, Shape: []int64{2, 1, 2, 3}, Data: []float32{0, 0.5, 1, 0.25, 2, -1, 1, 1, 1, 0, 0, 0}}
	pngs, err := Encode(gray, Layout{Batched: true, Channels: 1, HasChannelDim: true}, Range{0, 1})
	if err != nil || len(pngs) != 2 {
		t.Fatalf("%d %v", len(pngs), err)
	}
	img, err := png.Decode(bytes.NewReader(pngs[0]))
	if err != nil {
		t.Fatal(err)
	}
	g, ok := img.(*image.Gray)
	if !ok || g.Bounds().Dx() != 3 || g.Bounds().Dy() != 2 || !bytes.Equal(g.Pix, []byte{0, 128, 255, 64, 255, 0}) {
		t.Errorf("row 0: %T %v", img, img.Bounds())
	}
	rgb := tensor.Tensor{DType: tensor.Uint8, Shape: []int64{3, 1, 2}, Data: []uint8{255, 0, 0, 255, 10, 20}}
	pngs, err = Encode(rgb, Layout{Channels: 3, HasChannelDim: true}, Range{0, 255})
	if err != nil {
		t.Fatal(err)
	}
	img, _ = png.Decode(bytes.NewReader(pngs[0]))
	if r, g, b, _ := img.At(1, 0).RGBA(); r>>8 != 0 || g>>8 != 255 || b>>8 != 20 {
		t.Errorf("pixel (1, 0): %d %d %d", r>>8, g>>8, b>>8)
	}
	if _, err := Encode(tensor.Tensor{DType: tensor.String, Shape: []int64{2, 2}, Data: []string{"a", "b", "c", "d"}}, Layout{Channels: 1}, Range{0, 1}); err == nil || !strings.Contains(err.Error(), "cannot make an image") {
		t.Errorf("strings: %v", err)
	}
}
