package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	helpers["bench-child"] = func() int { return runBenchChild(os.Args[1:], os.Stdout, os.Stderr) }
}

// useTestChildren makes bench start this test binary as its children.
func useTestChildren(t *testing.T) {
	old := benchChildCommand
	benchChildCommand = func(args []string) (*exec.Cmd, error) {
		cmd := exec.Command(os.Args[0], args...)
		race := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
		cmd.Env = append(os.Environ(), helperEnv+"=bench-child", "GORACE="+race)
		return cmd, nil
	}
	t.Cleanup(func() { benchChildCommand = old })
}

// TestBenchEndToEnd runs the whole bench as -quick does, with tiny runs,
// through real child processes, and checks that every row is there (the C
// index ring's at every size), that every round has its probe, that the
// targets are taken round by round, and that the JSON parses. It asserts
// nothing about speed.
func TestBenchEndToEnd(t *testing.T) {
	useTestChildren(t)
	var out, errb bytes.Buffer
	code := run([]string{"bench", "-quick", "-json", "-n", "300", "-idle", "50ms"}, &out, &errb)
	require.Equal(t, statusOK, code, "stderr:\n%s\nstdout:\n%s", errb.String(), out.String())

	var rep benchReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	assert.Empty(t, rep.Errors)
	assert.NotEmpty(t, rep.Machine.CPU)
	assert.True(t, rep.Config.Quick)
	const rounds = 3 // -quick: fewer rounds, never fewer rows
	assert.Equal(t, rounds, rep.Config.Runs)
	assert.Equal(t, []int{8, 64, 1024, 16384}, rep.Config.Sizes)
	require.NotNil(t, rep.CRef)
	haveC := rep.CRef.Available
	cfg := &benchConfig{batch: 32, gap: 1, sizes: rep.Config.Sizes}
	groupKeys := map[string][]string{}
	for _, size := range groupSizes(cfg) {
		for _, row := range throughputRows(cfg) {
			if !row.inGroup(cfg, size) || row.group == groupC && !haveC {
				continue
			}
			groupKeys[sizeName(size)+" messages"] = append(groupKeys[sizeName(size)+" messages"], row.Key)
			r := rep.tp(row.Key, size)
			if assert.NotNil(t, r, "row %s %d", row.Key, size) {
				assert.Len(t, r.Runs, rounds, "row %s %d", row.Key, size)
				assert.Equal(t, rounds, r.MsgsPerSec.N, "row %s %d", row.Key, size)
				assert.Positive(t, r.MBPerSec.Median)
				if row.group == groupShm && rep.bestIPC(size) != nil {
					assert.NotNil(t, r.VsBest, "row %s %d", row.Key, size)
				}
				if row.ref != "" && rep.tp(row.ref, size) != nil {
					if assert.NotNil(t, r.VsRef, "row %s %d", row.Key, size) {
						assert.Equal(t, row.ref, r.VsRef.Against)
						assert.Equal(t, rounds, r.VsRef.Ratio.N)
					}
				}
			}
		}
		if haveC && slices.Contains(rep.Config.Sizes, size) {
			for _, key := range []string{"c-index", "c-index-batch"} {
				assert.NotNil(t, rep.tp(key, size), "the index ring runs at every size: %s %d", key, size)
			}
		}
	}
	for _, row := range latencyRows(cfg) {
		if row.group == groupC && !haveC {
			continue
		}
		groupKeys[groupRoundTrips] = append(groupKeys[groupRoundTrips], row.Key)
		r := rep.lat(row.Key)
		if assert.NotNil(t, r, "row %s", row.Key) {
			assert.Equal(t, rounds, r.P50.N, "row %s", row.Key)
			assert.LessOrEqual(t, r.P50.Median, r.P99.Median)
		}
	}

	// Every group has its rounds, each with its probe and every row of the
	// group run once.
	require.Len(t, rep.Rounds, len(groupKeys)*rounds)
	perGroup := map[string]int{}
	for _, ri := range rep.Rounds {
		perGroup[ri.Group]++
		assert.Equal(t, perGroup[ri.Group], ri.Round, "%s", ri.Group)
		assert.ElementsMatch(t, groupKeys[ri.Group], ri.Order, "%s round %d", ri.Group, ri.Round)
		if haveC {
			assert.Positive(t, float64(ri.Probe), "%s round %d: %s", ri.Group, ri.Round, ri.ProbeError)
		} else {
			assert.True(t, math.IsNaN(float64(ri.Probe)))
		}
	}
	assert.Equal(t, 1000000, rep.Config.ProbeMessages)

	assert.True(t, rep.Idle.Available, rep.Idle.Error)
	keys := map[string]target{}
	for _, tg := range rep.Targets {
		keys[tg.Key] = tg
		if tg.Note != "no C reference" {
			assert.NotNil(t, tg.Met, "target %s", tg.Key)
		}
		if tg.Unit == "x" && tg.Met != nil && tg.Key != "mixed-memory" { // memory is one figure, not per round
			assert.Len(t, tg.Rounds, rounds, "target %s: one ratio per round", tg.Key)
			assert.Contains(t, groupKeys, tg.Group, "target %s", tg.Key)
		}
	}
	for _, spec := range ratioTargets(32) {
		assert.Contains(t, keys, spec.key)
	}
	for _, k := range []string{"spsc-vs-index-8", "spsc-vs-index-64", "spsc-batch-vs-index-batch-8", "spsc-vs-unix-bufio",
		"spsc-1k-vs-memcpy", "spsc-msg-1k-vs-memcpy", "mpmc-vs-vyukov-8", "mpmc-vs-vyukov-64", "rtt-spin-vs-c",
		"block-vs-spin", "idle-cpu", "bytes-vs-spsc-8", "bytes-vs-spsc-64", "mpsc-vs-mpmc-2p1c-64", "mixed-bytes-vs-unix",
		"reserve-vs-push-64k", "mixed-memory"} {
		assert.Contains(t, keys, k)
	}
	if haveC {
		assert.Equal(t, "8-byte messages", keys["spsc-vs-index-8"].Group)
		assert.NotNil(t, keys["spsc-vs-index-8"].Met)
	}

	// The table from the same figures names every row, and prints the rounds.
	var text bytes.Buffer
	writeReport(&text, &rep)
	for _, r := range rep.Throughput {
		assert.Contains(t, text.String(), r.Label)
	}
	for _, r := range rep.Latency {
		assert.Contains(t, text.String(), r.Label)
	}
	assert.Contains(t, text.String(), "oversubscribed*")
	assert.NotContains(t, text.String(), "failed")
	assert.Contains(t, text.String(), "Rounds: each starts with a probe")
	assert.Contains(t, text.String(), "  probe, ns/msg")
	if haveC {
		assert.Contains(t, text.String(), "C index ring, release store per message")
		assert.Contains(t, text.String(), "    spsc-vs-index-8")
	}

	// -report prints the same table from the saved JSON.
	saved := t.TempDir() + "/bench.json"
	require.NoError(t, os.WriteFile(saved, out.Bytes(), 0o600))
	var again bytes.Buffer
	require.Equal(t, statusOK, run([]string{"bench", "-report", saved}, &again, &errb))
	assert.Equal(t, text.String(), again.String())
}

