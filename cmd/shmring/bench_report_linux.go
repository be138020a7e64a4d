package main

// The bench report: what -json prints, the table, and the targets.

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

type benchReport struct {
	Machine    machineInfo  `json:"machine"`
	Config     reportConfig `json:"config"`
	Throughput []tpRow      `json:"throughput"`
	Latency    []latRow     `json:"latency"`
	Idle       idleResult   `json:"idle"`
	CRef       *crefInfo    `json:"cref"`
	Rounds     []roundInfo  `json:"rounds"` // every round of every group, in the order they ran
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
	// The probe at the start of each round: the C index ring moving this
	// many messages of ProbeSize bytes through ProbeCapacity slots.
	ProbeMessages int `json:"probe_messages"`
	ProbeSize     int `json:"probe_size"`
	ProbeCapacity int `json:"probe_capacity"`
}

func reportConfigOf(cfg *benchConfig) reportConfig {
	return reportConfig{
		Runs: cfg.runs, DurationNs: cfg.duration.Nanoseconds(), FixedN: cfg.n, Sizes: cfg.sizes,
		Capacity: cfg.capacity, Batch: cfg.batch, CPUs: cfg.cpus, Quick: cfg.quick,
		IdleNs: cfg.idle.Nanoseconds(), GapNs: cfg.gap.Nanoseconds(),
		ProbeMessages: probeMessages, ProbeSize: probeSize, ProbeCapacity: probeCapacity,
	}
}

// roundInfo is one round of one group: when it began, what the probe at
// its start measured, and the order in which it ran the rows. The i-th run
// of each row of the group (runs[i]) is from round i+1.
type roundInfo struct {
	Group      string     `json:"group"`          // "8-byte messages", "round trips"
	Size       int        `json:"size,omitempty"` // message size; 0: the round trips
	Round      int        `json:"round"`          // from 1
	AtNs       int64      `json:"at_ns"`          // since bench began
	Probe      jsonNumber `json:"probe_ns_per_msg"`
	ProbeError string     `json:"probe_error,omitempty"`
	Order      []string   `json:"order"` // row keys, as run
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
	MBPerSec       summary     `json:"mb_per_sec"`             // 10^6 bytes of payload per second
	MemoryBytes    int         `json:"memory_bytes,omitempty"` // what the transport holds: the ring, or kernel and bufio buffers
	VsBest         *vsBest     `json:"vs_best_ipc,omitempty"`
	VsRef          *vsBest     `json:"vs_c_ref,omitempty"` // against the C row of the same algorithm class
	Error          string      `json:"error,omitempty"`
}

// vsBest compares a shmring row with another row of its size (the fastest
// unix socket or pipe; its C reference), round by round.
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

// target is a goal shmring aims for (issue 11): a ratio of two rows,
// taken in each round, or a percentage.
type target struct {
	Key    string  `json:"key"`
	Name   string  `json:"name"`
	Value  summary `json:"value"` // the median of the per-round ratios and their min–max; or a percentage
	Unit   string  `json:"unit"`  // "x" or "%"
	Op     string  `json:"op"`    // ">=", "<=" or "<"
	Bound  float64 `json:"bound"`
	Met    *bool   `json:"met"`              // null: not measured
	Group  string  `json:"group,omitempty"`  // the group whose rounds the ratios are from
	Rounds figures `json:"rounds,omitempty"` // the ratio in each round of that group; null: no figure
	Note   string  `json:"note,omitempty"`
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
		mean := float64(m.size)
		if m.size == mixedSize {
			mean = mixedMean
		}
		row.MBPerSec = row.MsgsPerSec.scale(mean / 1e6)
		if mc, ok := m.cell.(interface{ memory() int }); ok {
			row.MemoryBytes = mc.memory()
		}
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
		if spec := rowByKey(cfg, r.Key); spec != nil && spec.ref != "" {
			if ref := rep.tp(spec.ref, r.Size); ref != nil {
				r.VsRef = &vsBest{Against: ref.Key, Ratio: pairedRatio(r.rates(), ref.rates())}
			}
		}
	}
	rep.Targets = rep.targets()
	for _, ri := range rep.Rounds {
		if ri.ProbeError != "" {
			rep.Errors = append(rep.Errors, fmt.Sprintf("probe of round %d, %s: %s", ri.Round, ri.Group, ri.ProbeError))
		}
	}
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

