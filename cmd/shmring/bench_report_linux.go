package main

// The bench report: what -json prints, the table, and the targets.

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

type benchReport struct {
	Machine    machineInfo  `json:"machine"`
	Config     reportConfig `json:"config"`
	Throughput []tpRow      `json:"throughput"`
	Latency    []latRow     `json:"latency"`
	Idle       idleResult   `json:"idle"`
	CRef       *crefInfo    `json:"cref"`
	Targets    []target     `json:"targets"`
	Errors     []string     `json:"errors,omitempty"`
}

type reportConfig struct {
	Runs       int   `json:"runs"`
	DurationNs int64 `json:"duration_ns"` // target length of a run
	FixedN     int   `json:"n,omitempty"` // -n: messages (round trips) per run
	Sizes      []int `json:"sizes"`
	Capacity   int   `json:"capacity"` // ring slots
	Batch      int   `json:"batch"`
	CPUs       []int `json:"cpus"` // producers on the first, consumers on the second; empty: not pinned
	Quick      bool  `json:"quick"`
	IdleNs     int64 `json:"idle_ns"`
	GapNs      int64 `json:"gap_ns"` // pause between pings of the rtt-block-gap row
}

func reportConfigOf(cfg *benchConfig) reportConfig {
	return reportConfig{
		Runs: cfg.runs, DurationNs: cfg.duration.Nanoseconds(), FixedN: cfg.n, Sizes: cfg.sizes,
		Capacity: cfg.capacity, Batch: cfg.batch, CPUs: cfg.cpus, Quick: cfg.quick,
		IdleNs: cfg.idle.Nanoseconds(), GapNs: cfg.gap.Nanoseconds(),
	}
}

// tpRow is a throughput row: one transport at one message size.
type tpRow struct {
	Key            string      `json:"key"`
	Label          string      `json:"label"`
	Group          string      `json:"group"` // shmring, ipc, local, c
	Size           int         `json:"size"`
	Processes      int         `json:"processes"` // 0: one process
	Oversubscribed bool        `json:"oversubscribed"`
	Runs           []runResult `json:"runs"` // n == 0: that run failed
	MsgsPerSec     summary     `json:"msgs_per_sec"`
	MBPerSec       summary     `json:"mb_per_sec"` // 10^6 bytes of payload per second
	VsBest         *vsBest     `json:"vs_best_ipc,omitempty"`
	Error          string      `json:"error,omitempty"`
}

// vsBest compares a shmring row with the fastest unix socket or pipe row
// of its size, run by run.
type vsBest struct {
	Against string  `json:"against"` // key of that row
	Ratio   summary `json:"ratio"`
}

// latRow is a round-trip row.
type latRow struct {
	Key        string      `json:"key"`
	Label      string      `json:"label"`
	Group      string      `json:"group"`
	RoundTrips int         `json:"round_trips"` // per run
	Runs       []runResult `json:"runs"`
	P50        summary     `json:"p50_ns"` // over the runs' medians
	P99        summary     `json:"p99_ns"`
	P999       summary     `json:"p999_ns"`
	Error      string      `json:"error,omitempty"`
}

// target is a ratio shmring aims for (issue 5).
type target struct {
	Key   string  `json:"key"`
	Name  string  `json:"name"`
	Value summary `json:"value"` // a ratio of paired runs, or a percentage
	Unit  string  `json:"unit"`  // "x" or "%"
	Op    string  `json:"op"`    // ">=" or "<="
	Bound float64 `json:"bound"`
	Met   *bool   `json:"met"` // null: not measured
	Note  string  `json:"note,omitempty"`
}

func (r *tpRow) rates() []float64 {
	v := make([]float64, len(r.Runs))
	for i, run := range r.Runs {
		v[i] = run.rate()
	}
	return v
}

