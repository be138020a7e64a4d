package main

// shmring bench: throughput and latency of the rings between real
// processes, side by side with what programs use today (sockets, pipes, Go
// channels), with memory copy bandwidth and C references: the index ring
// (the best-known cross-process SPSC queue), Vyukov's MPMC queue.
//
// How it stays trustworthy on a small, shared machine whose speed changes
// from minute to minute:
//   - every transport runs in its own processes, started once per message
//     size and kept between runs; every figure is the median of several runs
//     with the spread of those runs;
//   - runs are interleaved in rounds: round 1 runs every transport of a
//     group once, back to back, then round 2, and so on (runOrder keeps the
//     compared rows next to each other; odd rounds run it backwards), so a
//     disturbance hits all transports of a round alike; every ratio is
//     taken within a round, and a target is the median of the per-round
//     ratios, printed with their spread;
//   - each round starts with a probe, the C index ring moving a fixed
//     number of messages, printed per round: a reader sees which rounds
//     fell in a fast minute and which in a slow one;
//   - consumers check every message (sequence numbers, whole), the parent
//     checks counts: a broken transport fails instead of reporting a speed;
//   - each run is sized for about -duration after a calibration run, which
//     also warms pages and caches up; -quick makes fewer and shorter
//     rounds, never fewer rows.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shmring/shmring/ring"
)

var benchSpec = &cmdSpec[benchFlags]{
	name:  "bench",
	synop: "shmring bench [flags]",
	about: `
Measure shmring between real processes on this machine, side by side with
unix sockets, pipes, Go channels and C references, and print one table.

Throughput in messages/s and MB/s for 8, 64, 1024 and 16384-byte messages:
SPSC (Push/Pop with the consumer blocking or spinning, and batches), MPMC
(one producer and one consumer, two and two), unix stream socket and pipe
(a write per message, and bufio of 64 KiB on both ends), a buffered Go
channel inside one process, memory copy bandwidth, and C references
(tools/cref, built with cc when there is one): the index ring, the
best-known cross-process SPSC queue, publishing per message and per batch;
Vyukov's MPMC queue; shmring v1's SPSC protocol. Round trip latency of
8-byte ping-pong (median, p99, p99.9); the CPU an idle consumer blocked in
Pop uses; and the targets: the ratios shmring aims for.

This machine's speed changes from minute to minute, so every comparison is
made within rounds: each round runs every row of a message size once, back
to back, and starts with a probe (the C index ring moving 1,000,000 8-byte
messages) that shows how fast the machine was then. Each figure is the
median of -runs rounds, with the spread (min-max); each ratio is the median
of the per-round ratios, with their spread. Producers run on the first CPU
of -cpus, consumers on the second. A run takes about -duration. The
progress goes to stderr; -json prints machine-readable results on stdout
instead of the table.`,
	flags: func(fs *flag.FlagSet) *benchFlags {
		f := &benchFlags{}
		fs.BoolVar(&f.quick, "quick", false, "a short run: 3 rounds of runs of about 50ms, fewer round trips per run, 1s idle; every row still runs")
		fs.BoolVar(&f.json, "json", false, "print the results as JSON on stdout")
		fs.StringVar(&f.cpus, "cpus", "", "CPUs for producer and consumer processes, e.g. 2,3 or \"none\" (default: the first two this process may use; none if it may use one)")
		fs.IntVar(&f.n, "n", 0, "messages per throughput run and round trips per latency run (default: sized by -duration)")
		fs.DurationVar(&f.duration, "duration", 0, "target length of one run (default 200ms, 50ms with -quick)")
		fs.Var(&f.runs, "runs", "runs per figure: `N` rounds, each running every row once; at least 1 (default 5, 3 with -quick)")
		fs.StringVar(&f.sizes, "sizes", "8,64,1024,16384", "message sizes in bytes, at least 8")
		fs.DurationVar(&f.idle, "idle", 0, "how long the idle consumer is watched (default 2s, 1s with -quick)")
		fs.IntVar(&f.capacity, "capacity", 4096, "ring capacity in slots (and Go channel buffer)")
		fs.IntVar(&f.batch, "batch", 32, "messages per batch in the batched rows")
		fs.StringVar(&f.report, "report", "", "measure nothing: print the table of a saved -json run from this file")
		return f
	},
}

