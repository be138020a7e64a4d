package shmnet_test

// The harness of the cross-process tests: the test binary starts itself
// again with SHMNET_TEST_HELPER naming a helper, and TestMain runs that
// helper instead of the tests, so every child is this binary, built the
// same way (a -race test binary has -race children). A helper gets its
// arguments as key=value pairs after "--", reports key=value lines on
// stdout (the parent waits for them with await) and returns its exit
// status.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shmring/shmring/internal/childtest"
)

const helperEnv = "SHMNET_TEST_HELPER"

// helpers are the child programs, by name; test files add theirs in init.
var helpers = map[string]func(a args) int{}

func TestMain(m *testing.M) {
	run := make(map[string]func() int, len(helpers))
	for name, h := range helpers {
		run[name] = func() int {
			a := args{}
			for _, kv := range helperArgs(os.Args) {
				k, v, _ := strings.Cut(kv, "=")
				a[k] = v
			}
			return h(a)
		}
	}
	childtest.Main(m, helperEnv, run)
}

func helperArgs(argv []string) []string {
	for i, s := range argv {
		if s == "--" {
			return argv[i+1:]
		}
	}
	return nil
}

// args are a helper's arguments.
type args map[string]string

func (a args) int(key string, def int) int {
	v, ok := a[key]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "argument %s=%q: %v\n", key, v, err)
		os.Exit(2)
	}
	return n
}

// report tells the parent key=value, at once.
func report(key string, value any) { fmt.Fprintf(os.Stdout, "%s=%v\n", key, value) }

// failf says on stderr why a helper failed and returns its exit status.
func failf(format string, v ...any) int {
	fmt.Fprintf(os.Stderr, format+"\n", v...)
	return 1
}

// testContext ends a little before the test binary's deadline, so that a
// hung child fails its test with its transcript instead of the binary
// panicking.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	if td, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := td.Deadline(); ok {
			ctx, cancel = context.WithDeadline(context.Background(), dl.Add(-10*time.Second))
		}
	}
	t.Cleanup(cancel)
	return ctx
}

// child is a helper process.
type child struct {
	t    testing.TB
	ctx  context.Context
	name string
	cmd  *exec.Cmd

	mu      sync.Mutex
	vals    map[string]string
	lines   []string
	changed chan struct{} // closed and replaced at every line
	stderr  strings.Builder

	done    chan struct{} // closed when the process has exited and its stdout is read
	waitErr error
}

// startChild starts helper name with args ("key=value"). The child is
// killed when the test ends or this process dies.
func startChild(t testing.TB, ctx context.Context, name string, args ...string) *child {
	t.Helper()
	if _, ok := helpers[name]; !ok {
		t.Fatalf("no helper %q", name)
	}
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"="+name, "GORACE="+childtest.NoRaceExitDelay())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{t: t, ctx: ctx, name: name, cmd: cmd, vals: map[string]string{}, changed: make(chan struct{}), done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{mu: &c.mu, w: &c.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			c.lines = append(c.lines, line)
			if k, v, ok := strings.Cut(line, "="); ok {
				c.vals[k] = v
			}
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stdout)
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.kill)
	return c
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (c *child) String() string { return fmt.Sprintf("%s (pid %d)", c.name, c.cmd.Process.Pid) }

// await waits until the child has reported key with a value ok accepts
// (nil: any) and returns it. It fails the test if the child exits first.
func (c *child) await(key string, ok func(string) bool) string {
	c.t.Helper()
	for {
		c.mu.Lock()
		v, have := c.vals[key]
		changed := c.changed
		c.mu.Unlock()
		if have && (ok == nil || ok(v)) {
			return v
		}
		select {
		case <-changed:
		case <-c.done:
			c.mu.Lock()
			v, have := c.vals[key]
			c.mu.Unlock()
			if have && (ok == nil || ok(v)) {
				return v
			}
			c.t.Fatalf("%s exited (%v) without reporting %s\n%s", c, c.waitErr, key, c.transcript())
		case <-c.ctx.Done():
			c.t.Fatalf("%s: no %s before the test's deadline\n%s", c, key, c.transcript())
		}
	}
}

// awaitInt is await for an integer value.
func (c *child) awaitInt(key string, ok func(int) bool) int {
	c.t.Helper()
	v := c.await(key, func(s string) bool {
		n, err := strconv.Atoi(s)
		return err == nil && (ok == nil || ok(n))
	})
	n, _ := strconv.Atoi(v)
	return n
}

// wait waits for the child to exit and fails the test unless it exited
// with status 0.
func (c *child) wait() map[string]string {
	c.t.Helper()
	select {
	case <-c.done:
	case <-c.ctx.Done():
		c.kill()
		c.t.Fatalf("%s: still running at the test's deadline\n%s", c, c.transcript())
	}
	if c.waitErr != nil {
		c.t.Fatalf("%s: %v\n%s", c, c.waitErr, c.transcript())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.vals))
	for k, v := range c.vals {
		out[k] = v
	}
	return out
}

// kill kills the child with SIGKILL if it still runs, and reaps it.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

func (c *child) transcript() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	lines := c.lines
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return fmt.Sprintf("--- %s stdout (last lines):\n%s\n--- stderr:\n%s", c.name, strings.Join(lines, "\n"), c.stderr.String())
}