// rowByKey returns the throughput row spec with key, or nil.
func rowByKey(cfg *benchConfig, key string) *rowSpec {
	for _, r := range throughputRows(cfg) {
		if r.Key == key {
			return r
		}
	}
	return nil
}

// ratioTarget is a goal of the form row a ÷ row b, both of one size (size
// 0: the round trips, compared by their medians), taken in each round.
type ratioTarget struct {
	key, name string
	a, b      string
	size      int
	op        string
	bound     float64
}

// ratioTargets are the goals of issue 11 that compare two rows. The C rows
// are the references: the index ring for SPSC, Vyukov's queue for MPMC.
func ratioTargets(batch int) []ratioTarget {
	b := strconv.Itoa(batch)
	return []ratioTarget{
		{"spsc-vs-index-8", "SPSC Push/Pop ÷ C index ring per message, 8 B", "spsc", "c-index", 8, ">=", 0.9},
		{"spsc-vs-index-64", "SPSC Push/Pop ÷ C index ring per message, 64 B", "spsc", "c-index", 64, ">=", 0.9},
		{"spsc-batch-vs-index-batch-8", "SPSC PushBatch/PopFunc " + b + " ÷ C index ring per " + b + ", 8 B", "spsc-batch", "c-index-batch", 8, ">=", 0.9},
		{"spsc-batch-vs-index-batch-64", "SPSC PushBatch/PopFunc " + b + " ÷ C index ring per " + b + ", 64 B", "spsc-batch", "c-index-batch", 64, ">=", 0.9},
		{"spsc-vs-unix-bufio", "SPSC Push/Pop ÷ unix socket with bufio, 8 B", "spsc", "unix-bufio", 8, ">=", 2},
		{"spsc-msg-1k-vs-memcpy", "SPSC Push/Pop, 1 KiB ÷ memcpy of 1 KiB blocks", "spsc", "memcpy", 1024, ">=", 0.9},
		{"spsc-1k-vs-memcpy", "SPSC PushBatch/PopFunc " + b + ", 1 KiB ÷ memcpy of 1 KiB blocks", "spsc-batch", "memcpy", 1024, ">=", 0.9},
		{"mpmc-vs-vyukov-8", "MPMC 1P 1C ÷ C Vyukov queue 1P 1C, 8 B", "mpmc", "c-vyukov", 8, ">=", 0.8},
		{"mpmc-vs-vyukov-64", "MPMC 1P 1C ÷ C Vyukov queue 1P 1C, 64 B", "mpmc", "c-vyukov", 64, ">=", 0.9},
		{"block-vs-spin", "SPSC Push/Pop, blocking ÷ spinning consumer, 8 B", "spsc", "spsc-spin", 8, ">=", 0.9},
		{"bytes-vs-spsc-8", "SPSCBytes Push/Pop ÷ SPSC Push/Pop, 8 B", "spsc-bytes", "spsc", 8, ">=", 0.8},
		{"bytes-vs-spsc-64", "SPSCBytes Push/Pop ÷ SPSC Push/Pop, 64 B", "spsc-bytes", "spsc", 64, ">=", 0.8},
		{"mpsc-vs-mpmc-2p1c-64", "MPSCBytes 2P 1C ÷ MPMC 2P 1C, 64 B", "mpsc-bytes-2p", "mpmc-2p1c", 64, ">=", 0.8},
		{"mixed-bytes-vs-unix", "mixed sizes 16 B–64 KiB: SPSCBytes ÷ unix socket with bufio (MB/s)", "mixed-bytes", "mixed-unix", mixedSize, ">=", 3},
		{"reserve-vs-push-64k", "64 KiB: SPSCBytes Reserve/Commit ÷ Push of a copy (PopFunc both)", "spsc-bytes-reserve", "spsc-bytes-zc", 64 << 10, ">=", 1},
		{"rtt-spin-vs-c", "round trip, spinning: shmring ÷ C index rings (median)", "rtt-spin", "c-rtt", 0, "<=", 1.15},
		{"rtt-unix-vs-spin", "round trip: unix socket ÷ shmring spinning (median)", "rtt-unix", "rtt-spin", 0, ">=", 100},
		{"conn-rtt-unix-vs-shm", "net.Conn round trip, 64 B: unix socket ÷ shmnet (median)", "conn-rtt-unix", "conn-rtt-shm", 0, ">=", 20},
		{"conn-stream-vs-unix", "net.Conn stream of 1 MiB writes: shmnet ÷ unix socket", "conn-shm", "conn-unix", 1 << 20, ">=", 3},
	}
}

