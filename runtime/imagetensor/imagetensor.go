// Package imagetensor turns image files (PNG, JPEG) into rows of an input
// tensor, in pure Go: decode, resize to the model's size (nearest pixel
// centre; stretched, fitted and padded, or cropped: Resize), pick the channels (gray, RGB or BGR), scale and normalise each
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

// Resize is how a picture of another size or shape is brought to the
// model's H×W. Every mode takes, for each target pixel, the source pixel
// whose centre is nearest its own.
type Resize string

const (
	// Stretch scales width and height each to fit exactly: the aspect
	// changes when the shapes differ.
	Stretch Resize = "stretch"
	// Fit keeps the aspect: the picture scaled to the largest size that
	// fits, centred, the rest padded with black (pixel value 0 in every
	// channel, scaled and normalised as any pixel).
	Fit Resize = "fit"
	// Crop keeps the aspect: the picture scaled so that its shorter side
	// (relative to the target's) fills the target, and the centre kept.
	Crop Resize = "crop"
)

// Spec is how one image becomes one row.
type Spec struct {
	Layout   Layout
	Channels Channels
	H, W     int
	// Resize is Stretch when empty.
	Resize Resize
	Scale  float64
	// Mean and Std have one value per channel (or one for all).
	Mean, Std []float64
}

// RowLen is the number of values one image gives.
func (s Spec) RowLen() int { return s.H * s.W * s.Channels.N() }

// MaxPixels bounds the pictures Decode takes: Go's decoders allocate a
// picture's whole size from its header before a pixel arrives, so a PNG
// of 72 bytes can claim a million by a million pixels and end the process
// out of memory. About 50 megapixels is a large phone photo.
const MaxPixels = 50 << 20

// bytesPerPixel is the most a decoded picture takes a pixel: RGBA64, a
// 16-bit PNG; 8-bit and JPEG pictures take less.
const bytesPerPixel = 8

// Decode reads a PNG or JPEG file. Before the pixels are decoded, the
// header's size is checked against MaxPixels and reserve is asked for the
// bytes the picture will take, so that its memory is accounted before it
// is held; an error from reserve is returned as it is.
func Decode(data []byte, reserve func(bytes int64) error) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a PNG or JPEG image: %v", err)
	}
	if format != "png" && format != "jpeg" {
		return nil, fmt.Errorf("a %s image; send PNG or JPEG", format)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > MaxPixels {
		return nil, fmt.Errorf("a %d×%d picture, more than the %d pixels a picture may have", cfg.Width, cfg.Height, MaxPixels)
	}
	if err := reserve(int64(cfg.Width) * int64(cfg.Height) * bytesPerPixel); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a PNG or JPEG image: %v", err)
	}
	return img, nil
}

// rounded is a*b/c rounded half up, for positive integers.
func rounded(a, b, c int) int { return (2*a*b + c) / (2 * c) }

// geometry is where a picture goes: the source rectangle [sy, sy+sh) ×
// [sx, sx+sw) of the picture is resized onto the target rectangle
// [ty, ty+th) × [tx, tx+tw) of the H×W row; target pixels outside it are
// padding.
type geometry struct{ sy, sx, sh, sw, ty, tx, th, tw int }

func (s Spec) geometry(b image.Rectangle) geometry {
	sw, sh := b.Dx(), b.Dy()
	g := geometry{sy: b.Min.Y, sx: b.Min.X, sh: sh, sw: sw, th: s.H, tw: s.W}
	// The source is relatively wider than the target when sw/sh > W/H.
	wider := sw*s.H > sh*s.W
	switch s.Resize {
	case Fit:
		if wider { // full width, height scaled by W/sw
			g.th = max(1, min(s.H, rounded(sh, s.W, sw)))
			g.ty = (s.H - g.th) / 2
		} else { // full height, width scaled by H/sh
			g.tw = max(1, min(s.W, rounded(sw, s.H, sh)))
			g.tx = (s.W - g.tw) / 2
		}
	case Crop:
		if wider { // the source's full height, the width of the target's aspect
			g.sw = max(1, min(sw, rounded(sh, s.W, s.H)))
			g.sx += (sw - g.sw) / 2
		} else {
			g.sh = max(1, min(sh, rounded(sw, s.H, s.W)))
			g.sy += (sh - g.sh) / 2
		}
	}
	return g
}

// Row writes img's values, as s says, to dst (RowLen values).
func Row(dst []float64, img image.Image, s Spec) {
	g := s.geometry(img.Bounds())
	nc := s.Channels.N()
	for y := range s.H {
		// The source pixel whose centre is nearest the target's.
		sy := g.sy + (2*(y-g.ty)+1)*g.sh/(2*g.th)
		for x := range s.W {
			sx := g.sx + (2*(x-g.tx)+1)*g.sw/(2*g.tw)
			var px [3]float64 // padding: black
			switch {
			case y < g.ty || y >= g.ty+g.th || x < g.tx || x >= g.tx+g.tw:
			case s.Channels == Gray:
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
