// Package imagetensor turns image files (PNG, JPEG) into rows of an input
// tensor, in pure Go: decode, resize to the model's size (nearest pixel
// centre), pick the channels (gray, RGB or BGR), scale and normalise each
// value as (pixel * Scale - Mean[c]) / Std[c], and lay the row out as the
// model takes it (NCHW, NHWC, or flat: one row of H*W*C values, row-major,
// channels last).
package imagetensor

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers JPEG with image.Decode
	_ "image/png"  // registers PNG with image.Decode
)

// Layout is how a row of the input holds the picture.
type Layout string

const (
	NCHW Layout = "NCHW"
	NHWC Layout = "NHWC"
	Flat Layout = "flat"
)

// Channels is which channels, in which order, a pixel gives.
type Channels string

const (
	Gray Channels = "gray"
	RGB  Channels = "rgb"
	BGR  Channels = "bgr"
)

// N is the number of values a pixel gives.
func (c Channels) N() int {
	if c == Gray {
		return 1
	}
	return 3
}

// Spec is how one image becomes one row.
type Spec struct {
	Layout   Layout
	Channels Channels
	H, W     int
	Scale    float64
	// Mean and Std have one value per channel (or one for all).
	Mean, Std []float64
}

// RowLen is the number of values one image gives.
func (s Spec) RowLen() int { return s.H * s.W * s.Channels.N() }

// Decode reads a PNG or JPEG file.
func Decode(data []byte) (image.Image, error) {
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a PNG or JPEG image: %v", err)
	}
	if format != "png" && format != "jpeg" {
		return nil, fmt.Errorf("a %s image; send PNG or JPEG", format)
	}
	return img, nil
}

// Row writes img's values, as s says, to dst (RowLen values).
func Row(dst []float64, img image.Image, s Spec) {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	nc := s.Channels.N()
	for y := range s.H {
		// The source pixel whose centre is nearest the target's.
		sy := b.Min.Y + (2*y+1)*sh/(2*s.H)
		for x := range s.W {
			sx := b.Min.X + (2*x+1)*sw/(2*s.W)
			var px [3]float64
			switch s.Channels {
			case Gray:
				px[0] = float64(color.GrayModel.Convert(img.At(sx, sy)).(color.Gray).Y)
			default:
				c := color.NRGBAModel.Convert(img.At(sx, sy)).(color.NRGBA)
				px = [3]float64{float64(c.R), float64(c.G), float64(c.B)}
				if s.Channels == BGR {
					px[0], px[2] = px[2], px[0]
				}
			}
			for c := range nc {
				v := (px[c]*s.Scale - pick(s.Mean, c, 0)) / pick(s.Std, c, 1)
				switch s.Layout {
				case NCHW:
					dst[(c*s.H+y)*s.W+x] = v
				default: // NHWC and flat: channels last
					dst[(y*s.W+x)*nc+c] = v
				}
			}
		}
	}
}

// pick is the channel's value of a per-channel list: the one value when
// there is one, def when there is none.
func pick(vals []float64, c int, def float64) float64 {
	switch len(vals) {
	case 0:
		return def
	case 1:
		return vals[0]
	}
	return vals[c]
}
