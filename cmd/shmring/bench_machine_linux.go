package main

// The machine bench runs on: the header line, pinning processes to CPUs,
// and whether it has the memory a configuration needs.

import (
	"bufio"
	"fmt"
	"math"
	"math/bits"
	"os"
	"runtime"
	"strconv"
	"strings"
	_ "unsafe" // for go:linkname

	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/ring"
)

// nanotime is the runtime's monotonic clock: CLOCK_MONOTONIC through the
// vDSO, one call (time.Now makes two: wall and monotonic). Its readings are
// comparable across processes, which is how a producer's start and a
// consumer's end make one interval.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// machineInfo is the header of a bench report.
type machineInfo struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`    // runtime.NumCPU: CPUs this process may use
	Affinity    []int  `json:"affinity"` // the CPUs of the process's affinity mask
	Go          string `json:"go"`
	GOOS        string `json:"goos"`
	GOARCH      string `json:"goarch"`
	Kernel      string `json:"kernel"`
	Clocksource string `json:"clocksource,omitempty"`
	// While bench measured: the share of all CPUs' time that other
	// processes used, and that the hypervisor stole, in percent.
	OtherLoad float64 `json:"other_load_percent"`
	Steal     float64 `json:"steal_percent"`
}

func readMachine() machineInfo {
	m := machineInfo{
		CPU:    cpuModel(),
		Cores:  runtime.NumCPU(),
		Go:     runtime.Version(),
		GOOS:   runtime.GOOS,
		GOARCH: runtime.GOARCH,
	}
	m.Affinity, _ = affinity()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource"); err == nil {
		m.Clocksource = strings.TrimSpace(string(b))
	}
	return m
}

// cpuModel returns the first "model name" of /proc/cpuinfo (x86), or the
// first of a few other fields other architectures use.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	found := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, dup := found[k]; !dup && v != "" {
			found[k] = v
		}
	}
	for _, k := range []string{"model name", "Model", "Hardware", "cpu model", "uarch"} {
		if v := found[k]; v != "" {
			return v
		}
	}
	return "unknown CPU"
}

// affinity returns the CPUs this process may run on, in order.
func affinity() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, os.NewSyscallError("sched_getaffinity", err)
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// parseCPUList parses a CPU list as the kernel writes them: "0,2", "0-3",
// "1,4-5".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad CPU %q in list %q", part, s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU range %q in list %q", part, s)
			}
		}
		if b >= 1024 {
			return nil, fmt.Errorf("CPU %d in list %q is beyond 1023", b, s)
		}
		for c := a; c <= b; c++ {
			if !seen[c] {
				seen[c] = true
				cpus = append(cpus, c)
			}
		}
	}
	return cpus, nil
}

// formatCPUList is the inverse of parseCPUList, for flags passed to children.
func formatCPUList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// pinProcess restricts every thread of this process to cpus. A Go process
// has several threads from its start, and sched_setaffinity(0) moves only
// the calling one: so each thread in /proc/self/task is moved, twice in case
// one was created meanwhile (threads created later inherit the mask of the
// thread that creates them). GOMAXPROCS is set to match, which also stops
// the runtime from changing it on its own when it notices the new mask.
func pinProcess(cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	for pass := 0; pass < 2; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("pin to CPUs %s: %w", formatCPUList(cpus), os.NewSyscallError("sched_setaffinity", err))
			}
		}
	}
	runtime.GOMAXPROCS(len(cpus))
	return nil
}

// isTerminal reports whether f is a terminal, for the progress line.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// cpuUse is a snapshot of the machine's CPU time and of bench's own, to
// tell afterwards how busy other processes kept the machine while bench
// measured: on a small shared machine that is what makes figures noisy.
type cpuUse struct {
	busy, steal, total uint64 // /proc/stat, all CPUs, in USER_HZ ticks
	ours               int64  // ns of CPU used by bench and its reaped children
}

// userHz is the unit of /proc/stat: the kernel reports USER_HZ ticks, 100
// per second on every architecture Linux runs on today.
const userHz = 100

func readCPUUse() (cpuUse, error) {
	var u cpuUse
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return u, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return u, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var v [8]uint64 // user nice system idle iowait irq softirq steal
	for i := range v {
		if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return u, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	u.busy = v[0] + v[1] + v[2] + v[5] + v[6]
	u.steal = v[7]
	for _, x := range v {
		u.total += x
	}
	for _, who := range []int{unix.RUSAGE_SELF, unix.RUSAGE_CHILDREN} {
		var ru unix.Rusage
		if err := unix.Getrusage(who, &ru); err != nil {
			return u, os.NewSyscallError("getrusage", err)
		}
		u.ours += ru.Utime.Nano() + ru.Stime.Nano()
	}
	return u, nil
}

// otherLoad returns the share of all CPUs' time, between a and b, that
// processes other than bench used, and the share the hypervisor stole, in
// percent.
func otherLoad(a, b cpuUse) (other, steal float64) {
	total := float64(b.total - a.total)
	if total <= 0 {
		return 0, 0
	}
	busyNs := float64(b.busy-a.busy) * 1e9 / userHz
	totalNs := total * 1e9 / userHz
	other = 100 * max(busyNs-float64(b.ours-a.ours), 0) / totalNs
	steal = 100 * float64(b.steal-a.steal) / total
	return other, steal
}

// checkBenchMemory refuses a configuration whose rows need more memory at
// once than this machine has available: a group's cells all start before
// its first round, so its rings, channel buffers and memcpy areas are
// mapped together, with a C reference's ring beside them during its runs.
// Without this, -capacity 1048576 would run the machine out of memory (a
// memfd's pages are RAM) instead of saying so.
func checkBenchMemory(cfg *benchConfig) error {
	need, which, err := benchMemoryNeed(cfg)
	if err != nil {
		return err
	}
	avail, err := memAvailable()
	if err != nil {
		return nil // cannot tell; the rings' own checks still apply
	}
	if need > avail {
		return fmt.Errorf("-capacity %d: the %s rows need %s of memory at once (rings, channel buffers, memcpy areas), more than the %s available (MemAvailable)",
			cfg.capacity, which, humanBytes(int64(min(need, math.MaxInt64))), humanBytes(int64(min(avail, math.MaxInt64))))
	}
	return nil
}

// benchMemoryNeed returns the most memory any one group of rows holds at
// once, and the group's name.
func benchMemoryNeed(cfg *benchConfig) (uint64, string, error) {
	capacity := uint64(cfg.capacity)
	ringSize := func(kind ring.Kind, slot int) (uint64, error) {
		n, err := ring.Size(ring.Config{Kind: kind, Capacity: cfg.capacity, SlotSize: slot})
		if err != nil {
			return 0, fmt.Errorf("-capacity %d with %d-byte messages: %w", cfg.capacity, slot, err)
		}
		return uint64(n), nil
	}
	var worst uint64
	which := ""
	for _, size := range groupSizes(cfg) {
		s := uint64(size)
		if size == mixedSize {
			s = mixedMax
		}
		// The largest C ring: Vyukov cells and v1 slots add at most 64
		// bytes of header to a message, the index ring none.
		var need uint64
		cRing := false
		for _, row := range throughputRows(cfg) {
			if !row.inGroup(cfg, size) {
				continue
			}
			if row.group == groupC && !cRing {
				cRing = true
				need = satAdd(need, satAdd(satMul(capacity, s+64), 4096))
			}
			switch row.mode {
			case "ring":
				n, err := ring.Size(ringConfig(cfg, row, size))
				if err != nil {
					return 0, "", fmt.Errorf("-capacity %d with %d-byte messages: %w", cfg.capacity, size, err)
				}
				need = satAdd(need, uint64(n))
			case "chan": // a pool of capacity+2 buffers, and the channel's slice headers
				need = satAdd(need, satAdd(satMul(capacity+2, s), satMul(capacity, 24)))
			case "memcpy": // a source and a destination area
				need = satAdd(need, satMul(2*capacity, s))
			}
		}
		if need > worst {
			worst, which = need, sizeName(size)
		}
	}
	n, err := ringSize(ring.SPSC, 8) // the round trips: a ping ring and a pong ring per row
	if err != nil {
		return 0, "", err
	}
	if lat := satMul(n, 2*uint64(len(latencyRows(cfg)))); lat > worst {
		worst, which = lat, groupRoundTrips
	}
	return worst, which, nil
}

func satAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return math.MaxUint64
	}
	return s
}

func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// memAvailable returns the memory the kernel estimates can be allocated
// without swapping (MemAvailable of /proc/meminfo), or, without that line,
// the free RAM sysinfo reports.
func memAvailable() (uint64, error) {
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
				kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err == nil {
					return satMul(kb, 1024), nil
				}
			}
		}
	}
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, os.NewSyscallError("sysinfo", err)
	}
	return satMul(uint64(si.Freeram), uint64(si.Unit)), nil
}