func p50s(runs []runResult) []float64 {
	v := make([]float64, len(runs))
	for i, run := range runs {
		v[i] = math.NaN()
		if run.N > 0 {
			v[i] = float64(run.P50)
		}
	}
	return v
}

// buildReport turns the measurements into rows, ratios and targets.
func buildReport(rep *benchReport, cfg *benchConfig, all []*measurement) {
	for _, m := range all {
		if m.err != nil {
			what := m.row.Label
			if !m.latency {
				what = fmt.Sprintf("%s, %d B", what, m.size)
			}
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", what, m.err))
		}
		errText := ""
		if m.err != nil {
			errText = m.err.Error()
		}
		if m.latency {
			row := latRow{Key: m.row.Key, Label: m.row.Label, Group: m.row.group, RoundTrips: m.n, Runs: m.runs, Error: errText}
			pick := func(f func(runResult) int64) summary {
				v := make([]float64, len(m.runs))
				for i, r := range m.runs {
					v[i] = math.NaN()
					if r.N > 0 {
						v[i] = float64(f(r))
					}
				}
				return summarize(v)
			}
			row.P50 = pick(func(r runResult) int64 { return r.P50 })
			row.P99 = pick(func(r runResult) int64 { return r.P99 })
			row.P999 = pick(func(r runResult) int64 { return r.P999 })
			rep.Latency = append(rep.Latency, row)
			continue
		}
		row := tpRow{Key: m.row.Key, Label: m.row.Label, Group: m.row.group, Size: m.size, Processes: m.row.processes(),
			Oversubscribed: oversubscribed(cfg, m.row), Runs: m.runs, Error: errText}
		row.MsgsPerSec = summarize(row.rates())
		row.MBPerSec = row.MsgsPerSec.scale(float64(m.size) / 1e6)
		rep.Throughput = append(rep.Throughput, row)
	}
	for i := range rep.Throughput {
		r := &rep.Throughput[i]
		if r.Group != groupShm {
			continue
		}
		if best := rep.bestIPC(r.Size); best != nil {
			r.VsBest = &vsBest{Against: best.Key, Ratio: pairedRatio(r.rates(), best.rates())}
		}
	}
	rep.Targets = rep.targets()
	if rep.Idle.Error != "" {
		rep.Errors = append(rep.Errors, "idle consumer: "+rep.Idle.Error)
	}
}

func (rep *benchReport) tp(key string, size int) *tpRow {
	for i := range rep.Throughput {
		if r := &rep.Throughput[i]; r.Key == key && r.Size == size {
			return r
		}
	}
	return nil
}

func (rep *benchReport) lat(key string) *latRow {
	for i := range rep.Latency {
		if r := &rep.Latency[i]; r.Key == key {
			return r
		}
	}
	return nil
}

// bestIPC is the fastest socket or pipe row of a size.
func (rep *benchReport) bestIPC(size int) *tpRow {
	var best *tpRow
	for i := range rep.Throughput {
		r := &rep.Throughput[i]
		if r.Group == groupIPC && r.Size == size && r.MsgsPerSec.N > 0 && (best == nil || r.MsgsPerSec.Median > best.MsgsPerSec.Median) {
			best = r
		}
	}
	return best
}

