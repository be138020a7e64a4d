//go:build linux

package shmring_test

// The harness of the multiprocess tests: the test binary starts itself
// again, with SHMRING_TEST_HELPER naming a helper, and TestMain runs that
// helper instead of the tests. So every child process is this same binary,
// built the same way (a -race test binary has -race children).
//
// A helper is a func(args) int in the helpers map; test files register
// theirs in init:
//
//	func init() { helpers["crash-producer"] = crashProducer }
//
// It gets its arguments as key=value pairs, reports to the parent with
// report (key=value lines on stdout, written at once, so the parent can
// wait for one while the child runs) and returns its exit status: exitOK,
// exitFailed (it checked something and found it wrong; say what on stderr),
// exitUsage. The parent side is child: newChild or startChild, then await,
// wait or kill. Every child is killed when its test's context ends, when
// its test ends, and when the parent process dies.
//
// Children fail fast: one that exits with a non-zero status ends its test's
// context (testContext), which kills the others and makes whatever the test
// waits for fail with that child's transcript, rather than leave the test to
// hang until its deadline on a peer that waits for the failed child. Set
// mayFail on a child that is meant to die (it kills itself, say); children
// killed with kill are expected to die.
//
// The tests are Linux-only (memfd, /dev/shm, futex, /proc): test files that
// use this harness need the same build constraint.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shmring/shmring/internal/childtest"
	"github.com/shmring/shmring/internal/faultinject"
)

// helperEnv names the helper a re-executed test binary runs.
const helperEnv = "SHMRING_TEST_HELPER"

// helpers are the child programs, by name.
var helpers = map[string]func(a args) int{}

// Exit statuses of helpers.
const (
	exitOK     = 0
	exitFailed = 1 // a check failed: the helper says which on stderr
	exitUsage  = 2 // bad arguments, or a setup step failed
)

func TestMain(m *testing.M) {
	run := make(map[string]func() int, len(helpers))
	for name, h := range helpers {
		run[name] = func() int { return runHelper(name, h) }
	}
	childtest.Main(m, helperEnv, run, func() {
		if faultBin.dir != "" {
			_ = os.RemoveAll(faultBin.dir)
		}
	})
}

// faultBin is this test package built with the tag shmring_faults, which
// compiles the fault points into the ring's own functions, fast paths
// included (see internal/faultinject). Every child process runs it: a child
// that is not armed runs exactly the production code, and one that is dies
// at the point it was armed for.
var faultBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// childBinary returns the program child processes run: this test binary if
// it was built with the fault points, else the faults build of it, made once.
func childBinary(t testing.TB) string {
	t.Helper()
	if faultinject.Enabled {
		return os.Args[0]
	}
	faultBin.once.Do(func() {
		faultBin.dir, faultBin.err = os.MkdirTemp("", "shmring-faults-")
		if faultBin.err != nil {
			return
		}
		faultBin.path = filepath.Join(faultBin.dir, "shmring-faults.test")
		goTool, err := exec.LookPath("go")
		if err != nil {
			faultBin.err = err
			return
		}
		buildArgs := []string{"test", "-c", "-tags", "shmring_faults", "-o", faultBin.path}
		if raceEnabled {
			buildArgs = append(buildArgs, "-race")
		}
		cmd := exec.Command(goTool, append(buildArgs, ".")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			faultBin.err = fmt.Errorf("go %s: %v\n%s", strings.Join(buildArgs, " "), err, out)
		}
	})
	if faultBin.err != nil {
		t.Fatalf("building the child processes' binary: %v", faultBin.err)
	}
	return faultBin.path
}

// runHelper runs helper h with the key=value arguments of this process.
func runHelper(name string, h func(args) int) int {
	a := args{}
	for _, kv := range helperArgs(os.Args) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "%s: argument %q is not key=value\n", name, kv)
			return exitUsage
		}
		a[k] = v
	}
	return h(a)
}

// helperArgs returns the arguments after "--": what comes before is for
// the testing package of the child, which never parses it.
func helperArgs(argv []string) []string {
	for i, s := range argv {
		if s == "--" {
			return argv[i+1:]
		}
	}
	return nil
}

// ---- In the child ----

// args are a helper's arguments.
type args map[string]string

// str returns the value of key, or def if the parent did not give it.
func (a args) str(key, def string) string {
	if v, ok := a[key]; ok {
		return v
	}
	return def
}

