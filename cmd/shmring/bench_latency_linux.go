package main

// Latency: ping-pong of 8-byte messages between two processes, each round
// trip timed on its own; and the CPU an idle consumer blocked in Pop uses.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/ring"
)

// rttEnd carries one 8-byte message each way.
type rttEnd interface {
	send(msg []byte) error
	recv(buf []byte) error
}

type ringEnd struct {
	ctx     context.Context
	in, out *ring.Ring
}

func (e ringEnd) send(msg []byte) error { return e.out.Push(e.ctx, msg) }
func (e ringEnd) recv(buf []byte) error {
	n, err := e.in.Pop(e.ctx, buf)
	if err == nil && n != len(buf) {
		err = fmt.Errorf("message of %d bytes, want %d", n, len(buf))
	}
	return err
}

type fdEnd struct{ f io.ReadWriter }

func (e fdEnd) send(msg []byte) error { _, err := e.f.Write(msg); return err }
func (e fdEnd) recv(buf []byte) error { _, err := io.ReadFull(e.f, buf); return err }

// newLatencyRole sets up a pinger or a ponger. Both take "run N": the
// ponger answers "ready", echoes N messages and answers "echoed N"; the
// pinger sends N pings, each after the echo of the one before (and after a
// pause of -gap, if set), and answers "lat N P50 P99 P999 MIN MAX" in ns.
// Between runs neither waits on the transport, so a spinning ponger does not
// burn a CPU while other measurements run.
func newLatencyRole(o childOptions) (childHandler, func(), error) {
	var end rttEnd
	var cleanup func()
	switch o.mode {
	case "ring-rtt":
		ping, err := ring.Inherit("ping")
		if err != nil {
			return nil, nil, err
		}
		pong, err := ring.Inherit("pong")
		if err != nil {
			ping.Close()
			return nil, nil, err
		}
		if o.wait == "spin" {
			ping.SetOptions(ring.Options{Wait: ring.WaitSpin})
			pong.SetOptions(ring.Options{Wait: ring.WaitSpin})
		}
		cleanup = func() { ping.Close(); pong.Close() }
		if o.role == "ping" {
			end = ringEnd{ctx: context.Background(), in: pong, out: ping}
		} else {
			end = ringEnd{ctx: context.Background(), in: ping, out: pong}
		}
	case "unix-rtt":
		f := os.NewFile(uintptr(o.fd), "socket")
		if f == nil {
			return nil, nil, fmt.Errorf("descriptor %d not inherited", o.fd)
		}
		end, cleanup = fdEnd{f}, func() { f.Close() }
	case "conn-rtt":
		c, release, err := newConnEnd(o)
		if err != nil {
			return nil, nil, err
		}
		end, cleanup = fdEnd{c}, release
	default:
		return nil, nil, fmt.Errorf("unknown latency mode %q", o.mode)
	}
	buf := make([]byte, o.size)
	msg := make([]byte, o.size)
	if o.role == "pong" {
		return func(args []int64, stdout io.Writer) (string, error) {
			if err := argsN(args, 1); err != nil {
				return "", err
			}
			fmt.Fprintln(stdout, "ready")
			for i := int64(0); i < args[0]; i++ {
				if err := end.recv(buf); err != nil {
					return "", fmt.Errorf("pong %d: %w", i, err)
				}
				if err := end.send(buf); err != nil {
					return "", fmt.Errorf("pong %d: %w", i, err)
				}
			}
			return fmt.Sprintf("echoed %d", args[0]), nil
		}, cleanup, nil
	}
	var samples []int64
	return func(args []int64, _ io.Writer) (string, error) {
		if err := argsN(args, 1); err != nil {
			return "", err
		}
		n := int(args[0])
		if n < 1 {
			return "", errors.New("no round trips to time")
		}
		samples = slices.Grow(samples[:0], n)[:n]
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint64(msg, uint64(i))
			t := nanotime()
			if err := end.send(msg); err != nil {
				return "", fmt.Errorf("ping %d: %w", i, err)
			}
			if err := end.recv(buf); err != nil {
				return "", fmt.Errorf("ping %d: %w", i, err)
			}
			samples[i] = nanotime() - t
			if v := binary.LittleEndian.Uint64(buf); v != uint64(i) {
				return "", fmt.Errorf("ping %d came back as %d", i, v)
			}
			if o.gap > 0 {
				time.Sleep(o.gap)
			}
		}
		slices.Sort(samples)
		return fmt.Sprintf("lat %d %d %d %d %d %d", n, percentile(samples, 50), percentile(samples, 99),
			percentile(samples, 99.9), samples[0], samples[n-1]), nil
	}, cleanup, nil
}