type benchFlags struct {
	quick, json     bool
	cpus, sizes     string
	report          string
	n               int
	runs            benchOptInt
	capacity, batch int
	duration, idle  time.Duration
}

// benchOptInt is an int flag that knows whether it was given, so that an
// explicit -runs 0 is refused rather than taken for "the default".
type benchOptInt struct {
	v   int
	set bool
}

func (o *benchOptInt) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.Itoa(o.v)
}

func (o *benchOptInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not a whole number")
	}
	o.v, o.set = v, true
	return nil
}

func init() {
	register(&command{name: "bench", summary: "throughput and latency, side by side with sockets, pipes, channels",
		usage: benchSpec.usage(), run: runBench})
}

// benchConfig is what a bench run measures with, resolved from the flags.
type benchConfig struct {
	runs       int
	duration   time.Duration
	n          int   // fixed messages per run; 0: calibrate
	sizes      []int //
	capacity   int
	batch      int
	cpus       []int // producers on cpus[0], consumers on cpus[1]; empty: not pinned
	quick      bool
	idle       time.Duration
	rttMax     int           // most round trips per latency run
	gapSamples int           // round trips per run of the rows that pause between pings
	gap        time.Duration // that pause
}

// rowSpec is a row of the report: a transport, run at each message size
// (throughput) or once (latency).
type rowSpec struct {
	Key   string // stable name, for JSON
	Label string
	Short string // in "vs best" columns
	group string // shmring, ipc (another process), local (one process), c (reference)

	mode                 string // child -mode, or cref mode
	kind                 ring.Kind
	producers, consumers int
	args                 []string // more child flags
	sizes                []int    // nil: every size
	gap                  time.Duration
	ref                  string // key of the C row of the same size it is compared with
	onlySize             int    // runs only at this size, in a group of its own when -sizes lacks it
	mixed                bool   // runs only in the mixed-sizes group (mixedSize)
	ringCap, ringSlot    int    // the ring's Capacity and SlotSize, when not derived from -capacity and the size
}

// mixedSize stands for the group of mixed message sizes: log-uniform from
// mixedMin to mixedMax bytes, the same sequence for every transport
// (mixedLen). It is not a size any row is measured at otherwise.
const (
	mixedSize = 1
	mixedMin  = 16
	mixedMax  = 64 << 10
)

const (
	groupShm   = "shmring"
	groupIPC   = "ipc"
	groupLocal = "local"
	groupC     = "c"
)

