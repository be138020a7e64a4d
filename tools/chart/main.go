// Command chart draws the throughput of `shmring bench -json` by message
// size, one line per transport, on log scales, with the spread of the runs
// as error bars: shmring's rows solid, the others (sockets, pipes, the
// channel, memcpy, the C index ring that the targets compare with) dashed,
// and the legend beside the plot, clear of the lines. It lives in its own
// module so that the plotting library stays out of shmring's dependencies.
//
//	go run ./cmd/shmring bench -json > docs/bench.json
//	cd tools/chart && go run . -in ../../docs/bench.json -out ../../docs/bench.svg,../../docs/bench.png
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// report is the part of shmring bench's JSON the chart needs.
type report struct {
	Machine struct {
		CPU    string `json:"cpu"`
		Cores  int    `json:"cores"`
		Go     string `json:"go"`
		Kernel string `json:"kernel"`
	} `json:"machine"`
	Config struct {
		Runs     int   `json:"runs"`
		Capacity int   `json:"capacity"`
		CPUs     []int `json:"cpus"`
	} `json:"config"`
	Throughput []struct {
		Key      string `json:"key"`
		Label    string `json:"label"`
		Group    string `json:"group"`
		Size     int    `json:"size"`
		MBPerSec struct {
			Median, Min, Max *float64
		} `json:"mb_per_sec"`
	} `json:"throughput"`
}

// defaultRows are the transports drawn unless -rows says otherwise.
const defaultRows = "spsc,spsc-batch,spsc-bytes,mpmc,c-index,unix,unix-bufio,pipe,pipe-bufio,chan,memcpy"

