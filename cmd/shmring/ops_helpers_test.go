package main

// Child processes and fixtures for the tests of stat, ls, rm, tail and send.
// The children are this test binary, re-executed (see main_test.go); each
// reads its parameters from the environment.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
)

// Environment of the children.
const (
	envRing     = "OPS_RING"     // path of the ring
	envRole     = "OPS_ROLE"     // hold: "produce" or "consume"
	envCount    = "OPS_COUNT"    // hold: messages to push first; produce: messages (-1: until shut down)
	envShutdown = "OPS_SHUTDOWN" // produce: "1" to shut the ring down after the messages
	envArgs     = "OPS_ARGS"     // cli: the command line, one argument per line
)

func init() {
	helpers["ops-hold"] = helperHold
	helpers["ops-produce"] = helperProduce
	helpers["ops-consume"] = helperConsume
	helpers["ops-cli"] = helperCLI
}

// helperHold opens the ring, takes a role (and pushes OPS_COUNT messages
// when it produces), prints "ready", and keeps the role until its standard
// input ends; then it closes the handle, which gives the role back. Killed
// instead, it leaves a dead process's record behind.
func helperHold() int {
	r, err := ring.Open(os.Getenv(envRing))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer r.Close()
	switch os.Getenv(envRole) {
	case "produce":
		n, _ := strconv.Atoi(os.Getenv(envCount))
		for i := range n {
			if err := r.TryPush(fmt.Appendf(nil, "held %d", i)); err != nil {
				fmt.Fprintln(os.Stderr, "push:", err)
				return 1
			}
		}
		if n == 0 {
			// A batch of none claims the producer role without a message.
			if _, err := r.TryPushBatch(nil); err != nil {
				fmt.Fprintln(os.Stderr, "claim:", err)
				return 1
			}
		}
	case "consume":
		if _, err := r.TryPop(make([]byte, r.Config().SlotSize)); !errors.Is(err, ring.ErrEmpty) {
			fmt.Fprintln(os.Stderr, "pop: want ErrEmpty, got", err)
			return 1
		}
	default:
		fmt.Fprintln(os.Stderr, "bad", envRole)
		return 2
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// helperProduce pushes OPS_COUNT messages "message N" (or until the ring is
// shut down, for -1), then shuts the ring down if OPS_SHUTDOWN=1.
func helperProduce() int {
	r, err := ring.Open(os.Getenv(envRing))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer r.Close()
	n, _ := strconv.Atoi(os.Getenv(envCount))
	for i := 0; n < 0 || i < n; i++ {
		err := r.Push(context.Background(), fmt.Appendf(nil, "message %d", i))
		if n < 0 && errors.Is(err, ring.ErrClosed) {
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "push:", err)
			return 1
		}
	}
	if os.Getenv(envShutdown) == "1" {
		if err := r.Shutdown(); err != nil {
			fmt.Fprintln(os.Stderr, "shutdown:", err)
			return 1
		}
	}
	return 0
}

// helperConsume pops messages until the ring is shut down and drained and
// prints each, quoted, on a line of its own.
func helperConsume() int {
	r, err := ring.Open(os.Getenv(envRing))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer r.Close()
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	buf := make([]byte, r.Config().SlotSize)
	for {
		n, err := r.Pop(context.Background(), buf)
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "pop:", err)
			return 1
		}
		fmt.Fprintf(w, "%q\n", buf[:n])
	}
}

// helperCLI runs the command line in OPS_ARGS, as the shmring program would.
func helperCLI() int {
	return run(strings.Split(os.Getenv(envArgs), "\n"), os.Stdout, os.Stderr)
}

// child is a helper process started by startChild.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser // the child's standard input
	stdout  *bufio.Reader  // what it prints
	outPipe io.ReadCloser  // our end of the pipe under stdout
	stderr  *bytes.Buffer
}