// int returns the value of key as an integer, or def. A value that is not
// an integer ends the helper with exitUsage.
func (a args) int(key string, def int) int {
	v, ok := a[key]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "argument %s=%q: %v\n", key, v, err)
		os.Exit(exitUsage)
	}
	return n
}

func (a args) bool(key string) bool { return a.int(key, 0) != 0 }

// report tells the parent key=value. It writes straight to the stdout
// descriptor, with no buffer: the parent may be waiting for this line
// while the child goes on (or is about to be killed).
func report(key string, value any) {
	fmt.Fprintf(os.Stdout, "%s=%v\n", key, value)
}

// failf explains on stderr why a helper failed and returns exitFailed.
func failf(format string, v ...any) int {
	fmt.Fprintf(os.Stderr, format+"\n", v...)
	return exitFailed
}

// usagef explains on stderr why a helper could not run and returns exitUsage.
func usagef(format string, v ...any) int {
	fmt.Fprintf(os.Stderr, format+"\n", v...)
	return exitUsage
}

// blockUntilKilled never returns: for helpers whose parent kills them at a
// chosen moment (they report first, then wait here).
func blockUntilKilled() {
	for {
		time.Sleep(time.Hour)
	}
}

// ---- In the parent ----

// testContext returns the context of a test's children. It ends after d,
// or a little before the test binary's own deadline (-timeout), whichever is
// first, so that a hung child fails its test with an explanation instead of
// the binary panicking; and it ends as soon as a child fails (see the top
// of this file), with that failure as its cause.
func testContext(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	deadline := time.Now().Add(d)
	if td, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := td.Deadline(); ok && dl.Add(-5*time.Second).Before(deadline) {
			deadline = dl.Add(-5 * time.Second)
		}
	}
	ctx, fail := context.WithCancelCause(context.Background())
	ctx, cancel := context.WithDeadline(ctx, deadline)
	t.Cleanup(func() { cancel(); fail(nil) })
	return context.WithValue(ctx, failKey{}, fail)
}

// failKey keys the function with which a failing child ends its test's
// context.
type failKey struct{}

// why tells why ctx ended: a child's failure, or the deadline.
func why(ctx context.Context) error { return context.Cause(ctx) }

// child is a helper process started by a test.
type child struct {
	t    testing.TB
	ctx  context.Context
	name string
	cmd  *exec.Cmd // set up by newChild; the caller may add to it before start
	out  reportLog
	err  syncBuffer

	// mayFail: a non-zero exit does not fail the test at once (see the top
	// of this file). Set it before start.
	mayFail bool
	killed  atomic.Bool // kill has been called

	done    chan struct{} // closed once the process has exited, been reaped, and its stdout read to the end
	waitErr error         // cmd.Wait's result; read after done
	failed  bool          // this child's failure ended the test's context; read after done
}

// newChild prepares a child that runs helper name with args ("key=value").
// It is not started: the caller may share a ring with it (r.Share(c.cmd,
// "ring")) or add environment variables to c.cmd.Env, then calls start.
//
// The child is killed with SIGKILL when ctx ends, when the test ends, and
// when this process dies (PR_SET_PDEATHSIG), so that a failing test does
// not leave processes behind.
func newChild(ctx context.Context, t testing.TB, name string, args ...string) *child {
	t.Helper()
	if _, ok := helpers[name]; !ok {
		t.Fatalf("no helper %q", name)
	}
	argv := append([]string{"-test.run=^$", "--"}, args...)
	cmd := exec.CommandContext(ctx, childBinary(t), argv...)
	cmd.Env = append(os.Environ(), helperEnv+"="+name, "GORACE="+childtest.NoRaceExitDelay())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 10 * time.Second // a grandchild holding stdout must not hang Wait
	c := &child{t: t, ctx: ctx, name: name, cmd: cmd, done: make(chan struct{})}
	c.out.changed = make(chan struct{})
	cmd.Stdout = &c.out
	cmd.Stderr = &c.err
	return c
}

// startChild is newChild and start.
func startChild(ctx context.Context, t testing.TB, name string, args ...string) *child {
	t.Helper()
	return newChild(ctx, t, name, args...).start()
}