// targetMet reports whether v op bound holds.
func targetMet(v float64, op string, bound float64) bool {
	switch op {
	case "<=":
		return v <= bound
	case "<":
		return v < bound
	}
	return v >= bound
}

// targets evaluates the goals of issue 11 on this run's figures.
func (rep *benchReport) targets() []target {
	var ts []target
	noC := rep.CRef == nil || !rep.CRef.Available
	for _, spec := range ratioTargets(rep.Config.Batch) {
		t := target{Key: spec.key, Name: spec.name, Unit: "x", Op: spec.op, Bound: spec.bound,
			Value: summarize(nil)}
		var a, b []float64
		if spec.size == 0 {
			t.Group = groupRoundTrips
			if ra, rb := rep.lat(spec.a), rep.lat(spec.b); ra != nil && rb != nil {
				a, b = p50s(ra.Runs), p50s(rb.Runs)
			}
		} else {
			t.Group = sizeName(spec.size) + " messages"
			if ra, rb := rep.tp(spec.a, spec.size), rep.tp(spec.b, spec.size); ra != nil && rb != nil {
				a, b = ra.rates(), rb.rates()
			}
		}
		switch {
		case a == nil && noC && (strings.HasPrefix(spec.a, "c-") || strings.HasPrefix(spec.b, "c-")):
			t.Note = "no C reference"
		case a == nil:
			t.Note = "not measured"
		default:
			t.Rounds = roundRatios(a, b)
			t.Value = summarize(t.Rounds)
		}
		if t.Value.N > 0 {
			met := targetMet(t.Value.Median, t.Op, t.Bound)
			t.Met = &met
		}
		ts = append(ts, t)
	}
	if a, b := rep.tp("mixed-bytes", mixedSize), rep.tp("mixed-slots", mixedSize); a != nil && b != nil && a.MemoryBytes > 0 && b.MemoryBytes > 0 {
		v := float64(a.MemoryBytes) / float64(b.MemoryBytes)
		met := v <= 0.125
		ts = append(ts, target{Key: "mixed-memory", Name: "mixed sizes: memory of the SPSCBytes ring ÷ the SPSC ring sized for 64 KiB",
			Unit: "x", Op: "<=", Bound: 0.125, Value: summarize([]float64{v}), Met: &met, Group: sizeName(mixedSize) + " messages",
			Note: fmt.Sprintf("%s against %s", humanBytes(int64(a.MemoryBytes)), humanBytes(int64(b.MemoryBytes)))})
	}
	idle := target{Key: "idle-cpu", Name: "idle consumer blocked in Pop: CPU, % of one core", Unit: "%", Op: "<", Bound: 1,
		Value: summarize(nil), Note: rep.Idle.Error}
	if rep.Idle.Available {
		idle.Value = summarize([]float64{rep.Idle.CPUPct})
		idle.Note = fmt.Sprintf("%v CPU in %v", time.Duration(rep.Idle.CPUNs).Round(time.Microsecond), time.Duration(rep.Idle.WallNs).Round(time.Millisecond))
		met := targetMet(idle.Value.Median, idle.Op, idle.Bound)
		idle.Met = &met
	}
	return append(ts, idle)
}

// ---- text ----