// startChild starts helper name with env and returns it. Cleanup kills it
// if the test has not waited for it.
func startChild(t *testing.T, name string, env ...string) *child {
	t.Helper()
	cmd := helperCmd(t, name, env...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	c := &child{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(out), outPipe: out, stderr: &bytes.Buffer{}}
	cmd.Stderr = c.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return c
}

// line reads the next line the child prints, without its newline.
func (c *child) line(t *testing.T) string {
	t.Helper()
	s, err := c.stdout.ReadString('\n')
	require.NoError(t, err, "child's stdout; its stderr: %s", c.stderr)
	return strings.TrimSuffix(s, "\n")
}

// rest reads what the child prints until it closes its stdout.
func (c *child) rest(t *testing.T) string {
	t.Helper()
	b, err := io.ReadAll(c.stdout)
	require.NoError(t, err)
	return string(b)
}

// wait waits for the child to exit and requires status 0.
func (c *child) wait(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Wait(), "child's stderr: %s", c.stderr)
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// holder starts a child that holds role ("produce" or "consume") on the
// ring at path, after pushing count messages if it produces, and returns
// once it holds it. Closing its stdin lets it close its handle and exit.
func holder(t *testing.T, path, role string, count int) *child {
	t.Helper()
	c := startChild(t, "ops-hold", envRing+"="+path, envRole+"="+role, envCount+"="+strconv.Itoa(count))
	require.Equal(t, "ready", c.line(t))
	return c
}

// release lets a holder close its handle and exit, and waits for it. It
// does nothing the second time.
func (c *child) release(t *testing.T) {
	t.Helper()
	if c.cmd.ProcessState != nil {
		return
	}
	require.NoError(t, c.stdin.Close())
	c.wait(t)
}

// deadHolder makes the record of a process that held role on the ring at
// path and died without closing: a holder, SIGKILLed and reaped. It returns
// the dead process's pid.
func deadHolder(t *testing.T, path, role string) int {
	t.Helper()
	c := holder(t, path, role, 0)
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	err := c.cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the holder should have been killed")
	return c.pid()
}

// newRing creates a ring file named name in dir and closes the creator's
// handle, which holds no role.
func newRing(t *testing.T, dir, name string, cfg ring.Config) string {
	t.Helper()
	path := filepath.Join(dir, name)
	r, err := ring.Create(path, cfg)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	return path
}

// openRing opens the ring at path for the test's own pushes and pops, and
// closes it at cleanup.
func openRing(t *testing.T, path string) *ring.Ring {
	t.Helper()
	r, err := ring.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// runCmd runs the command line args in this process and returns its
// status, stdout and stderr.
func runCmd(args ...string) (status int, stdout, stderr string) {
	var o, e bytes.Buffer
	status = run(args, &o, &e)
	return status, o.String(), e.String()
}

// drain pops every message queued in r (which must not be shut down
// empty-handed: it stops at ErrEmpty or io.EOF) and returns them.
func drain(t *testing.T, r *ring.Ring) []string {
	t.Helper()
	var got []string
	buf := make([]byte, r.Config().SlotSize)
	for {
		n, err := r.TryPop(buf)
		if errors.Is(err, ring.ErrEmpty) || errors.Is(err, io.EOF) {
			return got
		}
		require.NoError(t, err)
		got = append(got, string(buf[:n]))
	}
}

// allKinds are the kinds of ring the commands work on.
var allKinds = []ring.Kind{ring.SPSC, ring.MPMC, ring.SPSCBytes, ring.MPSCBytes}

// cfgOf is a ring of kind that holds slots messages of up to slotSize
// bytes: slots of slotSize, or for a byte ring the smallest data area that
// holds slots records of slotSize bytes (and takes such a message at all).
func cfgOf(kind ring.Kind, slots, slotSize int) ring.Config {
	if !isBytes(kind) {
		return ring.Config{Kind: kind, Capacity: slots, SlotSize: slotSize}
	}
	need := max(64, 4*slotSize, slots*((8+slotSize+7)/8*8))
	c := 64
	for c < need {
		c *= 2
	}
	return ring.Config{Kind: kind, Capacity: c, SlotSize: slotSize}
}
