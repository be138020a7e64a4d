package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
)

// Tail, in this process, prints what a producer process sends, and returns
// once the producer has shut the ring down and tail has drained it.
func TestTailPrintsWhatAnotherProcessSends(t *testing.T) {
	for _, kind := range []ring.Kind{ring.SPSC, ring.MPMC} {
		t.Run(kind.String(), func(t *testing.T) {
			path := newRing(t, t.TempDir(), "r", ring.Config{Kind: kind, Capacity: 4, SlotSize: 16})
			prod := startChild(t, "ops-produce", envRing+"="+path, envCount+"=20", envShutdown+"=1")

			type result struct {
				status      int
				out, errOut string
			}
			done := make(chan result, 1)
			go func() {
				status, out, errOut := runCmd("tail", "-text", path)
				done <- result{status, out, errOut}
			}()
			if err := prod.cmd.Wait(); err != nil {
				// Unblock tail before failing.
				_ = openRing(t, path).Shutdown()
				<-done
				t.Fatalf("producer: %v; stderr: %s", err, prod.stderr)
			}
			res := <-done
			require.Equal(t, 0, res.status, res.errOut)
			assert.Empty(t, res.errOut)
			var want strings.Builder
			for i := range 20 {
				fmt.Fprintf(&want, "message %d\n", i)
			}
			assert.Equal(t, want.String(), res.out)

			st := openRing(t, path).Stats()
			assert.Empty(t, st.Processes, "both handles closed: no record is held")
		})
	}
}

func TestTailFormats(t *testing.T) {
	msgs := [][]byte{
		[]byte("hello"),
		{},
		[]byte("tab\there\nnew line\\ \x00\x7f\xff é ✓"),
		bytes.Repeat([]byte{0xab}, 40),
	}
	setup := func(t *testing.T) string {
		path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 8, SlotSize: 64})
		r, err := ring.Open(path)
		require.NoError(t, err)
		for _, m := range msgs {
			require.NoError(t, r.TryPush(m))
		}
		require.NoError(t, r.Shutdown())
		require.NoError(t, r.Close())
		return path
	}

	t.Run("hex", func(t *testing.T) {
		status, out, errOut := runCmd("tail", setup(t))
		require.Equal(t, 0, status, errOut)
		var want strings.Builder
		for i, m := range msgs {
			fmt.Fprintf(&want, "#%d, %d bytes\n%s", i+1, len(m), hex.Dump(m))
		}
		assert.Equal(t, want.String(), out)
	})
	t.Run("text", func(t *testing.T) {
		status, out, errOut := runCmd("tail", "-text", setup(t))
		require.Equal(t, 0, status, errOut)
		assert.Equal(t, "hello\n\n"+`tab\there\nnew line\\ \x00\x7f\xff é ✓`+"\n"+strings.Repeat(`\xab`, 40)+"\n", out)
	})
	t.Run("raw", func(t *testing.T) {
		status, out, errOut := runCmd("tail", "-raw", setup(t))
		require.Equal(t, 0, status, errOut)
		assert.Equal(t, string(bytes.Join(msgs, nil)), out)
	})
	t.Run("-n", func(t *testing.T) {
		path := setup(t)
		status, out, errOut := runCmd("tail", "-n", "1", "-text", path)
		require.Equal(t, 0, status, errOut)
		assert.Equal(t, "hello\n", out)
		// The first tail gave the consumer role back when it stopped, so a
		// second one takes it and goes on where the first stopped.
		status, out, errOut = runCmd("tail", "-n", "2", "-raw", path)
		require.Equal(t, 0, status, errOut)
		assert.Equal(t, string(msgs[2]), out)
		status, out, errOut = runCmd("tail", "-n", "5", "-raw", path)
		require.Equal(t, 0, status, errOut)
		assert.Equal(t, string(msgs[3]), out, "stops at the end of the stream before -n")
	})
	t.Run("bad flags", func(t *testing.T) {
		status, _, errOut := runCmd("tail", "-text", "-raw", "x")
		assert.Equal(t, 1, status)
		assert.Equal(t, "shmring tail: -text and -raw exclude each other\n", errOut)
		status, _, errOut = runCmd("tail", "-n", "-1", "x")
		assert.Equal(t, 1, status)
		assert.Equal(t, "shmring tail: -n -1: must not be negative\n", errOut)
	})
}

func TestTextMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "\n"},
		{"plain text", "plain text\n"},
		{"a\tb\nc\rd\\e", `a\tb\nc\rd\\e` + "\n"},
		{"\x00\x1b[0m\x7f", `\x00\x1b[0m\x7f` + "\n"},
		{"héllo wörld ✓", "héllo wörld ✓\n"},
		{"\xc3", `\xc3` + "\n"},         // a UTF-8 sequence cut short
		{"\xe2\x9c", `\xe2\x9c` + "\n"}, // another
		{"\u200b\u00a0", `\xe2\x80\x8b\xc2\xa0` + "\n"},
	} {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		textMessage(w, 1, []byte(tc.in))
		require.NoError(t, w.Flush())
		assert.Equal(t, tc.want, b.String(), "%q", tc.in)
	}
}

// Tail in a process of its own, as a user runs it: it prints a message as it
// arrives, stops on Ctrl-C with status 0, and gives the consumer role back.
func TestTailInterrupted(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 4, SlotSize: 16})
	tailer := startChild(t, "ops-cli", envArgs+"=tail\n-text\n"+path)
	r := openRing(t, path)
	require.NoError(t, r.Push(context.Background(), []byte("first")))
	assert.Equal(t, "first", tailer.line(t))

	st := r.Stats()
	require.Len(t, st.Processes, 2)
	got := st.Processes[1]
	got.Handle = 0 // the tail child's first handle, whatever its token
	assert.Equal(t, ring.Process{Record: 1, PID: tailer.pid(), Alive: true, Consumes: true}, got)

	require.NoError(t, tailer.cmd.Process.Signal(os.Interrupt))
	assert.Empty(t, tailer.rest(t))
	tailer.wait(t)
	assert.Empty(t, tailer.stderr.String())
	st = r.Stats()
	require.Len(t, st.Processes, 1, "tail closed its handle: only our producer role is left")
	assert.Equal(t, os.Getpid(), st.Processes[0].PID)
}

// Tail on an SPSC ring whose consumer role a live process holds is refused.
func TestTailConsumerBusy(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 4, SlotSize: 16})
	cons := holder(t, path, "consume", 0)
	defer cons.release(t)
	status, out, errOut := runCmd("tail", path)
	assert.Equal(t, 1, status)
	assert.Empty(t, out)
	assert.Regexp(t, fmt.Sprintf(`^shmring tail: %s: .*role is held by .*pid %d\b.*: an SPSC ring has one consumer\n$`, path, cons.pid()), errOut)
}

// Tail stops consuming when its output goes away, rather than eat messages
// it cannot print; and it is not killed by SIGPIPE on the way.
func TestTailOutputClosed(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 4, SlotSize: 16})
	tailer := startChild(t, "ops-cli", envArgs+"=tail\n-text\n"+path)
	r := openRing(t, path)
	require.NoError(t, r.Push(context.Background(), []byte("one")))
	assert.Equal(t, "one", tailer.line(t))
	require.NoError(t, tailer.outPipe.Close()) // the reader goes away
	require.NoError(t, r.Push(context.Background(), []byte("two")))

	err := tailer.cmd.Wait()
	require.Error(t, err, "a failed write is a failure")
	ws := tailer.cmd.ProcessState.Sys().(syscall.WaitStatus)
	assert.False(t, ws.Signaled(), "not killed by a signal")
	assert.Equal(t, 1, ws.ExitStatus())
	assert.Contains(t, tailer.stderr.String(), "broken pipe")
	assert.Empty(t, r.Stats().Processes[1:], "the consumer role was given back")
}