// A broken transport must fail the run, not report a speed.
func TestCheckerCatchesBadMessages(t *testing.T) {
	msg := func(size int, v uint64) []byte {
		m := make([]byte, size)
		stamp(m, v)
		return m
	}
	t.Run("good", func(t *testing.T) {
		c := &checker{size: 16, producers: 1, strict: true, last: 2}
		for i := uint64(0); i < 3; i++ {
			assert.False(t, c.check(msg(16, i)))
		}
		assert.Zero(t, c.errs)
		assert.EqualValues(t, 3, c.count)
		assert.EqualValues(t, 3, c.sum)
		assert.NotZero(t, c.tlast)
		_, err := c.reply()
		assert.NoError(t, err)
	})
	t.Run("expected: the common case in line, the last message and the rest to check", func(t *testing.T) {
		for _, size := range []int{8, 16, 64} {
			c := &checker{size: size, producers: 1, strict: true, last: 2}
			assert.True(t, c.expected(msg(size, 0)))
			assert.True(t, c.expected(msg(size, 1)))
			assert.False(t, c.expected(msg(size, 2)), "the last message: check notes its time")
			assert.False(t, c.check(msg(size, 2)))
			assert.False(t, c.expected(msg(size+8, 3)), "another size")
			assert.False(t, c.expected(msg(size, 5)), "a gap")
			assert.EqualValues(t, 3, c.count)
			assert.EqualValues(t, 3, c.sum)
			assert.NotZero(t, c.tlast)
		}
		several := &checker{size: 16, producers: 2, last: 9}
		assert.False(t, several.expected(msg(16, 0)), "several producers: check's rules")
	})
	cases := map[string][][]byte{
		"duplicate": {msg(16, 0), msg(16, 0)},
		"gap":       {msg(16, 0), msg(16, 2)},
		"torn":      {append(msg(8, 0), msg(8, 9)...)},
		"short":     {msg(8, 0)},
		"foreign":   {msg(16, 5<<seqBits)},
	}
	for name, msgs := range cases {
		t.Run(name, func(t *testing.T) {
			c := &checker{size: 16, producers: 1, strict: true, last: 9}
			for _, m := range msgs {
				if !c.expected(m) { // as the consumer loops check
					c.check(m)
				}
			}
			assert.NotZero(t, c.errs)
			_, err := c.reply()
			assert.Error(t, err)
		})
	}
	t.Run("several consumers: gaps allowed, order not", func(t *testing.T) {
		c := &checker{size: 8, producers: 2, last: 9}
		c.check(msg(8, 0))
		c.check(msg(8, 3))
		c.check(msg(8, 1<<seqBits|2))
		assert.Zero(t, c.errs)
		c.check(msg(8, 1))
		assert.EqualValues(t, 1, c.errs)
		assert.True(t, c.check(msg(8, markerWord)))
	})
	assert.Error(t, verifyCount("x", 10, 2, 19, 90, 0, false))
	assert.Error(t, verifyCount("x", 10, 2, 20, 89, 0, false))
	assert.NoError(t, verifyCount("x", 10, 2, 20, 90, 0, false))
}