func throughputRows(cfg *benchConfig) []*rowSpec {
	batch := strconv.Itoa(cfg.batch)
	return []*rowSpec{
		{Key: "spsc", Label: "shmring SPSC Push/Pop", group: groupShm, mode: "ring", kind: ring.SPSC, producers: 1, consumers: 1, ref: "c-index"},
		{Key: "spsc-spin", Label: "shmring SPSC Push/Pop, consumer spins", group: groupShm, mode: "ring", kind: ring.SPSC, producers: 1, consumers: 1, args: []string{"-wait", "spin"}, ref: "c-index"},
		{Key: "spsc-batch", Label: "shmring SPSC PushBatch/PopFunc " + batch, group: groupShm, mode: "ring", kind: ring.SPSC, producers: 1, consumers: 1, args: []string{"-batch", batch}, ref: "c-index-batch"},
		{Key: "mpmc", Label: "shmring MPMC Push/Pop, 1P 1C", group: groupShm, mode: "ring", kind: ring.MPMC, producers: 1, consumers: 1, ref: "c-vyukov"},
		{Key: "mpmc-2p2c", Label: "shmring MPMC Push/Pop, 2P 2C", group: groupShm, mode: "ring", kind: ring.MPMC, producers: 2, consumers: 2},
		{Key: "spsc-bytes", Label: "shmring SPSCBytes Push/Pop", group: groupShm, mode: "ring", kind: ring.SPSCBytes, producers: 1, consumers: 1, ref: "c-index"},
		{Key: "mpmc-2p1c", Label: "shmring MPMC Push/Pop, 2P 1C", group: groupShm, mode: "ring", kind: ring.MPMC, producers: 2, consumers: 1, sizes: []int{8, 64}},
		{Key: "mpsc-bytes-2p", Label: "shmring MPSCBytes Push/Pop, 2P 1C", group: groupShm, mode: "ring", kind: ring.MPSCBytes, producers: 2, consumers: 1, sizes: []int{8, 64}},
		{Key: "spsc-bytes-zc", Label: "shmring SPSCBytes Push (a copy), PopFunc", group: groupShm, mode: "ring", kind: ring.SPSCBytes, producers: 1, consumers: 1, args: []string{"-zerocopy"}, onlySize: 64 << 10},
		{Key: "spsc-bytes-reserve", Label: "shmring SPSCBytes Reserve/Commit, PopFunc", group: groupShm, mode: "ring", kind: ring.SPSCBytes, producers: 1, consumers: 1, args: []string{"-reserve", "-zerocopy"}, onlySize: 64 << 10},
		{Key: "conn-shm", Label: "shmnet net.Conn, 1 MiB writes", group: groupShm, mode: "conn", producers: 1, consumers: 1, args: []string{"-net", "shm"}, onlySize: 1 << 20},
		{Key: "conn-unix", Label: "unix socket net.Conn, 1 MiB writes", Short: "unix conn", group: groupIPC, mode: "conn", producers: 1, consumers: 1, args: []string{"-net", "unix"}, onlySize: 1 << 20},
		{Key: "conn-tcp", Label: "TCP loopback net.Conn, 1 MiB writes", Short: "TCP conn", group: groupIPC, mode: "conn", producers: 1, consumers: 1, args: []string{"-net", "tcp"}, onlySize: 1 << 20},
		{Key: "mixed-bytes", Label: "shmring SPSCBytes, 1 MiB of data", group: groupShm, mode: "ring", kind: ring.SPSCBytes, producers: 1, consumers: 1, mixed: true, ringCap: 1 << 20, ringSlot: mixedMax},
		{Key: "mixed-slots", Label: "shmring SPSC, 256 slots of 64 KiB", group: groupShm, mode: "ring", kind: ring.SPSC, producers: 1, consumers: 1, mixed: true, ringCap: 256, ringSlot: mixedMax},
		{Key: "mixed-unix", Label: "unix socket, bufio 64 KiB, length-prefixed", Short: "unix+bufio", group: groupIPC, mode: "unix", producers: 1, consumers: 1, args: []string{"-bufio"}, mixed: true},
		{Key: "mixed-pipe", Label: "pipe, bufio 64 KiB, length-prefixed", Short: "pipe+bufio", group: groupIPC, mode: "pipe", producers: 1, consumers: 1, args: []string{"-bufio"}, mixed: true},
		{Key: "unix", Label: "unix socket, a write per message", Short: "unix", group: groupIPC, mode: "unix", producers: 1, consumers: 1},
		{Key: "unix-bufio", Label: "unix socket, bufio 64 KiB", Short: "unix+bufio", group: groupIPC, mode: "unix", producers: 1, consumers: 1, args: []string{"-bufio"}},
		{Key: "pipe", Label: "pipe, a write per message", Short: "pipe", group: groupIPC, mode: "pipe", producers: 1, consumers: 1},
		{Key: "pipe-bufio", Label: "pipe, bufio 64 KiB", Short: "pipe+bufio", group: groupIPC, mode: "pipe", producers: 1, consumers: 1, args: []string{"-bufio"}},
		{Key: "chan", Label: "Go channel, one process", group: groupLocal, mode: "chan"},
		{Key: "memcpy", Label: "memcpy, one core", group: groupLocal, mode: "memcpy"},
		{Key: "c-index", Label: "C index ring, release store per message", Short: "C index", group: groupC, mode: "index"},
		{Key: "c-index-batch", Label: "C index ring, release store per " + batch, Short: "C index/" + batch, group: groupC, mode: "index-batch"},
		{Key: "c-vyukov", Label: "C Vyukov MPMC, 1P 1C", Short: "C Vyukov", group: groupC, mode: "vyukov", sizes: []int{8, 64}},
		{Key: "c-v1", Label: "shmring v1 protocol in C, per message", group: groupC, mode: "v1", sizes: []int{8, 64}},
	}
}

