package main

// The C references (tools/cref/cref.c): built with the system's cc once per
// bench run, run once per measurement and once per probe, their output
// parsed into the same rows as the Go figures.

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shmring/shmring/tools/cref"
)

// crefInfo says whether the C reference could be built, and with what.
type crefInfo struct {
	Available bool   `json:"available"`
	Compiler  string `json:"compiler,omitempty"` // first line of cc --version
	Reason    string `json:"reason,omitempty"`   // why it is not available
	path      string
	dir       string
}

// buildCref compiles cref.c into a new temporary directory; remove it with
// cleanup.
func buildCref() *crefInfo {
	cc, err := exec.LookPath("cc")
	if err != nil {
		return &crefInfo{Reason: "no C compiler (cc) in PATH: the C reference rows, the probes and the targets that need them are left out"}
	}
	dir, err := os.MkdirTemp("", "shmring-cref-")
	if err != nil {
		return &crefInfo{Reason: err.Error()}
	}
	info := &crefInfo{dir: dir}
	src := filepath.Join(dir, "cref.c")
	if err := os.WriteFile(src, []byte(cref.Source), 0o600); err != nil {
		info.Reason = err.Error()
		return info
	}
	bin := filepath.Join(dir, "cref")
	out, err := exec.Command(cc, "-O2", "-std=c11", "-o", bin, src).CombinedOutput()
	if err != nil {
		info.Reason = fmt.Sprintf("%s -O2 -std=c11 cref.c failed (%v): %s; the C reference rows are left out", cc, err, firstLine(string(out)))
		return info
	}
	if v, err := exec.Command(cc, "--version").Output(); err == nil {
		info.Compiler = firstLine(string(v))
	}
	info.path, info.Available = bin, true
	return info
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (c *crefInfo) cleanup() {
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// The probe that begins every round: the C index ring moving this many
// 8-byte messages through a ring of this many slots, whatever the flags say,
// so that probes compare across runs of bench. About 2 to 12 ms on the
// 2-core KVM guest this was written on: short enough for every round, long
// enough to outlast a scheduler tick.
const (
	probeMessages = 1_000_000
	probeCapacity = 4096
	probeSize     = 8
)

// probe runs the C index ring once and returns its nanoseconds per message.
func (c *crefInfo) probe(cfg *benchConfig) (float64, error) {
	pc := *cfg
	pc.capacity = probeCapacity
	cell := &crefCell{row: &rowSpec{Key: "probe", mode: "index"}, size: probeSize, cfg: &pc, bin: c.path}
	r, err := cell.run(probeMessages)
	if err != nil {
		return math.NaN(), err
	}
	return float64(r.Ns) / float64(r.N), nil
}

// crefCell runs one mode of the C reference: throughput (index,
// index-batch, vyukov, v1) or round trips (rtt). Each run is one cref
// process, which forks its peer.
type crefCell struct {
	row  *rowSpec
	size int
	cfg  *benchConfig
	bin  string
}

func (c *crefCell) name() string { return fmt.Sprintf("%s %dB", c.row.Key, c.size) }
func (c *crefCell) start() error { return nil }
func (c *crefCell) stop() error  { return nil }

func (c *crefCell) run(n int) (runResult, error) {
	cpuP, cpuC := -1, -1
	if len(c.cfg.cpus) > 0 {
		cpuP, cpuC = c.cfg.cpus[0], c.cfg.cpus[1%len(c.cfg.cpus)]
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout(n))
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, c.row.mode, strconv.Itoa(c.size), strconv.Itoa(n),
		strconv.Itoa(cpuP), strconv.Itoa(cpuC), strconv.Itoa(c.cfg.capacity), strconv.Itoa(c.cfg.batch))
	// cref forks its peer. On a timeout kill both: the process group, so
	// that no peer is left spinning, and stop waiting for output after a
	// moment even if something still holds the pipe.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return runResult{}, fmt.Errorf("%s: %v: %s", c.name(), err, strings.TrimSpace(stderr.String()))
	}
	f := strings.Fields(string(out))
	nums := make([]int64, 0, len(f))
	for _, s := range f[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return runResult{}, fmt.Errorf("%s: output %q", c.name(), out)
		}
		nums = append(nums, v)
	}
	if c.row.mode == "rtt" {
		if len(nums) != 6 || nums[0] != int64(n) {
			return runResult{}, fmt.Errorf("%s: output %q", c.name(), out)
		}
		return runResult{N: n, P50: nums[1], P99: nums[2], P999: nums[3], Min: nums[4], Max: nums[5]}, nil
	}
	if len(nums) != 3 || nums[1] != int64(n) || nums[2] <= 0 {
		return runResult{}, fmt.Errorf("%s: output %q", c.name(), out)
	}
	return runResult{N: n, Ns: nums[2]}, nil
}
