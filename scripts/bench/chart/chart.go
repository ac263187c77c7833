package main

import (
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// servers in the order and colours the chart draws them.
var servers = []struct {
	name, label string
	color       color.Color
}{
	{"onnxserve", "onnxserve", color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}},
	{"fastapi", "FastAPI", color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
	{"fastapi-async", "FastAPI async", color.RGBA{R: 0xff, G: 0x98, B: 0x96, A: 0xff}},
	{"floor", "Go HTTP floor", color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}},
}

// drawChart draws one panel per workload, each on its own linear scale
// (the workloads span three orders of magnitude), with a bar per server.
func drawChart(b *bench, path string) error {
	const cols = 3
	rows := (len(workloads) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i, w := range workloads {
		if i%cols == 0 {
			plots[i/cols] = make([]*plot.Plot, cols)
		}
		p, err := panel(b, w, i == 0)
		if err != nil {
			return err
		}
		plots[i/cols][i%cols] = p
	}
	img := vgimg.New(15*vg.Inch, 4.2*vg.Inch*vg.Length(rows))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Inch / 4, PadY: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	canvases := plot.Align(plots, tiles, dc)
	for r := range plots {
		for c, p := range plots[r] {
			if p != nil {
				p.Draw(canvases[r][c])
			}
		}
	}
	return saveImage(img, path)
}

func panel(b *bench, w workload, legend bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = w.title
	p.Y.Label.Text = "requests/s"
	p.Y.Min = 0
	p.X.Tick.Marker = plot.ConstantTicks(nil)
	width := vg.Points(28)
	for i, srv := range servers {
		r := b.get(w.name, srv.name)
		switch {
		case srv.name == "floor":
			r = b.get(floorOf(w.name), "floor")
		case srv.name != "onnxserve" && w.fastapi != "":
			r = b.get(w.fastapi, srv.name)
		}
		v := 0.0
		if r != nil {
			v = r.Result.RPS
		}
		bars, err := plotter.NewBarChart(plotter.Values{v}, width)
		if err != nil {
			return nil, err
		}
		bars.Color = srv.color
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(i-len(servers)/2)*width + width/2
		p.Add(bars)
		if legend {
			p.Legend.Add(srv.label, bars)
		}
		if v > 0 {
			labels, err := plotter.NewLabels(plotter.XYLabels{
				XYs:    plotter.XYs{{X: 0, Y: v}},
				Labels: []string{num(v)},
			})
			if err != nil {
				return nil, err
			}
			labels.Offset = vg.Point{X: bars.Offset - width/2, Y: 2}
			labels.TextStyle[0].Font.Size = vg.Points(8)
			p.Add(labels)
		}
	}
	p.Legend.Top = true
	p.Legend.Left = false
	return p, nil
}

func saveImage(img *vgimg.Canvas, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