func latencyRows(cfg *benchConfig) []*rowSpec {
	gap := cfg.gap.String()
	return []*rowSpec{
		{Key: "rtt-spin", Label: "shmring, both sides spin", group: groupShm, mode: "ring-rtt", args: []string{"-wait", "spin"}},
		{Key: "rtt-block", Label: "shmring, blocking (spin, then futex)", group: groupShm, mode: "ring-rtt"},
		{Key: "rtt-block-gap", Label: "shmring, blocking, " + gap + " between pings", group: groupShm, mode: "ring-rtt", args: []string{"-gap", gap}, gap: cfg.gap},
		{Key: "rtt-unix", Label: "unix socket", group: groupIPC, mode: "unix-rtt"},
		{Key: "conn-rtt-shm", Label: "shmnet net.Conn, 64 B", group: groupShm, mode: "conn-rtt", args: []string{"-net", "shm", "-size", "64"}},
		{Key: "conn-rtt-unix", Label: "unix socket net.Conn, 64 B", group: groupIPC, mode: "conn-rtt", args: []string{"-net", "unix", "-size", "64"}},
		{Key: "conn-rtt-tcp", Label: "TCP loopback net.Conn, 64 B", group: groupIPC, mode: "conn-rtt", args: []string{"-net", "tcp", "-size", "64"}},
		{Key: "c-rtt", Label: "C index rings, spinning", group: groupC, mode: "rtt"},
	}
}

// runOrder is the order in which a round runs the rows of a group: the
// rows a target compares as close together as the pairs allow, so that
// both sides of a ratio meet the machine in the same moment. Rows not
// listed run last, in the order of the table.
var runOrder = []string{
	"spsc-bytes", "spsc-spin", "spsc", "c-index", "c-index-batch", "spsc-batch", "memcpy", "unix-bufio",
	"mpmc", "c-vyukov", "mpmc-2p1c", "mpsc-bytes-2p", "mpmc-2p2c", "spsc-bytes-zc", "spsc-bytes-reserve",
	"mixed-bytes", "mixed-unix", "mixed-slots", "mixed-pipe", "c-v1", "unix", "pipe", "pipe-bufio", "chan",
	"conn-shm", "conn-unix", "conn-tcp",
	"rtt-block", "rtt-spin", "c-rtt", "rtt-unix", "conn-rtt-shm", "conn-rtt-unix", "conn-rtt-tcp", "rtt-block-gap",
}

func (r *rowSpec) hasSize(size int) bool {
	switch {
	case r.mixed || size == mixedSize:
		return r.mixed && size == mixedSize
	case r.onlySize != 0:
		return size == r.onlySize
	case r.sizes == nil:
		return true
	}
	for _, s := range r.sizes {
		if s == size {
			return true
		}
	}
	return false
}