// targets evaluates the goals of issue 5 on this run's figures.
func (rep *benchReport) targets() []target {
	var ts []target
	add := func(key, name, unit, op string, bound float64, v summary, note string) {
		t := target{Key: key, Name: name, Value: v, Unit: unit, Op: op, Bound: bound, Note: note}
		if v.N > 0 {
			met := v.Median >= bound
			if op == "<=" {
				met = v.Median <= bound
			}
			t.Met = &met
		}
		ts = append(ts, t)
	}
	noC := ""
	if rep.CRef == nil || !rep.CRef.Available {
		noC = "no C reference"
	}
	tpRatio := func(a string, sa int, b string, sb int) (summary, string) {
		ra, rb := rep.tp(a, sa), rep.tp(b, sb)
		if ra == nil || rb == nil {
			return summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}, "not measured"
		}
		return pairedRatio(ra.rates(), rb.rates()), ""
	}
	latRatio := func(a, b string) (summary, string) {
		ra, rb := rep.lat(a), rep.lat(b)
		if ra == nil || rb == nil {
			return summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}, "not measured"
		}
		return pairedRatio(p50s(ra.Runs), p50s(rb.Runs)), ""
	}
	or := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}

	v, note := tpRatio("spsc", 8, "unix-bufio", 8)
	add("spsc-vs-unix-bufio", "SPSC Push/Pop ÷ unix socket with bufio, 8 B", "x", ">=", 2, v, note)
	v, note = tpRatio("spsc-batch", 8, "c-spsc-batch", 8)
	add("spsc-batch-vs-c", "SPSC batched ÷ C same algorithm batched, 8 B", "x", ">=", 0.9, v, or(noC, note))
	v, note = tpRatio("spsc-batch", 1024, "c-spsc-batch", 1024)
	add("spsc-batch-vs-c-1k", "SPSC batched ÷ C same algorithm batched, 1 KiB", "x", ">=", 0.9, v, or(noC, note))
	v, note = tpRatio("spsc-batch", 1024, "memcpy", 1024)
	add("spsc-1k-vs-memcpy", "SPSC batched, 1 KiB ÷ memcpy of 1 KiB blocks", "x", ">=", 0.9, v, note)
	v, note = tpRatio("spsc", 1024, "memcpy", 1024)
	add("spsc-msg-1k-vs-memcpy", "SPSC Push/Pop, 1 KiB ÷ memcpy of 1 KiB blocks", "x", ">=", 0.9, v, note)
	v, note = latRatio("rtt-spin", "c-rtt")
	add("rtt-spin-vs-c", "round trip, spinning: shmring ÷ C rings (median)", "x", "<=", 1.15, v, or(noC, note))
	v, note = latRatio("rtt-unix", "rtt-spin")
	add("rtt-unix-vs-spin", "round trip: unix socket ÷ shmring spinning (median)", "x", ">=", 100, v, note)
	v, note = tpRatio("spsc", 8, "spsc-spin", 8)
	add("block-vs-spin", "SPSC Push/Pop, blocking ÷ spinning consumer, 8 B", "x", ">=", 0.75, v, note)
	idle := summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	note = or(rep.Idle.Error, "")
	if rep.Idle.Available {
		idle = summary{Median: rep.Idle.CPUPct, Min: rep.Idle.CPUPct, Max: rep.Idle.CPUPct, N: 1}
		note = fmt.Sprintf("%v CPU in %v", time.Duration(rep.Idle.CPUNs).Round(time.Microsecond), time.Duration(rep.Idle.WallNs).Round(time.Millisecond))
	}
	add("idle-cpu", "idle consumer blocked in Pop: CPU, % of one core", "%", "<=", 1, idle, note)
	v, note = tpRatio("mpmc", 8, "c-vyukov", 8)
	add("mpmc-vs-vyukov", "MPMC 1P 1C ÷ C Vyukov queue 1P 1C, 8 B", "x", ">=", 0.9, v, or(noC, note))
	return ts
}

// ---- text ----

