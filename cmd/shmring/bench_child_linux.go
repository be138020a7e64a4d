package main

// The processes bench starts: this program again, in the hidden mode
// "bench-child", one process per producer, consumer, pinger or ponger.
//
// Protocol, one line per message: the parent writes commands on the child's
// stdin ("run ARGS..."), the child answers on its stdout with a word and
// numbers ("ready", "sent T0 T1", "got ...", "error TEXT"). A child exits
// when its stdin ends. Timestamps are CLOCK_MONOTONIC nanoseconds
// (nanotime), comparable across processes.

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func init() {
	register(&command{
		name:    "bench-child",
		summary: "a producer or consumer process of shmring bench",
		usage:   "shmring bench-child [flags]\n\nA process that shmring bench starts; not for use by hand.",
		run:     runBenchChild,
		hidden:  true,
	})
}

// benchChildCommand returns the command that starts a bench child with
// args: this program again. Tests, whose binary is not this program, set
// it to start the test binary as a helper.
var benchChildCommand = func(args []string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to start its children: %w", err)
	}
	return exec.Command(exe, append([]string{"bench-child"}, args...)...), nil
}

// childOptions are a child's flags. The parent sets them; which ones matter
// depends on the mode and role.
type childOptions struct {
	mode     string // ring, unix, pipe, chan, memcpy (throughput); ring-rtt, unix-rtt (latency); idle
	role     string // producer, consumer, self, ping, pong, idle
	size     int    // message size in bytes
	id       int    // producer number, stamped into its messages
	cpus     string // CPUs to pin to; empty: not pinned
	wait     string // ring wait mode: block or spin
	batch    int    // ring batch size; 0: one message per call
	bufio    bool   // fd transports: bufio of 64 KiB on this end
	fd       int    // fd transports: the inherited descriptor
	capacity int    // chan and memcpy: slots, as the rings have
	gap      time.Duration
	mixed    bool   // message i is mixedLen(i) bytes (size is then the largest); fd transports frame them
	reserve  bool   // ring producer: write in place with Reserve/Commit
	zerocopy bool   // ring consumer: check messages in the ring (PopFunc), no copy out
	netw     string // conn modes: shm, unix or tcp
	addr     string // conn modes: where the client dials (shm and unix: a path)
}

func runBenchChild(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-child", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := childOptions{}
	fs.StringVar(&o.mode, "mode", "", "transport")
	fs.StringVar(&o.role, "role", "", "role")
	fs.IntVar(&o.size, "size", 8, "message size")
	fs.IntVar(&o.id, "id", 0, "producer number")
	fs.StringVar(&o.cpus, "cpus", "", "CPUs to pin to")
	fs.StringVar(&o.wait, "wait", "block", "ring wait mode")
	fs.IntVar(&o.batch, "batch", 0, "batch size")
	fs.BoolVar(&o.bufio, "bufio", false, "buffered I/O")
	fs.IntVar(&o.fd, "fd", 3, "descriptor")
	fs.IntVar(&o.capacity, "capacity", 4096, "slots")
	fs.DurationVar(&o.gap, "gap", 0, "pause between pings")
	fs.BoolVar(&o.mixed, "mixed", false, "mixed message sizes")
	fs.BoolVar(&o.reserve, "reserve", false, "write in place")
	fs.BoolVar(&o.zerocopy, "zerocopy", false, "read in place")
	fs.StringVar(&o.netw, "net", "", "conn network")
	fs.StringVar(&o.addr, "addr", "", "conn address")
	if err := fs.Parse(args); err != nil {
		return statusBadArgs
	}
	fail := func(err error) int {
		fmt.Fprintf(stdout, "error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return statusFailed
	}
	if o.cpus != "" {
		cpus, err := parseCPUList(o.cpus)
		if err != nil {
			return fail(err)
		}
		if err := pinProcess(cpus); err != nil {
			return fail(err)
		}
	}
	if o.size < 8 {
		return fail(fmt.Errorf("message size %d: bench needs 8 bytes for its counter", o.size))
	}
	handle, cleanup, err := newChildRole(o)
	if err != nil {
		return fail(err)
	}
	defer cleanup()
	if dir := os.Getenv(profileEnv); dir != "" {
		stop, err := startChildProfile(dir, o)
		if err != nil {
			return fail(err)
		}
		defer stop()
	}
	fmt.Fprintln(stdout, "ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "run" {
			return fail(fmt.Errorf("unknown command %q", sc.Text()))
		}
		nums := make([]int64, len(f)-1)
		for i, s := range f[1:] {
			if nums[i], err = strconv.ParseInt(s, 10, 64); err != nil {
				return fail(fmt.Errorf("bad number %q in %q", s, sc.Text()))
			}
		}
		reply, err := handle(nums, stdout)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, reply)
	}
	return statusOK
}