// latencyCell is the parent's side of one ping-pong measurement.
type latencyCell struct {
	row        *rowSpec
	cfg        *benchConfig
	rings      []*ring.Ring
	ping, pong *benchProc
	release    func() // conn rows: see connSetup
}

func (c *latencyCell) name() string { return c.row.Key }

func (c *latencyCell) cpu(i int) string {
	if len(c.cfg.cpus) == 0 {
		return ""
	}
	return fmt.Sprint(c.cfg.cpus[i%len(c.cfg.cpus)])
}

func (c *latencyCell) start() (err error) {
	defer func() {
		if err != nil {
			killAll([]*benchProc{c.ping, c.pong})
			for _, r := range c.rings {
				r.Close()
			}
			if c.release != nil {
				c.release()
			}
		}
	}()
	args := append([]string{"-mode", c.row.mode}, c.row.args...)
	var pingSetup, pongSetup func(*exec.Cmd) error
	switch c.row.mode {
	case "ring-rtt":
		for range 2 {
			r, err := ring.Anonymous(ring.Config{Kind: ring.SPSC, Capacity: c.cfg.capacity, SlotSize: 8})
			if err != nil {
				return err
			}
			c.rings = append(c.rings, r)
		}
		share := func(cmd *exec.Cmd) error {
			if err := c.rings[0].Share(cmd, "ping"); err != nil {
				return err
			}
			return c.rings[1].Share(cmd, "pong")
		}
		pingSetup, pongSetup = share, share
	case "unix-rtt":
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return os.NewSyscallError("socketpair", err)
		}
		a, b := os.NewFile(uintptr(fds[0]), "socket"), os.NewFile(uintptr(fds[1]), "socket")
		defer a.Close()
		defer b.Close()
		give := func(f *os.File) func(*exec.Cmd) error {
			return func(cmd *exec.Cmd) error {
				cmd.ExtraFiles = append(cmd.ExtraFiles, f)
				cmd.Args = append(cmd.Args, "-fd", fmt.Sprint(2+len(cmd.ExtraFiles)))
				return nil
			}
		}
		pingSetup, pongSetup = give(a), give(b)
	case "conn-rtt":
		server, client, release, err := connSetup(rowNet(c.row))
		if err != nil {
			return err
		}
		c.release = release
		pingSetup, pongSetup = client, server
	default:
		return fmt.Errorf("unknown latency mode %q", c.row.mode)
	}
	// The pong first: a conn row's server listens before its client dials.
	if c.pong, err = startProc(c.name()+" pong", append(slices.Clone(args), "-role", "pong", "-cpus", c.cpu(1)), pongSetup); err != nil {
		return err
	}
	c.ping, err = startProc(c.name()+" ping", append(slices.Clone(args), "-role", "ping", "-cpus", c.cpu(0)), pingSetup)
	return err
}

func (c *latencyCell) run(n int) (runResult, error) {
	timeout := runTimeout(n) + time.Duration(n)*c.row.gap
	if err := c.pong.send("run %d", n); err != nil {
		return runResult{}, err
	}
	if _, err := c.pong.expect("ready", procTimeout); err != nil {
		return runResult{}, err
	}
	if err := c.ping.send("run %d", n); err != nil {
		return runResult{}, err
	}
	f, err := c.ping.expect("lat", timeout)
	if err != nil {
		return runResult{}, err
	}
	if _, err := c.pong.expect("echoed", procTimeout); err != nil {
		return runResult{}, err
	}
	if len(f) != 6 || f[0] != int64(n) {
		return runResult{}, fmt.Errorf("%s: answer %v", c.ping.name, f)
	}
	return runResult{N: n, P50: f[1], P99: f[2], P999: f[3], Min: f[4], Max: f[5]}, nil
}

