package main

import (
	"fmt"
	"image/color"
	"os"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
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
}

// drawChart draws one panel per workload, each on its own linear scale
// (the workloads span three orders of magnitude): a bar per server, the
// target as a dashed line, and the HTTP floor, which would dwarf the
// bars, in the title. Rows with no FastAPI request of their own (v2
// binary, gRPC) have onnxserve's bar alone.
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
	if fl := b.get(floorOf(w.name), "floor"); fl != nil {
		p.Title.Text += "\nGo HTTP floor: " + num(fl.Result.RPS) + " req/s"
	}
	if b.get(w.name, "onnxserve") == nil {
		p.Title.Text += "\n" + notMeasured(b, w.name)
	}
	p.Y.Label.Text = "requests/s"
	p.Y.Min = 0
	p.X.Min, p.X.Max = -1, 1
	p.X.Tick.Marker = plot.ConstantTicks(nil)
	width := vg.Points(36)
	for i, srv := range servers {
		r := b.get(w.name, srv.name)
		if srv.name != "onnxserve" {
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
		bars.Offset = vg.Length(i-1) * width
		p.Add(bars)
		if legend {
			p.Legend.Add(srv.label, bars)
		}
		if v > 0 {
			labels, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: 0, Y: v}}, Labels: []string{num(v)}})
			if err != nil {
				return nil, err
			}
			labels.Offset = vg.Point{X: bars.Offset - width/2, Y: 2}
			labels.TextStyle[0].Font.Size = vg.Points(8)
			p.Add(labels)
		}
	}
	for i, t := range targetLines(b, w) {
		line, err := plotter.NewLine(plotter.XYs{{X: -1, Y: t.y}, {X: 1, Y: t.y}})
		if err != nil {
			return nil, err
		}
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		line.Color = color.Gray{Y: 0x55}
		p.Add(line)
		if legend && i == 0 {
			p.Legend.Add("target", line)
		}
		// The first label at the left end of its line, a second at the
		// right end, so that two lines close together stay readable.
		x, offset := -1.0, vg.Point{X: 4, Y: 2}
		if i%2 == 1 {
			x, offset = 1, vg.Point{X: -4, Y: 2}
		}
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: t.y}}, Labels: []string{t.label}})
		if err != nil {
			return nil, err
		}
		l.Offset = offset
		l.TextStyle[0].Font.Size = vg.Points(8)
		if i%2 == 1 {
			l.TextStyle[0].XAlign = text.XRight
		}
		p.Add(l)
	}
	p.Legend.Top = true
	p.Legend.Left = false
	return p, nil
}

// targetLine is a req/s a workload's target asks for, and its label.
type targetLine struct {
	y     float64
	label string
}

// targetLines are the req/s a workload's targets ask for: W1 has three,
// its speed-up on FastAPI, the share of its rate without metrics and the
// share of its limit.
func targetLines(b *bench, w workload) []targetLine {
	var ls []targetLine
	if fa := b.get(w.fastapi, "fastapi"); fa != nil && w.target > 0 {
		ls = append(ls, targetLine{w.target * fa.Result.RPS, fmt.Sprintf("target %g× FastAPI", w.target)})
	}
	if off := b.get(w1NoMetrics, "onnxserve"); w.name == w1 && off != nil {
		ls = append(ls, targetLine{metricsShare * off.Result.RPS, fmt.Sprintf("target %.0f%% of --metrics=false", 100*metricsShare)})
	}
	if w.name == "mlp-rows-32-v2" && b.ortRows > 0 {
		ls = append(ls, targetLine{0.75 * b.ortRows / 32, "target 75% of ORT alone"})
	}
	if w.name == "grpc-mlp-rows-32-raw" && b.ortRows > 0 {
		ls = append(ls, targetLine{grpcORTShare * b.ortRows / 32, "target 90% of ORT alone"})
	}
	if v1 := b.get("iris-named-1", "onnxserve"); strings.HasPrefix(w.name, "grpc-iris-1-") && v1 != nil {
		ls = append(ls, targetLine{v1.Result.RPS, "target /v1 JSON rate"})
	}
	for _, lt := range limitTargets {
		if l, ok := b.limitOf(w.name); ok && lt.workload == w.name {
			ls = append(ls, targetLine{lt.share * l.rps(), fmt.Sprintf("target %.0f%% of limit", 100*lt.share)})
		}
	}
	return ls
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