// profileEnv names a directory in which every bench child writes a CPU
// profile of its whole life, for finding where a row spends its time:
// SHMRING_BENCH_PROFILE=/tmp/prof shmring bench -sizes 8, then
// go tool pprof -top shmring /tmp/prof/ring-producer-8B-*.pprof.
const profileEnv = "SHMRING_BENCH_PROFILE"

func startChildProfile(dir string, o childOptions) (func(), error) {
	f, err := os.CreateTemp(dir, fmt.Sprintf("%s-%s-%dB-%s-batch%d-*.pprof", o.mode, o.role, o.size, o.wait, o.batch))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", profileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", profileEnv, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// childHandler runs one command of the parent with its numbers and returns
// the reply line. It may write intermediate lines ("ready") to stdout.
type childHandler func(args []int64, stdout io.Writer) (string, error)

func newChildRole(o childOptions) (childHandler, func(), error) {
	switch o.mode {
	case "ring", "unix", "pipe", "chan", "memcpy", "conn":
		return newTransferRole(o)
	case "ring-rtt", "unix-rtt", "conn-rtt":
		return newLatencyRole(o)
	case "idle":
		return newIdleRole(o)
	}
	return nil, nil, fmt.Errorf("unknown mode %q", o.mode)
}

// argsN checks that a command carried n numbers.
func argsN(args []int64, n int) error {
	if len(args) != n {
		return fmt.Errorf("command with %d numbers, want %d", len(args), n)
	}
	return nil
}

// benchProc is the parent's side of a child process.
type benchProc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // the child's stdout, line by line; closed at its end
	stderr *syncBuffer
}

// syncBuffer collects a child's stderr for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 64<<10 {
		s.b.Write(p)
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.TrimSpace(s.b.String())
}

// startProc starts a child with args; setup may add descriptors and
// environment (ring.Share) before it starts. It waits for the child's
// "ready".
func startProc(name string, args []string, setup func(*exec.Cmd) error) (*benchProc, error) {
	cmd, err := benchChildCommand(args)
	if err != nil {
		return nil, err
	}
	if setup != nil {
		if err := setup(cmd); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	p := &benchProc{name: name, cmd: cmd, lines: make(chan string, 16), stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start: %w", name, err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	if _, err := p.expect("ready", procTimeout); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// procTimeout bounds how long the parent waits for a child's answer
// outside of measurements, which get their own, longer, bound.
const procTimeout = 30 * time.Second

func (p *benchProc) send(format string, a ...any) error {
	if _, err := fmt.Fprintf(p.stdin, format+"\n", a...); err != nil {
		return fmt.Errorf("%s: %w%s", p.name, err, p.errText())
	}
	return nil
}

// expect reads the child's next line, which must start with word, and
// returns the numbers after it. A child that reports an error, exits or
// stays silent for timeout yields an error naming it.
func (p *benchProc) expect(word string, timeout time.Duration) ([]int64, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line, ok := <-p.lines:
		if !ok {
			err := p.cmd.Wait()
			return nil, fmt.Errorf("%s exited (%v) before answering %q%s", p.name, err, word, p.errText())
		}
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "error" {
			return nil, fmt.Errorf("%s: %s", p.name, strings.TrimSpace(strings.TrimPrefix(line, "error")))
		}
		if len(f) == 0 || f[0] != word {
			return nil, fmt.Errorf("%s answered %q, want %q%s", p.name, line, word, p.errText())
		}
		nums := make([]int64, len(f)-1)
		for i, s := range f[1:] {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s answered %q: bad number %q", p.name, line, s)
			}
			nums[i] = n
		}
		return nums, nil
	case <-t.C:
		return nil, fmt.Errorf("%s did not answer %q within %v%s", p.name, word, timeout, p.errText())
	}
}

func (p *benchProc) errText() string {
	if s := p.stderr.String(); s != "" {
		return ": " + s
	}
	return ""
}

// stop ends the child: its stdin closes, it exits. A child that does not
// exit in time is killed.
func (p *benchProc) stop() error {
	p.stdin.Close()
	done := make(chan error, 1)
	go func() {
		for range p.lines { // drain, so the child never blocks writing
		}
		if p.cmd.ProcessState != nil { // expect saw it exit and waited
			done <- nil
			return
		}
		done <- p.cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w%s", p.name, err, p.errText())
		}
		return nil
	case <-time.After(5 * time.Second):
		p.kill()
		<-done
		return fmt.Errorf("%s did not exit; killed", p.name)
	}
}

func (p *benchProc) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// stopAll stops every process and returns the first error.
func stopAll(ps []*benchProc) error {
	var errs []error
	for _, p := range ps {
		if p != nil {
			errs = append(errs, p.stop())
		}
	}
	return errors.Join(errs...)
}

func killAll(ps []*benchProc) {
	for _, p := range ps {
		if p != nil {
			p.kill()
		}
	}
}