func (c *latencyCell) stop() error {
	err := stopAll([]*benchProc{c.ping, c.pong})
	for _, r := range c.rings {
		r.Close()
	}
	if c.release != nil {
		c.release()
	}
	return err
}

// newIdleRole: a consumer that blocks in Pop on an empty ring until the
// parent shuts it down. Command: run 0. Answers "ready", then, once Pop
// returns io.EOF, "idle CPU_NS WALL_NS SWITCHES": the CPU time this process
// used (getrusage: user and system, every thread) while it waited, and how
// many times its threads went to sleep (voluntary context switches).
func newIdleRole(o childOptions) (childHandler, func(), error) {
	r, err := ring.Inherit("bench")
	if err != nil {
		return nil, nil, err
	}
	buf := make([]byte, o.size)
	return func(_ []int64, stdout io.Writer) (string, error) {
		fmt.Fprintln(stdout, "ready")
		cpu0, sw0, err := cpuTime()
		if err != nil {
			return "", err
		}
		w0 := nanotime()
		n, err := r.Pop(context.Background(), buf)
		w1 := nanotime()
		cpu1, sw1, cerr := cpuTime()
		if !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("pop on an empty ring returned %d bytes, %v; want io.EOF after shutdown", n, err)
		}
		if cerr != nil {
			return "", cerr
		}
		return fmt.Sprintf("idle %d %d %d", cpu1-cpu0, w1-w0, sw1-sw0), nil
	}, func() { r.Close() }, nil
}

// cpuTime returns the CPU time of this process and its voluntary context
// switches.
func cpuTime() (int64, int64, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, os.NewSyscallError("getrusage", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), ru.Nvcsw, nil
}

// idleResult is the idle measurement.
type idleResult struct {
	CPUNs     int64   `json:"cpu_ns"`
	WallNs    int64   `json:"wall_ns"`
	Switches  int64   `json:"voluntary_switches"` // times its threads slept
	CPUPct    float64 `json:"cpu_percent"`        // of one core
	Error     string  `json:"error,omitempty"`
	Available bool    `json:"available"`
}

// measureIdle starts a consumer on an empty SPSC ring, lets it wait for d,
// shuts the ring down and returns the CPU the consumer used meanwhile.
func measureIdle(cfg *benchConfig, d time.Duration) idleResult {
	res := idleResult{}
	fail := func(err error) idleResult { res.Error = err.Error(); return res }
	r, err := ring.Anonymous(ring.Config{Kind: ring.SPSC, Capacity: 64, SlotSize: 8})
	if err != nil {
		return fail(err)
	}
	defer r.Close()
	cpus := ""
	if len(cfg.cpus) > 0 {
		cpus = fmt.Sprint(cfg.cpus[1%len(cfg.cpus)])
	}
	p, err := startProc("idle consumer", []string{"-mode", "idle", "-role", "idle", "-size", "8", "-cpus", cpus},
		func(cmd *exec.Cmd) error { return r.Share(cmd, "bench") })
	if err != nil {
		return fail(err)
	}
	defer p.stop()
	if err := p.send("run 0"); err != nil {
		return fail(err)
	}
	if _, err := p.expect("ready", procTimeout); err != nil {
		return fail(err)
	}
	time.Sleep(d)
	if err := r.Shutdown(); err != nil {
		return fail(err)
	}
	f, err := p.expect("idle", procTimeout)
	if err != nil {
		return fail(err)
	}
	if len(f) != 3 || f[1] <= 0 {
		return fail(fmt.Errorf("idle consumer answered %v", f))
	}
	res.CPUNs, res.WallNs, res.Switches = f[0], f[1], f[2]
	res.CPUPct = 100 * float64(f[0]) / float64(f[1])
	res.Available = true
	return res
}