// writeReport prints the report as the tables a person reads.
func writeReport(w io.Writer, rep *benchReport) {
	m, c := rep.Machine, rep.Config
	fmt.Fprintf(w, "shmring bench: %s, %d cores, %s %s/%s, kernel %s\n", m.CPU, m.Cores, m.Go, m.GOOS, m.GOARCH, m.Kernel)
	pin := "not pinned"
	if len(c.CPUs) > 0 {
		pin = fmt.Sprintf("producers on CPU %d, consumers on CPU %d", c.CPUs[0], c.CPUs[1%len(c.CPUs)])
	}
	size := fmt.Sprintf("runs of ~%v", time.Duration(c.DurationNs))
	if c.FixedN > 0 {
		size = fmt.Sprintf("%d messages per run", c.FixedN)
	}
	fmt.Fprintf(w, "%s; rings of %d slots; each figure the median of %d interleaved runs (%s), min–max of the runs\n", pin, c.Capacity, c.Runs, size)
	if m.OtherLoad >= 2 || m.Steal >= 2 {
		fmt.Fprintf(w, "While it ran, other processes used %.0f%% of the CPUs' time and the hypervisor stole %.0f%%: the figures are noisier than on an idle machine.\n", m.OtherLoad, m.Steal)
	}
	if rep.CRef != nil {
		if rep.CRef.Available {
			fmt.Fprintf(w, "C reference: tools/cref/cref.c, %s, -O2\n", rep.CRef.Compiler)
		} else {
			fmt.Fprintf(w, "C reference: %s\n", rep.CRef.Reason)
		}
	}

	const lw = 48
	over := false
	fmt.Fprintf(w, "\n%-*s %8s %-13s %8s %8s  %s\n", lw, "Throughput", "msgs/s", " (min–max)", "ns/msg", "MB/s", "vs best socket/pipe")
	lastSize := -1
	for _, r := range rep.Throughput {
		if r.Size != lastSize {
			fmt.Fprintf(w, "%s\n", sizeName(r.Size)+" messages")
			lastSize = r.Size
		}
		label := r.Label
		if r.Oversubscribed {
			label += " oversubscribed*"
			over = true
		}
		if r.MsgsPerSec.N == 0 {
			fmt.Fprintf(w, "  %-*s failed: %s\n", lw-2, label, firstLine(r.Error))
			continue
		}
		s := r.MsgsPerSec
		unit, div := siUnit(s.Median)
		vs := ""
		if r.VsBest != nil && r.VsBest.Ratio.N > 0 {
			vs = fmt.Sprintf("%s %s", fmtRatio(r.VsBest.Ratio.Median), shortName(rep, r.VsBest.Against))
		}
		fmt.Fprintf(w, "  %-*s %6s %-1s %-13s %8s %8s  %s\n", lw-2, label,
			fmtSig(s.Median/div), unit, "("+fmtSig(s.Min/div)+"–"+fmtSig(s.Max/div)+")",
			fmtSig(1e9/s.Median), fmtSig(r.MBPerSec.Median), vs)
	}
	fmt.Fprintln(w, "MB/s: 10^6 bytes of payload per second. vs best socket/pipe: this row ÷ the fastest unix socket or pipe")
	fmt.Fprintln(w, "row of the same size, run by run. memcpy: one core copying blocks of the message size between two")
	fmt.Fprintln(w, "areas as large as a ring's slots. Go channel: two goroutines of one process, on both CPUs.")
	if over {
		fmt.Fprintln(w, "* oversubscribed: more busy processes than CPUs; waiting processes spin, then yield the CPU (sched_yield),")
		fmt.Fprintln(w, "  and take turns, so this row measures the scheduler as much as the ring.")
	}

	if len(rep.Latency) > 0 {
		fmt.Fprintf(w, "\n%-*s %9s %-17s %9s %9s %12s\n", lw, "Round trip, 8-byte ping-pong", "median", " (min–max)", "p99", "p99.9", "trips/run")
		for _, r := range rep.Latency {
			if r.P50.N == 0 {
				fmt.Fprintf(w, "  %-*s failed: %s\n", lw-2, r.Label, firstLine(r.Error))
				continue
			}
			p999 := "–"
			if r.RoundTrips >= 1000 {
				p999 = fmtNs(r.P999.Median)
			}
			fmt.Fprintf(w, "  %-*s %9s %-17s %9s %9s %12d\n", lw-2, r.Label, fmtNs(r.P50.Median),
				fmtNsRange(r.P50.Min, r.P50.Max), fmtNs(r.P99.Median), p999, r.RoundTrips)
		}
		fmt.Fprintln(w, "Each figure: the median over the runs of that run's percentile; (min–max) of the runs' medians.")
	}

	if rep.Idle.Available {
		fmt.Fprintf(w, "\nIdle: a consumer blocked in Pop on an empty ring for %v used %.3f%% of one core\n(%v of CPU, getrusage; its threads slept %d times).\n",
			time.Duration(rep.Idle.WallNs).Round(time.Millisecond), rep.Idle.CPUPct, time.Duration(rep.Idle.CPUNs).Round(time.Microsecond), rep.Idle.Switches)
	}

	fmt.Fprintf(w, "\nTargets (ratio: median of the run-by-run ratios, min–max)\n")
	for _, t := range rep.Targets {
		mark, val := "?", "n/a"
		if t.Met != nil {
			mark = "✗"
			if *t.Met {
				mark = "✓"
			}
		}
		if t.Value.N > 0 {
			if t.Unit == "%" {
				val = fmt.Sprintf("%.3f%%", t.Value.Median)
			} else {
				val = fmt.Sprintf("%s (%s–%s)", fmtRatio(t.Value.Median), fmtRatio(t.Value.Min), fmtRatio(t.Value.Max))
			}
		}
		goal := fmt.Sprintf("%s %s", strings.Replace(strings.Replace(t.Op, ">=", "≥", 1), "<=", "≤", 1), fmtBound(t.Bound, t.Unit))
		line := fmt.Sprintf("  %s %-52s %-22s goal %s", mark, t.Name, val, goal)
		if t.Note != "" {
			line += "  (" + t.Note + ")"
		}
		fmt.Fprintln(w, line)
	}
	if len(rep.Errors) > 0 {
		fmt.Fprintln(w, "\nErrors:")
		for _, e := range rep.Errors {
			fmt.Fprintln(w, "  "+firstLine(e))
		}
	}
}