// inGroup reports whether the row runs in the group of size: a row of
// every size only at the sizes of -sizes; a row of its own size, or of the
// mixed sizes, in its group.
func (r *rowSpec) inGroup(cfg *benchConfig, size int) bool {
	if !r.hasSize(size) {
		return false
	}
	return r.mixed || r.onlySize != 0 || slices.Contains(cfg.sizes, size)
}

// groupSizes are the sizes of the throughput groups: -sizes, the sizes
// of rows of their own size, and the mixed sizes.
func groupSizes(cfg *benchConfig) []int {
	sizes := append([]int{}, cfg.sizes...)
	for _, r := range throughputRows(cfg) {
		if r.onlySize != 0 && !slices.Contains(sizes, r.onlySize) {
			sizes = append(sizes, r.onlySize)
		}
	}
	return append(sizes, mixedSize)
}

// ringConfig is the ring a row uses at size: its own, or -capacity slots
// of the size; a byte ring gets room for -capacity records of the size
// (at most 16 MiB, at least four of the largest).
func ringConfig(cfg *benchConfig, row *rowSpec, size int) ring.Config {
	if row.ringCap > 0 {
		return ring.Config{Kind: row.kind, Capacity: row.ringCap, SlotSize: row.ringSlot}
	}
	if row.kind == ring.SPSCBytes || row.kind == ring.MPSCBytes {
		need := min(cfg.capacity*((8+size+7)&^7), 16<<20)
		c := 64
		for c < need || c < 4*size {
			c *= 2
		}
		return ring.Config{Kind: row.kind, Capacity: c, SlotSize: size}
	}
	return ring.Config{Kind: row.kind, Capacity: cfg.capacity, SlotSize: size}
}

// processes is how many processes move the messages (0 for the rows
// measured in one process).
func (r *rowSpec) processes() int { return r.producers + r.consumers }

// runResult is one run: N messages in Ns nanoseconds (throughput), or N
// round trips with their percentiles (latency).
type runResult struct {
	N    int   `json:"n"`
	Ns   int64 `json:"ns,omitempty"`
	P50  int64 `json:"p50_ns,omitempty"`
	P99  int64 `json:"p99_ns,omitempty"`
	P999 int64 `json:"p999_ns,omitempty"`
	Min  int64 `json:"min_ns,omitempty"`
	Max  int64 `json:"max_ns,omitempty"`
}

// rate is messages per second.
func (r runResult) rate() float64 {
	if r.Ns <= 0 {
		return math.NaN()
	}
	return float64(r.N) / float64(r.Ns) * 1e9
}

// benchCell is one row at one size while it is measured.
type benchCell interface {
	name() string
	start() error
	run(n int) (runResult, error)
	stop() error
}

// measurement is a cell and what came of it.
type measurement struct {
	row     *rowSpec
	size    int
	cell    benchCell
	latency bool
	n       int
	runs    []runResult // one per round; N == 0 where that run failed
	err     error
}

func runBench(args []string, stdout, stderr io.Writer) int {
	f, _, status, ok := benchSpec.parse(args, 0, 0, stdout, stderr)
	if !ok {
		return status
	}
	if f.report != "" {
		return printSavedReport(f.report, stdout, stderr)
	}
	cfg, err := resolveBench(f)
	if err != nil {
		fmt.Fprintf(stderr, "shmring bench: %v\n\n%s", err, benchSpec.usage())
		return statusBadArgs
	}
	rep := runBenchWith(cfg, stderr)
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return failf(stderr, "bench", "%v", err)
		}
	} else {
		writeReport(stdout, rep)
	}
	if len(rep.Errors) > 0 {
		for _, e := range rep.Errors {
			fmt.Fprintf(stderr, "shmring bench: %s\n", e)
		}
		return statusFailed
	}
	return statusOK
}

// printSavedReport prints the table of a report saved with -json.
func printSavedReport(path string, stdout, stderr io.Writer) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return failf(stderr, "bench", "%v", err)
	}
	var rep benchReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return failf(stderr, "bench", "%s: %v", path, err)
	}
	writeReport(stdout, &rep)
	return statusOK
}