// start starts the child.
func (c *child) start() *child {
	c.t.Helper()
	if err := c.cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", c.name, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		if c.waitErr != nil && !c.mayFail && !c.killed.Load() && c.ctx.Err() == nil {
			if fail, ok := c.ctx.Value(failKey{}).(context.CancelCauseFunc); ok {
				c.failed = true
				fail(fmt.Errorf("%s failed: %v\n%s", c, c.waitErr, c.transcript()))
			}
		}
		close(c.done)
	}()
	c.t.Cleanup(c.kill)
	return c
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) String() string {
	if c.cmd.Process == nil {
		return c.name
	}
	return fmt.Sprintf("%s (pid %d)", c.name, c.pid())
}

// await waits until the child has reported key with a value for which ok
// returns true (nil: any value) and returns that value. It fails the test if
// the child exits first or the context ends.
func (c *child) await(key string, ok func(v string) bool) string {
	c.t.Helper()
	for {
		v, have, changed := c.out.get(key)
		if have && (ok == nil || ok(v)) {
			return v
		}
		select {
		case <-changed:
		case <-c.done:
			// Its stdout is complete now: one last look.
			if v, have, _ := c.out.get(key); have && (ok == nil || ok(v)) {
				return v
			}
			c.t.Fatalf("%s exited (%v) without reporting the %s awaited\n%s", c, c.waitErr, key, c.transcript())
		case <-c.ctx.Done():
			c.t.Fatalf("%s: no %s awaited before the test's context ended: %v\n%s", c, key, why(c.ctx), c.transcript())
		}
	}
}

// result waits for the child to exit and returns what it reported and how
// it exited (nil: status 0).
func (c *child) result() (results, error) {
	<-c.done // the context kills the child when it ends: this ends
	if c.waitErr != nil && c.ctx.Err() != nil && !c.killed.Load() && !c.failed {
		return c.out.values(), fmt.Errorf("%w: killed because the test's context ended: %v", c.waitErr, why(c.ctx))
	}
	return c.out.values(), c.waitErr
}

// wait waits for the child to exit and returns what it reported; it fails
// the test unless the child exited with status 0.
func (c *child) wait() results {
	c.t.Helper()
	rep, err := c.result()
	if err != nil {
		c.t.Fatalf("%s: %v\n%s", c, err, c.transcript())
	}
	return rep
}

// kill kills the child with SIGKILL, if it still runs, and reaps it: once
// kill returns, the process is gone (not a zombie), as a peer that checks
// /proc will find.
func (c *child) kill() {
	if c.cmd.Process == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.killed.Store(true)
	_ = c.cmd.Process.Kill()
	<-c.done
}

// transcript is the child's output, for failure messages.
func (c *child) transcript() string {
	return fmt.Sprintf("--- %s stdout (last lines):\n%s--- %s stderr:\n%s", c, c.out.tail(), c, c.err.String())
}

// results are what a child reported: the last value of each key.
type results map[string]string

// int returns the integer value of key, failing the test if there is none.
func (r results) int(t testing.TB, key string) int {
	t.Helper()
	v, ok := r[key]
	if !ok {
		t.Fatalf("no %s in the child's report %v", key, r)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q in the child's report: %v", key, v, err)
	}
	return n
}

// reportLog collects a child's stdout: the key=value lines as a map, and
// the last lines as they were, for failure messages.
type reportLog struct {
	mu      sync.Mutex
	partial []byte
	vals    results
	last    []string      // the last few lines
	changed chan struct{} // closed (and replaced) when a line arrives
}

const keepLines = 20

func (l *reportLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	got := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if k, v, ok := strings.Cut(line, "="); ok && k != "" && !strings.ContainsAny(k, " \t") {
			if l.vals == nil {
				l.vals = results{}
			}
			l.vals[k] = v
		}
		if len(l.last) == keepLines {
			l.last = l.last[1:]
		}
		l.last = append(l.last, line)
		got = true
	}
	if got {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// get returns the value of key, whether there is one, and a channel closed
// when the next line arrives.
func (l *reportLog) get(key string) (string, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.vals[key]
	return v, ok, l.changed
}

func (l *reportLog) values() results {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := make(results, len(l.vals))
	for k, v := range l.vals {
		r[k] = v
	}
	return r
}

func (l *reportLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, s := range l.last {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.String()
}

// syncBuffer is a bytes.Buffer that a child's stderr may write while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitUntil polls cond until it holds, failing the test if ctx ends first.
// It synchronises on state another process makes (a word in a ring, say),
// which no channel can carry; the pause between looks only spares the CPU.
func waitUntil(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, why(ctx))
		case <-time.After(time.Millisecond):
		}
	}
}
