package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
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

// TestBenchEndToEnd runs the whole bench, tiny, through real child
// processes, and checks that every row is there and the JSON parses. It
// asserts nothing about speed.
func TestBenchEndToEnd(t *testing.T) {
	useTestChildren(t)
	var out, errb bytes.Buffer
	code := run([]string{"bench", "-json", "-n", "300", "-runs", "2", "-idle", "50ms"}, &out, &errb)
	require.Equal(t, statusOK, code, "stderr:\n%s\nstdout:\n%s", errb.String(), out.String())

	var rep benchReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	assert.Empty(t, rep.Errors)
	assert.NotEmpty(t, rep.Machine.CPU)
	assert.Equal(t, []int{8, 64, 1024, 16384}, rep.Config.Sizes)
	require.NotNil(t, rep.CRef)
	cfg := &benchConfig{batch: 32, gap: 1}
	for _, size := range rep.Config.Sizes {
		for _, row := range throughputRows(cfg) {
			if !row.hasSize(size) || row.group == groupC && !rep.CRef.Available {
				continue
			}
			r := rep.tp(row.Key, size)
			if assert.NotNil(t, r, "row %s %d", row.Key, size) {
				assert.Len(t, r.Runs, 2, "row %s %d", row.Key, size)
				assert.Equal(t, 2, r.MsgsPerSec.N, "row %s %d", row.Key, size)
				assert.Positive(t, r.MBPerSec.Median)
				if row.group == groupShm {
					assert.NotNil(t, r.VsBest, "row %s %d", row.Key, size)
				}
			}
		}
	}
	for _, row := range latencyRows(cfg) {
		if row.group == groupC && !rep.CRef.Available {
			continue
		}
		r := rep.lat(row.Key)
		if assert.NotNil(t, r, "row %s", row.Key) {
			assert.Equal(t, 2, r.P50.N, "row %s", row.Key)
			assert.LessOrEqual(t, r.P50.Median, r.P99.Median)
		}
	}
	assert.True(t, rep.Idle.Available, rep.Idle.Error)
	keys := map[string]bool{}
	for _, tg := range rep.Targets {
		keys[tg.Key] = true
		if !strings.Contains(tg.Note, "C reference") {
			assert.NotNil(t, tg.Met, "target %s", tg.Key)
		}
	}
	for _, k := range []string{"spsc-vs-unix-bufio", "spsc-batch-vs-c", "spsc-1k-vs-memcpy", "rtt-spin-vs-c",
		"rtt-unix-vs-spin", "block-vs-spin", "idle-cpu", "mpmc-vs-vyukov"} {
		assert.True(t, keys[k], "target %s", k)
	}

	// The table from the same figures names every row.
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
				c.check(m)
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
	for _, bad := range [][]string{{"-runs", "-1"}, {"-n", "-5"}, {"-sizes", "4"}, {"-capacity", "1000"}, {"-cpus", "x"}, {"extra"}} {
		errb.Reset()
		assert.Equal(t, statusBadArgs, run(append([]string{"bench"}, bad...), &out, &errb), bad)
		assert.Contains(t, errb.String(), "usage:", bad)
	}
	f := &benchFlags{quick: true, sizes: "8,64", capacity: 4096, batch: 32, cpus: "none"}
	cfg, err := resolveBench(f)
	require.NoError(t, err)
	assert.Equal(t, 3, cfg.runs)
	assert.Equal(t, []int{8, 64}, cfg.sizes)
	assert.Empty(t, cfg.cpus)
}

// A report with known figures prints them, the ratios and the marks.
func TestWriteReport(t *testing.T) {
	cfg := &benchConfig{runs: 3, duration: 1, sizes: []int{8}, capacity: 4096, batch: 32, cpus: []int{0, 1}, gap: 1}
	runs := func(ns ...int64) []runResult {
		r := make([]runResult, len(ns))
		for i, v := range ns {
			r[i] = runResult{N: 1000, Ns: v}
		}
		return r
	}
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
		"C reference: no C compiler",
		"8-byte messages",
		"shmring SPSC Push/Pop",
		"50.0 M (25.0–100)",
		"5.00× unix+bufio",
		"MPMC Push/Pop, 2P 2C oversubscribed*",
		"* oversubscribed",
		"Go channel, one process",
		"failed: test failure",
		"✓ SPSC Push/Pop ÷ unix socket with bufio, 8 B",
		"? SPSC batched ÷ C same algorithm batched, 8 B",
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