func resolveBench(f *benchFlags) (*benchConfig, error) {
	cfg := &benchConfig{
		runs: 5, duration: 200 * time.Millisecond, idle: 2 * time.Second, rttMax: 100_000,
		gapSamples: 400, gap: time.Millisecond, n: f.n, capacity: f.capacity, batch: f.batch, quick: f.quick,
	}
	if f.quick {
		cfg.runs, cfg.duration, cfg.idle, cfg.rttMax, cfg.gapSamples = 3, 50*time.Millisecond, time.Second, 20_000, 100
	}
	if f.runs.set {
		cfg.runs = f.runs.v
	}
	if f.duration != 0 {
		cfg.duration = f.duration
	}
	if f.idle != 0 {
		cfg.idle = f.idle
	}
	switch {
	case cfg.runs < 1:
		return nil, fmt.Errorf("-runs %d: need at least 1", cfg.runs)
	case cfg.duration <= 0:
		return nil, fmt.Errorf("-duration %v: need a positive duration", cfg.duration)
	case f.n < 0:
		return nil, fmt.Errorf("-n %d: need a positive count", f.n)
	case cfg.capacity < 2 || cfg.capacity&(cfg.capacity-1) != 0:
		return nil, fmt.Errorf("-capacity %d: need a power of two, at least 2", cfg.capacity)
	case cfg.batch < 1:
		return nil, fmt.Errorf("-batch %d: need at least 1", cfg.batch)
	}
	if f.n > 0 {
		cfg.gapSamples = min(cfg.gapSamples, f.n)
	}
	for _, s := range strings.Split(f.sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 8 || n > 1<<24 {
			return nil, fmt.Errorf("-sizes: bad size %q (want 8 to 16777216 bytes)", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	if err := checkBenchMemory(cfg); err != nil {
		return nil, err
	}
	switch f.cpus {
	case "":
		aff, err := affinity()
		if err != nil {
			return nil, err
		}
		if len(aff) >= 2 {
			cfg.cpus = aff[:2]
		}
	case "none":
	default:
		cpus, err := parseCPUList(f.cpus)
		if err != nil {
			return nil, fmt.Errorf("-cpus: %v", err)
		}
		cfg.cpus = cpus
	}
	return cfg, nil
}

// benchGroup is rows measured together: one message size, or the round
// trips. Its cells are all started before its first round, and each round
// runs every cell once, back to back.
type benchGroup struct {
	name   string // "8-byte messages", "round trips"
	size   int    // message size; 0: the round trips
	ms     []*measurement
	rounds []roundInfo
}

// runBenchWith measures everything and returns the report.
func runBenchWith(cfg *benchConfig, stderr io.Writer) *benchReport {
	rep := &benchReport{Machine: readMachine(), Config: reportConfigOf(cfg)}
	prog := newProgress(stderr)
	use0, useErr := readCPUUse()

	prog.note("building the C reference")
	cr := buildCref()
	defer cr.cleanup()
	rep.CRef = cr

	tpRows, latRows := throughputRows(cfg), latencyRows(cfg)
	var groups []*benchGroup
	for _, size := range groupSizes(cfg) {
		g := &benchGroup{name: sizeName(size) + " messages", size: size}
		for _, row := range tpRows {
			if !row.inGroup(cfg, size) || row.group == groupC && !cr.Available {
				continue
			}
			m := &measurement{row: row, size: size}
			if row.group == groupC {
				m.cell = &crefCell{row: row, size: size, cfg: cfg, bin: cr.path}
			} else {
				m.cell = &transferCell{row: row, size: size, cfg: cfg}
			}
			g.ms = append(g.ms, m)
		}
		groups = append(groups, g)
	}
	lat := &benchGroup{name: groupRoundTrips}
	for _, row := range latRows {
		if row.group == groupC && !cr.Available {
			continue
		}
		m := &measurement{row: row, size: 8, latency: true}
		if row.group == groupC {
			m.cell = &crefCell{row: row, size: 8, cfg: cfg, bin: cr.path}
		} else {
			m.cell = &latencyCell{row: row, cfg: cfg}
		}
		lat.ms = append(lat.ms, m)
	}
	groups = append(groups, lat)
	var probe func() (float64, error)
	if cr.Available {
		probe = func() (float64, error) { return cr.probe(cfg) }
	}
	prog.total = 1 // the idle consumer
	for _, g := range groups {
		prog.total += len(g.ms) * (cfg.runs + 1)
		if probe != nil {
			prog.total += cfg.runs
		}
	}

	var all []*measurement
	for _, g := range groups {
		measureGroup(cfg, g, prog, probe)
		all = append(all, g.ms...)
		rep.Rounds = append(rep.Rounds, g.rounds...)
	}
	// Alone, so that its wake-ups disturb no other measurement.
	prog.step("idle consumer, %v", cfg.idle)
	rep.Idle = measureIdle(cfg, cfg.idle)
	prog.done()
	if use1, err := readCPUUse(); err == nil && useErr == nil {
		rep.Machine.OtherLoad, rep.Machine.Steal = otherLoad(use0, use1)
	}
	buildReport(rep, cfg, all)
	return rep
}

// groupRoundTrips names the group of the latency rows.
const groupRoundTrips = "round trips"

// measureGroup starts every cell of a group, calibrates each, runs the
// interleaved rounds and stops them. Each round begins with the probe, when
// there is one (the C index ring: how fast the machine is in this minute),
// then runs every cell once, in runOrder, forward in even rounds and
// backward in odd ones: the compared rows stay next to each other, and each
// of a pair runs first in half of the rounds.
func measureGroup(cfg *benchConfig, g *benchGroup, prog *progress, probe func() (float64, error)) {
	for _, m := range g.ms {
		prog.step("%s: starting and calibrating %s", g.name, m.row.Label)
		if m.err = m.cell.start(); m.err != nil {
			continue
		}
		if m.latency {
			m.n, m.err = calibrateLatency(cfg, m)
		} else {
			m.n, m.err = calibrateThroughput(cfg, m.cell)
		}
		if m.err != nil {
			_ = m.cell.stop()
		}
	}
	keys := make([]string, len(g.ms))
	for i, m := range g.ms {
		keys[i] = m.row.Key
	}
	order := sortedByRunOrder(keys)
	for round := 0; round < cfg.runs; round++ {
		ri := roundInfo{Group: g.name, Size: g.size, Round: round + 1, AtNs: time.Since(prog.start).Nanoseconds()}
		if probe != nil {
			prog.step("%s: round %d/%d, probe", g.name, round+1, cfg.runs)
			ns, err := probe()
			ri.Probe = jsonNumber(ns)
			if err != nil {
				ri.Probe, ri.ProbeError = jsonNumber(math.NaN()), err.Error()
			}
		} else {
			ri.Probe = jsonNumber(math.NaN())
		}
		for _, k := range roundOrder(order, round) {
			m := g.ms[k]
			ri.Order = append(ri.Order, m.row.Key)
			prog.step("%s: %s, run %d/%d", g.name, m.row.Label, round+1, cfg.runs)
			if m.err != nil {
				m.runs = append(m.runs, runResult{})
				continue
			}
			r, err := m.cell.run(m.n)
			if err != nil {
				m.err = err
				_ = m.cell.stop()
			}
			m.runs = append(m.runs, r)
		}
		g.rounds = append(g.rounds, ri)
		prog.round(g.name, round+1, cfg.runs, float64(ri.Probe))
	}
	for _, m := range g.ms {
		if m.err == nil {
			m.err = m.cell.stop()
		}
	}
}

// sortedByRunOrder returns the indexes of keys in runOrder: the listed keys
// first, as listed, then the others in their order in keys.
func sortedByRunOrder(keys []string) []int {
	rank := func(k string) int {
		if i := slices.Index(runOrder, k); i >= 0 {
			return i
		}
		return len(runOrder)
	}
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return rank(keys[a]) - rank(keys[b]) })
	return idx
}

// calibrateThroughput sizes a cell's runs to about cfg.duration: it runs
// growing counts until one run takes an eighth of that, and scales. With a
// fixed -n it runs once, to warm up. Either way the ring's pages and the
// caches are warm before the first run that counts.
func calibrateThroughput(cfg *benchConfig, c benchCell) (int, error) {
	if cfg.n > 0 {
		_, err := c.run(cfg.n)
		return cfg.n, err
	}
	target := cfg.duration.Nanoseconds()
	n := 2048
	for {
		r, err := c.run(n)
		if err != nil {
			return 0, err
		}
		if r.Ns >= target/8 || n >= 1<<28 {
			return int(min(max(r.rate()*float64(target)/1e9, 1000), 1<<30)), nil
		}
		grow := float64(target/4) / float64(max(r.Ns, 1))
		n = int(float64(n) * min(max(grow, 2), 64))
	}
}

// calibrateLatency sizes a latency cell's runs: as many round trips as fit
// in cfg.duration, between 1000 and cfg.rttMax; a fixed count for the rows
// that pause between pings.
func calibrateLatency(cfg *benchConfig, m *measurement) (int, error) {
	if m.row.gap > 0 {
		_, err := m.cell.run(min(cfg.gapSamples, 20))
		return cfg.gapSamples, err
	}
	pilot := 1000
	if cfg.n > 0 {
		pilot = min(cfg.n, pilot)
	}
	r, err := m.cell.run(pilot)
	if err != nil || cfg.n > 0 {
		return cfg.n, err
	}
	n := cfg.duration.Nanoseconds() / max(r.P50, 1)
	return int(min(max(n, 1000), int64(cfg.rttMax))), nil
}

// progress is the line on stderr that says what bench is doing: rewritten
// in place on a terminal, one line per round otherwise.
type progress struct {
	w            io.Writer
	tty          bool
	total, count int
	start        time.Time
	width        int
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		p.tty = isTerminal(f)
	}
	return p
}

