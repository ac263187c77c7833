package imagetensor

import (
	"image"
	"image/color"
	"slices"
	"testing"
)

// TestRow pins how a picture becomes a row: the layouts' orders, the
// channel orders, the per-channel normalisation and nearest-centre
// resizing, on a 2x1 picture of a red and a blue pixel (and a 4x2 one of
// the same, each pixel doubled).
func TestRow(t *testing.T) {
	small := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	small.Set(0, 0, color.NRGBA{R: 255, A: 255})
	small.Set(1, 0, color.NRGBA{B: 255, A: 255})
	big := image.NewNRGBA(image.Rect(0, 0, 4, 2))
	for x := range 4 {
		for y := range 2 {
			big.Set(x, y, small.At(x/2, 0))
		}
	}
	for _, c := range []struct {
		name string
		img  image.Image
		spec Spec
		want []float64
	}{
		{"NHWC rgb", small, Spec{Layout: NHWC, Channels: RGB, H: 1, W: 2, Scale: 1.0 / 255}, []float64{1, 0, 0, 0, 0, 1}},
		{"NCHW rgb", small, Spec{Layout: NCHW, Channels: RGB, H: 1, W: 2, Scale: 1.0 / 255}, []float64{1, 0, 0, 0, 0, 1}},
		{"NCHW bgr", small, Spec{Layout: NCHW, Channels: BGR, H: 1, W: 2, Scale: 1.0 / 255}, []float64{0, 1, 0, 0, 1, 0}},
		{"flat bgr", small, Spec{Layout: Flat, Channels: BGR, H: 1, W: 2, Scale: 1}, []float64{0, 0, 255, 255, 0, 0}},
		{"mean and std per channel", small, Spec{Layout: NHWC, Channels: RGB, H: 1, W: 2, Scale: 1.0 / 255, Mean: []float64{0.5, 0, 0}, Std: []float64{0.5, 1, 2}}, []float64{1, 0, 0, -1, 0, 0.5}},
		{"gray (Go's luma)", small, Spec{Layout: Flat, Channels: Gray, H: 1, W: 2, Scale: 1}, []float64{76, 29}},
		{"resized from 4x2", big, Spec{Layout: NHWC, Channels: RGB, H: 1, W: 2, Scale: 1.0 / 255}, []float64{1, 0, 0, 0, 0, 1}},
	} {
		got := make([]float64, c.spec.RowLen())
		Row(got, c.img, c.spec)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := Decode([]byte("GIF89a")); err == nil {
		t.Error("Decode of no image succeeded")
	}
}