// writeReport prints the report as the tables a person reads.
func writeReport(w io.Writer, rep *benchReport) {
	m, c := rep.Machine, rep.Config
	fmt.Fprintf(w, "shmring bench: %s, %s, %s %s/%s, kernel %s\n", m.CPU, benchCount(m.Cores, "core"), m.Go, m.GOOS, m.GOARCH, m.Kernel)
	pin := "not pinned"
	if len(c.CPUs) > 0 {
		pin = fmt.Sprintf("producers on CPU %d, consumers on CPU %d", c.CPUs[0], c.CPUs[1%len(c.CPUs)])
	}
	size := fmt.Sprintf("runs of ~%v", time.Duration(c.DurationNs))
	if c.FixedN > 0 {
		size = benchCount(c.FixedN, "message") + " per run"
	}
	each := fmt.Sprintf("each figure the median of %d interleaved runs (%s), min–max of the runs", c.Runs, size)
	if c.Runs == 1 {
		each = fmt.Sprintf("each figure from 1 run (%s)", size)
	}
	fmt.Fprintf(w, "%s; rings of %s; %s\n", pin, benchCount(c.Capacity, "slot"), each)
	if m.OtherLoad >= 2 || m.Steal >= 2 {
		fmt.Fprintf(w, "While it ran, other processes used %.0f%% of the CPUs' time and the hypervisor stole %.0f%%: the figures are noisier than on an idle machine.\n", m.OtherLoad, m.Steal)
	}
	if rep.CRef != nil {
		if rep.CRef.Available {
			fmt.Fprintf(w, "C references: tools/cref/cref.c, %s, -O2\n", rep.CRef.Compiler)
		} else {
			fmt.Fprintf(w, "C references: %s\n", rep.CRef.Reason)
		}
	}

	const lw = 48
	over := false
	fmt.Fprintf(w, "\n%-*s %8s %-13s %8s %8s  %-19s %s\n", lw, "Throughput", "msgs/s", " (min–max)", "ns/msg", "MB/s", "vs best socket/pipe", "vs C reference")
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
		vs := func(v *vsBest) string {
			if v == nil || v.Ratio.N == 0 {
				return ""
			}
			return fmt.Sprintf("%s %s", fmtRatio(v.Ratio.Median), shortName(rep, v.Against))
		}
		line := fmt.Sprintf("  %-*s %6s %-1s %-13s %8s %8s  %-19s %s", lw-2, label,
			fmtSig(s.Median/div), unit, "("+fmtSig(s.Min/div)+"–"+fmtSig(s.Max/div)+")",
			fmtSig(1e9/s.Median), fmtSig(r.MBPerSec.Median), vs(r.VsBest), vs(r.VsRef))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	fmt.Fprintln(w, "MB/s: 10^6 bytes of payload per second. vs best socket/pipe: this row ÷ the fastest unix socket or pipe")
	fmt.Fprintln(w, "row of the same size; vs C reference: this row ÷ the C row of the same kind (the index ring for SPSC,")
	fmt.Fprintln(w, "Vyukov's queue for MPMC); both the median of the per-round ratios. memcpy: one core copying blocks of")
	fmt.Fprintln(w, "the message size between two areas as large as a ring's slots. Go channel: two goroutines of one")
	fmt.Fprintln(w, "process, on both CPUs. shmring v1 protocol in C: the SPSC protocol of layout version 1 (tools/cref).")
	var held []string
	for _, r := range rep.Throughput {
		if r.Size == mixedSize && r.MemoryBytes > 0 {
			held = append(held, fmt.Sprintf("%s %s", r.Label, humanBytes(int64(r.MemoryBytes))))
		}
	}
	if len(held) > 0 {
		fmt.Fprintf(w, "Mixed sizes: the same sequence of lengths, log-uniform 16 B–64 KiB (mean %.0f B), for every row; memory held:\n  %s\n",
			mixedMean, strings.Join(held, "; "))
	}
	if over {
		fmt.Fprintln(w, "* oversubscribed: more busy processes than CPUs; waiting processes spin, then yield the CPU (sched_yield),")
		fmt.Fprintln(w, "  and take turns, so this row measures the scheduler as much as the ring.")
	}

	if len(rep.Latency) > 0 {
		fmt.Fprintf(w, "\n%-*s %9s %-17s %9s %9s %12s\n", lw, "Round trip, 8-byte ping-pong (net.Conn: 64 B)", "median", " (min–max)", "p99", "p99.9", "trips/run")
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
		fmt.Fprintf(w, "\nIdle: a consumer blocked in Pop on an empty ring for %v used %.3f%% of one core\n(%v of CPU, getrusage; its threads slept %s).\n",
			time.Duration(rep.Idle.WallNs).Round(time.Millisecond), rep.Idle.CPUPct, time.Duration(rep.Idle.CPUNs).Round(time.Microsecond), benchCount(int(rep.Idle.Switches), "time"))
	}

	writeRounds(w, rep)

	fmt.Fprintf(w, "\nTargets (a ratio is the median of the per-round ratios, with their min–max)\n")
	nw := 0
	for _, t := range rep.Targets {
		nw = max(nw, utf8.RuneCountInString(t.Name))
	}
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
		op := strings.NewReplacer(">=", "≥", "<=", "≤").Replace(t.Op)
		line := fmt.Sprintf("  %s %s%s %-22s goal %s %s", mark, t.Name, strings.Repeat(" ", nw-utf8.RuneCountInString(t.Name)),
			val, op, fmtBound(t.Bound, t.Unit))
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

// writeRounds prints, for each group, when each round began, what its
// probe measured and the ratio of each target in it: a slow minute shows as
// a high probe, and the ratios of that round beside it.
func writeRounds(w io.Writer, rep *benchReport) {
	if len(rep.Rounds) == 0 {
		return
	}
	c := rep.Config
	fmt.Fprintf(w, "\nRounds: each starts with a probe, the C index ring moving %d %d-byte messages (ns per message:\n", c.ProbeMessages, c.ProbeSize)
	fmt.Fprintln(w, "how fast the machine is that minute), then runs each row of its group once; below, each target's ratio in it")
	var groups []string
	byGroup := map[string][]roundInfo{}
	runs := 0
	for _, ri := range rep.Rounds {
		if _, ok := byGroup[ri.Group]; !ok {
			groups = append(groups, ri.Group)
		}
		byGroup[ri.Group] = append(byGroup[ri.Group], ri)
		runs = max(runs, len(byGroup[ri.Group]))
	}
	lw := len("  probe, ns/msg")
	for _, t := range rep.Targets {
		if t.Group != "" {
			lw = max(lw, 4+len(t.Key))
		}
	}
	for _, g := range groups {
		lw = max(lw, len(g))
	}
	const cw = 9
	fmt.Fprintf(w, "%-*s", lw, "")
	for i := 1; i <= runs; i++ {
		fmt.Fprintf(w, "%*s", cw, fmt.Sprintf("round %d", i))
	}
	fmt.Fprintln(w)
	row := func(label string, cells []string) {
		line := fmt.Sprintf("%-*s", lw, label)
		for _, s := range cells {
			line += fmt.Sprintf("%*s", cw, s)
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	for _, g := range groups {
		rs := byGroup[g]
		at, probe := make([]string, len(rs)), make([]string, len(rs))
		for i, ri := range rs {
			at[i] = fmtSeconds(time.Duration(ri.AtNs))
			probe[i] = fmtSig(float64(ri.Probe))
		}
		row(g, nil)
		row("  starts at", at)
		row("  probe, ns/msg", probe)
		for _, t := range rep.Targets {
			if t.Group != g || len(t.Rounds) == 0 {
				continue
			}
			cells := make([]string, len(t.Rounds))
			for i, v := range t.Rounds {
				cells[i] = fmtRatio(v)
			}
			row("    "+t.Key, cells)
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
			case "c-index":
				return "C index"
			case "c-index-batch":
				return fmt.Sprintf("C index/%d", rep.Config.Batch)
			case "c-vyukov":
				return "C Vyukov"
			}
			return r.Label
		}
	}
	return key
}

// fmtSeconds formats a time since bench began: tenths of a second in the
// first minutes, where a -quick run's rounds are a second apart.
func fmtSeconds(d time.Duration) string {
	if d < 100*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%.0fs", d.Seconds())
}

// benchCount is "1 run" or "n runs".
func benchCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func sizeName(size int) string {
	switch {
	case size == mixedSize:
		return "mixed-size (16 B–64 KiB)"
	case size >= 1<<20 && size%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", size>>20)
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