// Each round runs the rows in runOrder: a target's two rows side by side.
func TestRunOrder(t *testing.T) {

	for _, tt := range []struct {
		keys []string
		want []int
	}{
		{[]string{"c-index", "spsc", "other", "spsc-spin"}, []int{3, 1, 0, 2}},
		{[]string{"b", "a"}, []int{0, 1}}, // unlisted: as given
		{[]string{"c-rtt", "rtt-spin", "rtt-block"}, []int{2, 1, 0}},
	} {
		assert.Equal(t, tt.want, sortedByRunOrder(tt.keys), "%v", tt.keys)
	}
	// Each target's two rows are listed, so none runs in the unordered tail.
	for _, spec := range ratioTargets(32) {
		assert.Contains(t, runOrder, spec.a, spec.key)
		assert.Contains(t, runOrder, spec.b, spec.key)
	}
}

func TestMeets(t *testing.T) {
	for _, tt := range []struct {
		v     float64
		op    string
		bound float64
		want  bool
	}{
		{0.9, ">=", 0.9, true}, {0.89, ">=", 0.9, false},
		{1.15, "<=", 1.15, true}, {1.16, "<=", 1.15, false},
		{0.99, "<", 1, true}, {1, "<", 1, false},
	} {
		assert.Equal(t, tt.want, targetMet(tt.v, tt.op, tt.bound), "%v %s %v", tt.v, tt.op, tt.bound)
	}
}

