// Package tensorimage turns an image-shaped output tensor into PNG
// pictures, one per batch row: pure Go (image/png), no ONNX Runtime.
package tensorimage

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"

	"github.com/onnxserve/onnxserve/runtime/tensor"
)

// Layout is how an output tensor holds its pictures: the dimensions of
// one picture, after a leading batch dimension when Batched.
type Layout struct {
	Batched bool
	// Channels is 1 (gray), 3 (RGB) or 4 (RGBA); [H, W] and [1, H, W]
	// are both gray.
	Channels int
	// HasChannelDim says the picture is [C, H, W], not [H, W].
	HasChannelDim bool
}

// LayoutOf says how a tensor of shape (as the model declares it, -1 for
// a dynamic dimension) holds pictures: [H, W], [1, H, W] or [C, H, W] with
// C = 3 or 4, after a batch dimension when dim 0 is dynamic.
func LayoutOf(shape []int64) (Layout, error) {
	picture := shape
	l := Layout{}
	if len(shape) >= 1 && shape[0] == -1 {
		picture, l.Batched = shape[1:], true
	}
	switch len(picture) {
	case 2:
		l.Channels = 1
		return l, nil
	case 3:
		switch c := picture[0]; c {
		case 1, 3, 4:
			l.Channels, l.HasChannelDim = int(c), true
			return l, nil
		}
	}
	return Layout{}, fmt.Errorf("an image output is [H, W], [1, H, W], [3, H, W] or [4, H, W] (after a dynamic batch dimension), got %s", tensor.FormatShape(shape))
}

// Range maps the tensor's values to 8-bit levels: Lo is 0, Hi is 255,
// values between are scaled and rounded half up, values outside clipped.
type Range struct{ Lo, Hi float64 }

// Level is v's 8-bit level. NaN is 0.
func (r Range) Level(v float64) uint8 {
	x := (v - r.Lo) / (r.Hi - r.Lo)
	switch {
	case !(x > 0): // also NaN
		return 0
	case x >= 1:
		return 255
	}
	return uint8(math.Floor(x*255 + 0.5))
}

// Encode returns one PNG per picture of t (one per batch row when the
// layout is batched), its values mapped by r.
func Encode(t tensor.Tensor, l Layout, r Range) ([][]byte, error) {
	vals, err := floats(t)
	if err != nil {
		return nil, err
	}
	shape := t.Shape
	rows := 1
	if l.Batched {
		rows, shape = int(shape[0]), shape[1:]
	}
	if !l.HasChannelDim {
		shape = append([]int64{1}, shape...)
	}
	if len(shape) != 3 || int(shape[0]) != l.Channels {
		return nil, fmt.Errorf("output of shape %s is not the image it was declared", tensor.FormatShape(t.Shape))
	}
	c, h, w := int(shape[0]), int(shape[1]), int(shape[2])
	plane, size := h*w, c*h*w
	out := make([][]byte, rows)
	for i := range rows {
		px := vals[i*size : (i+1)*size]
		var img image.Image
		switch c {
		case 1:
			g := image.NewGray(image.Rect(0, 0, w, h))
			for j := range plane {
				g.Pix[j] = r.Level(px[j])
			}
			img = g
		default: // 3 or 4: planes R, G, B[, A]
			m := image.NewNRGBA(image.Rect(0, 0, w, h))
			for j := range plane {
				a := uint8(255)
				if c == 4 {
					a = r.Level(px[3*plane+j])
				}
				m.Pix[4*j], m.Pix[4*j+1], m.Pix[4*j+2], m.Pix[4*j+3] = r.Level(px[j]), r.Level(px[plane+j]), r.Level(px[2*plane+j]), a
			}
			img = m
		}
		var b bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img); err != nil {
			return nil, err
		}
		out[i] = b.Bytes()
	}
	return out, nil
}

// floats is t's values as float64, whatever its numeric dtype.
func floats(t tensor.Tensor) ([]float64, error) {
	switch d := t.Data.(type) {
	case []float32:
		return convert(d), nil
	case []float64:
		return d, nil
	case []uint8:
		return convert(d), nil
	case []int8:
		return convert(d), nil
	case []uint16:
		return convert(d), nil
	case []int16:
		return convert(d), nil
	case []int32:
		return convert(d), nil
	case []int64:
		return convert(d), nil
	}
	return nil, fmt.Errorf("%v values cannot make an image", t.DType)
}

func convert[T float32 | uint8 | int8 | uint16 | int16 | int32 | int64](d []T) []float64 {
	out := make([]float64, len(d))
	for i, v := range d {
		out[i] = float64(v)
	}
	return out
}
