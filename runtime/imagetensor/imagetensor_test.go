package imagetensor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	if _, err := Decode([]byte("GIF89a"), noReserve); err == nil {
		t.Error("Decode of no image succeeded")
	}
}

func noReserve(int64) error { return nil }

// pngHeader is the start of a PNG file whose header claims w×h 8-bit RGBA
// pixels, with a truncated IDAT: all a decoder reads before it allocates.
func pngHeader(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		body := append([]byte(typ), data...)
		b = append(b, body...)
		b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(body))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	chunk("IHDR", append(ihdr, 8, 6, 0, 0, 0)) // 8-bit, RGBA
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00})
	return b
}

// TestDecodeBounds pins that a picture's size is checked, and its memory
// reserved, before its pixels are decoded: Go's PNG decoder allocates the
// whole picture from the header, so a 72-byte file claiming 10^6×10^6
// pixels ended the server out of memory.
func TestDecodeBounds(t *testing.T) {
	var reserved int64
	reserve := func(n int64) error { reserved += n; return nil }
	if _, err := Decode(pngHeader(1_000_000, 1_000_000), reserve); err == nil || !strings.Contains(err.Error(), "pixels") {
		t.Errorf("a 10^6×10^6 header: %v, want a refusal naming the pixel bound", err)
	}
	if reserved != 0 {
		t.Errorf("a refused picture reserved %d bytes", reserved)
	}
	refused := errors.New("over budget")
	if _, err := Decode(pngHeader(4000, 3000), func(int64) error { return refused }); err != refused {
		t.Errorf("a 4000×3000 header over the budget: %v, want the budget's refusal", err)
	}
	if _, err := Decode(pngHeader(40, 30), reserve); err == nil {
		t.Error("a truncated picture decoded")
	}
	if reserved != 40*30*bytesPerPixel {
		t.Errorf("a 40×30 picture reserved %d bytes, want %d", reserved, 40*30*bytesPerPixel)
	}
}

// TestResizeModes compares the rows of a committed 12x8 picture, made
// square (6x6) and tall (5x4) by each resize mode, with the rows numpy
// computed when scripts/export_models.py wrote it (resize_rows): exactly
// for the PNG, and within the file's jpeg_atol for the JPEG of the same
// pixels, whose loss and decoder differ.
func TestResizeModes(t *testing.T) {
	var exp struct {
		Cases []struct {
			Resize Resize    `json:"resize"`
			Size   [2]int    `json:"size"`
			Row    []float64 `json:"row"`
		} `json:"cases"`
		JPEGAtol float64 `json:"jpeg_atol"`
	}
	b, err := os.ReadFile("testdata/wide.expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	for _, file := range []struct {
		name string
		atol float64
	}{{"wide.png", 0}, {"wide.jpg", exp.JPEGAtol}} {
		data, err := os.ReadFile(filepath.Join("testdata", file.name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := Decode(data, noReserve)
		if err != nil {
			t.Fatalf("%s: %v", file.name, err)
		}
		if b := img.Bounds(); b.Dx() != 12 || b.Dy() != 8 {
			t.Fatalf("%s is %v, want 12x8", file.name, b)
		}
		for _, c := range exp.Cases {
			s := Spec{Layout: NHWC, Channels: RGB, H: c.Size[0], W: c.Size[1], Resize: c.Resize, Scale: 1}
			got := make([]float64, s.RowLen())
			Row(got, img, s)
			worst, at := 0.0, -1
			for i, w := range c.Row {
				if d := math.Abs(got[i] - w); d > worst {
					worst, at = d, i
				}
			}
			if worst > file.atol {
				t.Errorf("%s %s %v: value %d is %v, numpy's %v (off by %v, allowed %v)", file.name, c.Resize, c.Size, at, got[at], c.Row[at], worst, file.atol)
			}
			if file.atol > 0 {
				t.Logf("%s %s %v: off by at most %v", file.name, c.Resize, c.Size, worst)
			}
		}
	}
}