func (p *progress) line(s string) {
	if p.tty {
		pad := max(p.width-len(s), 0)
		fmt.Fprintf(p.w, "\r%s%s", s, strings.Repeat(" ", pad))
		p.width = len(s)
	} else {
		fmt.Fprintln(p.w, s)
	}
}

func (p *progress) note(s string) {
	if p.tty {
		p.line("bench: " + s)
	}
}

// step counts one start or run; on a terminal it shows it.
func (p *progress) step(format string, a ...any) {
	p.count++
	if p.tty {
		p.line(fmt.Sprintf("bench [%3d%%] %4.0fs %s", 100*p.count/max(p.total, 1), time.Since(p.start).Seconds(), fmt.Sprintf(format, a...)))
	}
}

func (p *progress) round(what string, r, runs int, probe float64) {
	if !p.tty {
		s := fmt.Sprintf("bench: %s, round %d/%d done (%.0fs)", what, r, runs, time.Since(p.start).Seconds())
		if !math.IsNaN(probe) {
			s += fmt.Sprintf("; probe %s ns/msg", fmtSig(probe))
		}
		p.line(s)
	}
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	} else {
		p.line(fmt.Sprintf("bench: done in %.0fs", time.Since(p.start).Seconds()))
	}
}

// oversubscribed reports whether a row has more busy processes than CPUs:
// then they spin, then yield (sched_yield), and take turns.
func oversubscribed(cfg *benchConfig, row *rowSpec) bool {
	cpus := len(cfg.cpus)
	if cpus == 0 {
		cpus = runtime.NumCPU()
	}
	return row.processes() > cpus
}