func TestSaturating(t *testing.T) {
	assert.Equal(t, uint64(7), satAdd(3, 4))
	assert.Equal(t, uint64(math.MaxUint64), satAdd(math.MaxUint64, 1))
	assert.Equal(t, uint64(12), satMul(3, 4))
	assert.Equal(t, uint64(math.MaxUint64), satMul(1<<40, 1<<30))
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{"0": {0}, "0,1": {0, 1}, "2-4": {2, 3, 4}, "1,4-5,1": {1, 4, 5}} {
		got, err := parseCPUList(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		again, err := parseCPUList(formatCPUList(got))
		require.NoError(t, err)
		assert.Equal(t, got, again)
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "1,,2", "5000"} {
		_, err := parseCPUList(bad)
		assert.Error(t, err, bad)
	}
}

func TestResolveBenchFlags(t *testing.T) {
	useTestChildren(t) // should a bad flag be taken for a good one
	var out, errb bytes.Buffer
	assert.Equal(t, statusOK, run([]string{"bench", "-h"}, &out, &errb))
	assert.Contains(t, out.String(), "-quick")
	for _, bad := range [][]string{
		{"-runs", "-1"}, {"-runs", "0"}, {"-runs", "x"}, {"-n", "-5"}, {"-sizes", "4"}, {"-cpus", "x"}, {"extra"},
		{"-capacity", "1000"},                // not a power of two
		{"-capacity", "1073741824"},          // 2^30 slots of 16 KiB: terabytes
		{"-capacity", "4611686018427387904"}, // beyond what a ring's layout holds
	} {
		errb.Reset()
		assert.Equal(t, statusBadArgs, run(append([]string{"bench"}, bad...), &out, &errb), bad)
		assert.Contains(t, errb.String(), "usage:", bad)
		assert.Contains(t, errb.String(), bad[0], bad)
	}
	errb.Reset()
	run([]string{"bench", "-capacity", "1073741824"}, &out, &errb)
	assert.Contains(t, errb.String(), "the 16 KiB rows need", "names the rows and the memory")

	need, which, err := benchMemoryNeed(&benchConfig{capacity: 4096, sizes: []int{8, 16384}, batch: 32})
	require.NoError(t, err)
	assert.Equal(t, "16 KiB", which)
	assert.Greater(t, need, uint64(5*4096*16384), "five rings of 4096 16 KiB slots, and more")
	assert.Less(t, need, uint64(1<<30))
	f := &benchFlags{quick: true, sizes: "8,64", capacity: 4096, batch: 32, cpus: "none"}
	cfg, err := resolveBench(f)
	require.NoError(t, err)
	assert.Equal(t, 3, cfg.runs)
	assert.Equal(t, []int{8, 64}, cfg.sizes)
	assert.Empty(t, cfg.cpus)
	f.runs = benchOptInt{v: 7, set: true}
	cfg, err = resolveBench(f)
	require.NoError(t, err)
	assert.Equal(t, 7, cfg.runs, "-runs wins over -quick")
}

// A report with known figures prints them, the ratios and the marks.
func TestWriteReport(t *testing.T) {
	cfg := &benchConfig{runs: 3, duration: 1, sizes: []int{8}, capacity: 4096, batch: 32, cpus: []int{0, 1}, gap: 1}
	rows := throughputRows(cfg)
	find := func(key string) *rowSpec {
		for _, r := range rows {
			if r.Key == key {
				return r
			}
		}
		t.Fatalf("no row %s", key)
		return nil
	}
	ms := []*measurement{
		{row: find("spsc"), size: 8, runs: runs(10_000, 20_000, 40_000)},            // 100, 50, 25 M/s
		{row: find("unix-bufio"), size: 8, runs: runs(100_000, 100_000, 100_000)},   // 10 M/s
		{row: find("pipe"), size: 8, runs: runs(1_000_000, 1_000_000, 1_000_000)},   // 1 M/s
		{row: find("mpmc-2p2c"), size: 8, runs: runs(50_000, 50_000, 50_000)},       // 20 M/s
		{row: find("chan"), size: 8, runs: []runResult{{}, {}, {}}, err: errTest{}}, // failed
	}
	rep := &benchReport{Machine: machineInfo{CPU: "Test CPU", Cores: 2}, Config: reportConfigOf(cfg),
		CRef: &crefInfo{Reason: "no C compiler (cc) in PATH"}, Idle: idleResult{Available: true, CPUNs: 1e6, WallNs: 2e9, CPUPct: 0.05}}
	buildReport(rep, cfg, ms)

	spsc := rep.tp("spsc", 8)
	require.NotNil(t, spsc)
	assert.Equal(t, 50e6, spsc.MsgsPerSec.Median)
	assert.Equal(t, 25e6, spsc.MsgsPerSec.Min)
	assert.Equal(t, 400.0, spsc.MBPerSec.Median)
	require.NotNil(t, spsc.VsBest)
	assert.Equal(t, "unix-bufio", spsc.VsBest.Against)
	assert.Equal(t, 5.0, spsc.VsBest.Ratio.Median)
	assert.True(t, rep.tp("mpmc-2p2c", 8).Oversubscribed)
	require.Len(t, rep.Errors, 1)

	var b bytes.Buffer
	writeReport(&b, rep)
	s := b.String()
	for _, want := range []string{
		"Test CPU, 2 cores",
		"producers on CPU 0, consumers on CPU 1",
		"C references: no C compiler",
		"8-byte messages",
		"shmring SPSC Push/Pop",
		"50.0 M (25.0–100)",
		"5.00× unix+bufio",
		"MPMC Push/Pop, 2P 2C oversubscribed*",
		"* oversubscribed",
		"Go channel, one process",
		"failed: test failure",
		"✓ SPSC Push/Pop ÷ unix socket with bufio, 8 B",
		"? SPSC Push/Pop ÷ C index ring per message, 8 B",
		"(no C reference)",
		"✓ idle consumer blocked in Pop",
		"0.050%",
	} {
		assert.Contains(t, s, want)
	}
	js, err := json.Marshal(rep)
	require.NoError(t, err, "NaN figures must marshal")
	var back benchReport
	require.NoError(t, json.Unmarshal(js, &back))
	assert.True(t, math.IsNaN(back.tp("chan", 8).MsgsPerSec.Median))
}

// Against the index ring, a target is the median of the per-round ratios,
// not the ratio of the medians; the rounds table shows each round's probe
// beside its ratios.
func TestReportAgainstIndexRing(t *testing.T) {
	cfg := &benchConfig{runs: 3, duration: 1, sizes: []int{8}, capacity: 4096, batch: 32, cpus: []int{0, 1}, gap: 1}
	ms := []*measurement{
		{row: rowByKey(cfg, "spsc"), size: 8, runs: runs(10_000, 20_000, 40_000)},   // 100, 50, 25 M/s
		{row: rowByKey(cfg, "c-index"), size: 8, runs: runs(2_500, 20_000, 20_000)}, // 400, 50, 50 M/s
	}
	rep := &benchReport{Machine: machineInfo{CPU: "Test CPU", Cores: 2}, Config: reportConfigOf(cfg),
		CRef: &crefInfo{Available: true, Compiler: "cc 1.0"}}
	for i, probe := range []float64{2, 12, 2.5} {
		rep.Rounds = append(rep.Rounds, roundInfo{Group: "8-byte messages", Size: 8, Round: i + 1,
			AtNs: int64(i) * 1e9, Probe: jsonNumber(probe), Order: []string{"spsc", "c-index"}})
	}
	buildReport(rep, cfg, ms)

	var tg *target
	for i := range rep.Targets {
		if rep.Targets[i].Key == "spsc-vs-index-8" {
			tg = &rep.Targets[i]
		}
	}
	require.NotNil(t, tg)
	assert.Equal(t, figures{0.25, 1, 0.5}, tg.Rounds)
	assert.Equal(t, summary{Median: 0.5, Min: 0.25, Max: 1, N: 3}, tg.Value, "the medians' ratio would be 1")
	assert.Equal(t, "8-byte messages", tg.Group)
	require.NotNil(t, tg.Met)
	assert.False(t, *tg.Met)
	spsc := rep.tp("spsc", 8)
	require.NotNil(t, spsc.VsRef)
	assert.Equal(t, "c-index", spsc.VsRef.Against)
	assert.Equal(t, 0.5, spsc.VsRef.Ratio.Median)

	var b bytes.Buffer
	writeReport(&b, rep)
	s := b.String()
	for _, want := range []string{
		"C references: tools/cref/cref.c, cc 1.0, -O2",
		"0.500× C index",
		"✗ SPSC Push/Pop ÷ C index ring per message, 8 B",
		"0.500× (0.250×–1.00×)",
		"(not measured)", // 64 B
		"Rounds: each starts with a probe, the C index ring moving 1000000 8-byte messages",
	} {
		assert.Contains(t, s, want)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		lines[strings.Fields(l + " x")[0]] = l
	}
	assert.Regexp(t, `^  starts at +0\.0s +1\.0s +2\.0s$`, lines["starts"])
	assert.Regexp(t, `^  probe, ns/msg +2\.00 +12\.0 +2\.50$`, lines["probe,"])
	assert.Regexp(t, `^    spsc-vs-index-8 +0\.250× +1\.00× +0\.500×$`, lines["spsc-vs-index-8"])

	js, err := json.Marshal(rep)
	require.NoError(t, err)
	var back benchReport
	require.NoError(t, json.Unmarshal(js, &back))
	assert.Equal(t, rep.Rounds, back.Rounds)
	again, err := json.Marshal(&back)
	require.NoError(t, err)
	assert.JSONEq(t, string(js), string(again), "the JSON report reads back as written (NaN as null)")
}

// One of a thing is one: "1 run", not "1 runs".
func TestReportGrammar(t *testing.T) {
	cfg := &benchConfig{runs: 1, n: 1, duration: 1, sizes: []int{8}, capacity: 2, batch: 32, gap: 1}
	rep := &benchReport{Machine: machineInfo{CPU: "Test CPU", Cores: 1}, Config: reportConfigOf(cfg),
		Idle: idleResult{Available: true, CPUNs: 1e6, WallNs: 2e9, CPUPct: 0.05, Switches: 1}}
	buildReport(rep, cfg, nil)
	var b bytes.Buffer
	writeReport(&b, rep)
	s := b.String()
	for _, want := range []string{"1 core,", "rings of 2 slots", "each figure from 1 run (1 message per run)", "slept 1 time)"} {
		assert.Contains(t, s, want)
	}
	assert.NotRegexp(t, `\b1 [a-z]+s\b`, s)
	assert.Equal(t, "2 producers", benchCount(2, "producer"))
	assert.Equal(t, "1 consumer", benchCount(1, "consumer"))
	assert.Equal(t, "0 rounds", benchCount(0, "round"))
}

type errTest struct{}

func (errTest) Error() string { return "test failure" }

func TestFormatting(t *testing.T) {
	for v, want := range map[float64]string{0.1234: "0.123", 1.234: "1.23", 12.34: "12.3", 123.4: "123", 12345: "12345", math.NaN(): "–"} {
		assert.Equal(t, want, fmtSig(v))
	}
	for v, want := range map[float64]string{190: "190 ns", 54_100: "54.1 µs", 1_230_000: "1.23 ms"} {
		assert.Equal(t, want, fmtNs(v))
	}
	assert.Equal(t, "(160–170 ns)", fmtNsRange(160, 170))
	assert.Equal(t, "(0.900–1.10 µs)", fmtNsRange(900, 1100))
	u, d := siUnit(41.2e6)
	assert.Equal(t, "M", u)
	assert.Equal(t, 1e6, d)
	assert.Equal(t, "1 KiB", sizeName(1024))
	assert.Equal(t, "64-byte", sizeName(64))
}

// runs are results of 1000 messages each, taking ns nanoseconds.
func runs(ns ...int64) []runResult {
	r := make([]runResult, len(ns))
	for i, v := range ns {
		r[i] = runResult{N: 1000, Ns: v}
	}
	return r
}