func shortName(rep *benchReport, key string) string {
	for _, r := range rep.Throughput {
		if r.Key == key {
			switch key {
			case "unix":
				return "unix"
			case "unix-bufio":
				return "unix+bufio"
			case "pipe":
				return "pipe"
			case "pipe-bufio":
				return "pipe+bufio"
			}
			return r.Label
		}
	}
	return key
}

func sizeName(size int) string {
	switch {
	case size >= 1<<10 && size%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", size>>10)
	}
	return fmt.Sprintf("%d-byte", size)
}

// siUnit picks the SI prefix for v: "", "k", "M", "G".
func siUnit(v float64) (string, float64) {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return "G", 1e9
	case a >= 1e6:
		return "M", 1e6
	case a >= 1e3:
		return "k", 1e3
	}
	return "", 1
}

// fmtSig formats v with three significant digits and no exponent.
func fmtSig(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// fmtNs formats nanoseconds as ns, µs or ms.
func fmtNs(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "–"
	case ns >= 1e6:
		return fmtSig(ns/1e6) + " ms"
	case ns >= 1e3:
		return fmtSig(ns/1e3) + " µs"
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// fmtNsRange formats a range of nanoseconds in the unit of its top.
func fmtNsRange(lo, hi float64) string {
	unit, div := "ns", 1.0
	switch {
	case hi >= 1e6:
		unit, div = "ms", 1e6
	case hi >= 1e3:
		unit, div = "µs", 1e3
	}
	f := func(v float64) string {
		if div == 1 {
			return fmt.Sprintf("%.0f", v)
		}
		return fmtSig(v / div)
	}
	return "(" + f(lo) + "–" + f(hi) + " " + unit + ")"
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) {
		return "–"
	}
	return fmtSig(r) + "×"
}

func fmtBound(b float64, unit string) string {
	if unit == "%" {
		return fmtSig(b) + "%"
	}
	return fmtSig(b) + "×"
}