func main() {
	in := flag.String("in", "-", "shmring bench -json output (- for stdin)")
	out := flag.String("out", "bench.svg", "files to write, comma-separated; the extension picks the format (svg, png, pdf)")
	rows := flag.String("rows", defaultRows, "row keys to draw, in legend order")
	flag.Parse()
	if err := run(*in, strings.Split(*out, ","), strings.Split(*rows, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(in string, outs, keys []string) error {
	var r io.Reader = os.Stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	var rep report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return fmt.Errorf("read %s: %w", in, err)
	}
	p, leg, err := draw1(&rep, keys)
	if err != nil {
		return err
	}
	for _, o := range outs {
		if err := save(p, leg, 12*vg.Inch, 6*vg.Inch, strings.TrimSpace(o)); err != nil {
			return fmt.Errorf("write %s: %w", o, err)
		}
	}
	return nil
}

// save draws the plot on the left of a w×h canvas and the legend on its
// right, top-aligned with the plotting area, so that no line runs under
// the legend; the file's extension picks the format.
func save(p *plot.Plot, leg plot.Legend, w, h vg.Length, file string) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(file)), ".")
	c, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	pad := vg.Points(12)
	lw := leg.Rectangle(dc).Size().X + 2*pad
	// gonum reserves room for the Y axis label as if it sat at the linear
	// midpoint of the axis, which on a log axis is near the top: the
	// plotting area would start well below the title. So the label is
	// left out of p.Draw and drawn here, where gonum would draw it.
	label := p.Y.Label
	p.Y.Label.Text = ""
	defer func() { p.Y.Label.Text = label.Text }()
	lh := label.TextStyle.Height(label.Text)
	pc := draw.Crop(dc, lh+label.Padding, -lw, 0, 0)
	p.Draw(pc)
	da := p.DataCanvas(pc)
	sty := label.TextStyle
	sty.Rotation += math.Pi / 2
	dc.FillText(sty, vg.Point{X: dc.Min.X + lh - label.TextStyle.FontExtents().Descent, Y: da.Center().Y}, label.Text)
	leg.Draw(draw.Crop(dc, w-lw+pad, 0, 0, da.Max.Y-dc.Max.Y)) // its first line level with the plotting area's top
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func draw1(rep *report, keys []string) (*plot.Plot, plot.Legend, error) {
	p := plot.New()
	leg := plot.NewLegend()
	m := rep.Machine
	p.Title.Text = fmt.Sprintf("shmring bench: throughput between two processes\n%s, %d cores, %s, kernel %s; median of %d rounds, bars min–max",
		m.CPU, m.Cores, m.Go, m.Kernel, rep.Config.Runs)
	p.X.Label.Text = "message size (bytes)"
	p.Y.Label.Text = "MB/s of payload (10^6 bytes/s)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	leg.Top, leg.Left = true, true
	leg.TextStyle.Font.Size = vg.Points(9)
	leg.Padding = vg.Points(3)
	p.Add(plotter.NewGrid())

	sizes := map[int]bool{}
	drawn := 0
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for i, key := range keys {
		key = strings.TrimSpace(key)
		var pts plotter.XYs
		var errs plotter.YErrors
		label := key
		group := ""
		for _, t := range rep.Throughput {
			if t.Key != key || t.MBPerSec.Median == nil {
				continue
			}
			label, group = t.Label, t.Group
			med := *t.MBPerSec.Median
			lo, hi := med, med
			if t.MBPerSec.Min != nil && t.MBPerSec.Max != nil {
				lo, hi = *t.MBPerSec.Min, *t.MBPerSec.Max
			}
			pts = append(pts, plotter.XY{X: float64(t.Size), Y: med})
			ymin, ymax = math.Min(ymin, lo), math.Max(ymax, hi)
			errs = append(errs, struct{ Low, High float64 }{med - lo, hi - med})
			sizes[t.Size] = true
		}
		if len(pts) == 0 {
			continue
		}
		sort.Sort(bySize{pts, errs})
		line, points, err := plotterLinePoints(pts)
		if err != nil {
			return nil, leg, err
		}
		c := palette[i%len(palette)]
		line.Width = vg.Points(2)
		points.Shape = draw.CircleGlyph{}
		switch group {
		case "shmring":
		case "c": // the references the targets compare with: black, long dashes
			c = color.Black
			line.Dashes = []vg.Length{vg.Points(9), vg.Points(3)}
			line.Width = vg.Points(1.6)
			points.Shape = draw.SquareGlyph{}
		default:
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			line.Width = vg.Points(1.2)
			points.Shape = draw.TriangleGlyph{}
		}
		line.Color, points.Color = c, c
		bars, err := plotter.NewYErrorBars(errorPoints{pts, errs})
		if err != nil {
			return nil, leg, err
		}
		bars.Color = c
		p.Add(line, points, bars)
		leg.Add(label, line, points)
		drawn++
	}
	if drawn == 0 {
		return nil, leg, fmt.Errorf("none of the rows %v in the report", keys)
	}
	var ticks []plot.Tick
	for s := range sizes {
		ticks = append(ticks, plot.Tick{Value: float64(s), Label: sizeLabel(s)})
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Value < ticks[j].Value })
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	if len(ticks) > 0 {
		p.X.Min, p.X.Max = ticks[0].Value/1.5, ticks[len(ticks)-1].Value*1.5
	}
	// Whole decades: LogTicks labels the powers of ten around the range,
	// and a label beyond it would push the plotting area down.
	p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(ymin))), math.Pow(10, math.Ceil(math.Log10(ymax)))
	return p, leg, nil
}

func plotterLinePoints(xys plotter.XYs) (*plotter.Line, *plotter.Scatter, error) {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, nil, err
	}
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, nil, err
	}
	return l, s, nil
}

func sizeLabel(s int) string {
	if s >= 1024 && s%1024 == 0 {
		return fmt.Sprintf("%d KiB", s/1024)
	}
	return fmt.Sprintf("%d B", s)
}

// palette: distinguishable colours (Okabe–Ito, then a few more).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255},   // blue
	color.RGBA{213, 94, 0, 255},    // vermillion
	color.RGBA{0, 158, 115, 255},   // green
	color.RGBA{204, 121, 167, 255}, // purple
	color.RGBA{230, 159, 0, 255},   // orange
	color.RGBA{86, 180, 233, 255},  // sky
	color.RGBA{120, 120, 120, 255}, // grey
	color.RGBA{170, 68, 0, 255},    // brown
	color.RGBA{90, 90, 200, 255},   // indigo
}

type bySize struct {
	xy plotter.XYs
	e  plotter.YErrors
}

func (b bySize) Len() int           { return len(b.xy) }
func (b bySize) Less(i, j int) bool { return b.xy[i].X < b.xy[j].X }
func (b bySize) Swap(i, j int) {
	b.xy[i], b.xy[j] = b.xy[j], b.xy[i]
	b.e[i], b.e[j] = b.e[j], b.e[i]
}

// errorPoints gives NewYErrorBars the points and their spreads.
type errorPoints struct {
	plotter.XYs
	plotter.YErrors
}
