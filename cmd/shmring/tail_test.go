package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
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
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			path := newRing(t, t.TempDir(), "r", cfgOf(kind, 4, 16))
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
			fmt.Fprintf(&want, "#%d, %s\n%s", i+1, plural(len(m), "byte"), hex.Dump(m))
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
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"-text", "-raw", "x"}, "-text, -lines (or -0) and -raw exclude each other"},
			{[]string{"x", "-lines", "-text"}, "-text, -lines (or -0) and -raw exclude each other"},
			{[]string{"-0", "x", "-raw"}, "-text, -lines (or -0) and -raw exclude each other"},
			{[]string{"-n", "-1", "x"}, "-n -1: must not be negative"},
			{[]string{"x", "-n", "many"}, `invalid value "many" for flag -n: parse error`},
		} {
			status, out, errOut := runCmd(append([]string{"tail"}, tc.args...)...)
			assert.Equal(t, 2, status, "%q", tc.args)
			assert.Empty(t, out)
			assert.Equal(t, "shmring tail: "+tc.want+"\n\n"+tailSpec.usage(), errOut, "%q", tc.args)
		}
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
		textMessage(&b, 1, []byte(tc.in))
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

// Tail's reader goes away while tail waits for messages: tail sees it at
// once (not at its next write), stops without taking another message, and
// gives the consumer role back.
func TestTailOutputClosed(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			path := newRing(t, t.TempDir(), "r", cfgOf(kind, 4, 16))
			tailer := startChild(t, "ops-cli", envArgs+"=tail\n"+path+"\n-text")
			r := openRing(t, path)
			require.NoError(t, r.Push(context.Background(), []byte("one")))
			assert.Equal(t, "one", tailer.line(t))
			require.NoError(t, tailer.outPipe.Close()) // the reader goes away

			err := tailer.cmd.Wait()
			require.Error(t, err, "a reader gone is a failure")
			ws := tailer.cmd.ProcessState.Sys().(syscall.WaitStatus)
			assert.False(t, ws.Signaled(), "not killed by a signal")
			assert.Equal(t, 1, ws.ExitStatus())
			assert.Equal(t, "shmring tail: broken pipe (the reader of standard output went away): stopped after 1 message\n",
				tailer.stderr.String())
			for _, p := range r.Stats().Processes {
				assert.NotEqual(t, tailer.pid(), p.PID, "tail gave its record back")
			}
			require.NoError(t, r.Push(context.Background(), []byte("two")))
			assert.Equal(t, []string{"two"}, drain(t, r))
		})
	}
}

// kept is where Consume keeps a message fn refused: first in line on a
// ring with one consumer, queued again at the tail of an MPMC ring. msgs
// are the messages queued, and refused is the index of the refused one.
func kept(kind ring.Kind, msgs []string, refused int) []string {
	if kind != ring.MPMC {
		return msgs[refused:]
	}
	return append(append([]string{}, msgs[refused+1:]...), msgs[refused])
}

// Tail with standard output on /dev/full: every write fails. Tail stops at
// the first failure with status 1, and every message is still in the ring:
// the one it could not write too, where the kind of ring keeps it.
func TestTailStdoutFull(t *testing.T) {
	const n = 5
	for _, kind := range allKinds {
		for _, mode := range []string{"-lines", "-text", "-raw", "-hex"} {
			t.Run(kind.String()+mode, func(t *testing.T) {
				path := newRing(t, t.TempDir(), "r", cfgOf(kind, 8, 16))
				r := openRing(t, path)
				var want []string
				for i := range n {
					want = append(want, fmt.Sprintf("message %d", i))
					require.NoError(t, r.TryPush([]byte(want[i])))
				}
				args := "tail\n" + path
				if mode != "-hex" {
					args += "\n" + mode
				}
				status, stderr := tailToDevFull(t, args)
				assert.Equal(t, 1, status)
				where := "first in line"
				if kind == ring.MPMC {
					where = "queued again at the tail"
				}
				assert.Equal(t, "shmring tail: write /dev/stdout: no space left on device: stopped after 0 messages; message 1 is still in "+
					path+", "+where+"\n", stderr)

				assert.Equal(t, n, r.Len(), "no message left the ring")
				assert.Equal(t, kept(kind, want, 0), drain(t, r))
			})
		}
	}
}

// What remains: an MPMC ring that is full when tail refuses a message has
// no room to queue it again (the slot tail holds is freed only after), so
// that message is lost, and tail says so.
func TestTailStdoutFullMPMCRingFull(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.MPMC, Capacity: 4, SlotSize: 16})
	r := openRing(t, path)
	for i := range 4 {
		require.NoError(t, r.TryPush(fmt.Appendf(nil, "message %d", i)))
	}
	status, stderr := tailToDevFull(t, "tail\n-lines\n"+path)
	assert.Equal(t, 1, status)
	assert.Regexp(t, `^shmring tail: message 1: write /dev/stdout: no space left on device; .*could not be queued again: .*: stopped after 0 messages; that message is lost\n$`, stderr)
	assert.Equal(t, []string{"message 1", "message 2", "message 3"}, drain(t, r))
}

// tailToDevFull runs the command line args (one argument per line) in a
// child process whose standard output is /dev/full, and returns its exit
// status and what it printed on stderr.
func tailToDevFull(t *testing.T, args string) (int, string) {
	t.Helper()
	cmd := helperCmd(t, "ops-cli", envArgs+"="+args)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	require.NoError(t, err)
	defer full.Close()
	cmd.Stdout = full
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "stderr: %s", stderr.String())
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// "tail | head -1" with more queued than the pipe holds: head reads a
// little and exits while tail is writing. Tail's account is exact: every
// message that left the ring was written (what head did not read went away
// with the pipe), and the one whose write failed is still in the ring with
// all the others.
func TestTailIntoHead(t *testing.T) {
	head, err := exec.LookPath("head")
	if err != nil {
		t.Skip("no head command:", err)
	}
	const n = 256
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			path := newRing(t, t.TempDir(), "r", cfgOf(kind, n, 1024))
			r := openRing(t, path)
			var msgs []string
			for i := range n { // 256 KiB: four times what a pipe holds
				msgs = append(msgs, fmt.Sprintf("%04d %s", i, strings.Repeat("x", 1000)))
				require.NoError(t, r.TryPush([]byte(msgs[i])))
			}
			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			tailer := helperCmd(t, "ops-cli", envArgs+"=tail\n-lines\n"+path)
			tailer.Stdout = pw
			var tailErr strings.Builder
			tailer.Stderr = &tailErr
			reader := exec.Command(head, "-1")
			reader.Stdin = pr
			var headOut strings.Builder
			reader.Stdout = &headOut
			require.NoError(t, tailer.Start())
			require.NoError(t, reader.Start())
			pr.Close()
			pw.Close()

			require.NoError(t, reader.Wait())
			assert.Equal(t, msgs[0]+"\n", headOut.String())
			require.Error(t, tailer.Wait())
			assert.Equal(t, 1, tailer.ProcessState.ExitCode())

			m := regexp.MustCompile(`^shmring tail: (?:` +
				`broken pipe \(the reader of standard output went away\): stopped after (\d+) messages?|` +
				`write /dev/stdout: broken pipe: stopped after (\d+) messages?; message (\d+) is still in .*, (?:first in line|queued again at the tail))\n$`).
				FindStringSubmatch(tailErr.String())
			require.NotNil(t, m, "tail's stderr: %q", tailErr.String())
			left := drain(t, r)
			if m[1] != "" { // stopped before it took the next message
				written, _ := strconv.Atoi(m[1])
				t.Logf("%d messages written, %d left in the ring", written, len(left))
				assert.Equal(t, msgs[written:], left)
				return
			}
			written, _ := strconv.Atoi(m[2])
			which, _ := strconv.Atoi(m[3])
			assert.Equal(t, written+1, which, "the message after the last one written")
			t.Logf("%d messages written, message %d refused, %d left in the ring", written, which, len(left))
			assert.Equal(t, kept(kind, msgs[written:], 0), left)
		})
	}
}

// tail -lines gives back exactly what send read: empty lines, bytes that
// are not UTF-8, a last line without a newline; and so do tail -0 for
// send -0 and tail -raw -n 1 for send -raw.
func TestTailLinesInverseOfSend(t *testing.T) {
	files := []string{
		"",
		"\n",
		"\n\n\n",
		"one line\n",
		"no newline",
		"a\nb",
		"a\n\nb\n\n",
		"\nstarts with an empty line",
		"\xff\xfe\x00\x80 not UTF-8\n\xc3(",
		"tab\there\r\nCRLF\r\n",
		"é ✓\n\u200b\n",
		strings.Repeat("x", 256) + "\n" + strings.Repeat("y", 255), // with slots of 256 bytes: one full, and one full with the mark
	}
	// With -0, NUL bytes and newlines swap places in the same files.
	swap := strings.NewReplacer("\n", "\x00", "\x00", "\n")
	for _, kind := range allKinds {
		for _, mode := range []struct {
			name       string
			send, tail []string
			file       func(string) string
			slot       int
		}{
			{"lines", nil, []string{"-lines"}, func(f string) string { return f }, 256},
			{"NUL", []string{"-0"}, []string{"-0"}, swap.Replace, 256},
			{"NUL as -lines -0", []string{"-0"}, []string{"-lines", "-0"}, swap.Replace, 256},
			{"raw", []string{"-raw"}, []string{"-raw", "-n", "1"}, func(f string) string { return f }, 1024}, // a file a message
		} {
			t.Run(kind.String()+" "+mode.name, func(t *testing.T) {
				for _, f := range files {
					f = mode.file(f)
					path := newRing(t, t.TempDir(), "r", cfgOf(kind, 16, mode.slot))
					withStdin(t, strings.NewReader(f))
					status, _, errOut := runCmd(append(append([]string{"send", "-shutdown"}, mode.send...), path)...)
					require.Equal(t, 0, status, "%q: %s", f, errOut)
					status, out, errOut := runCmd(append(append([]string{"tail"}, mode.tail...), path)...)
					require.Equal(t, 0, status, "%q: %s", f, errOut)
					assert.Equal(t, f, out, "%q", f)
				}
			})
		}
	}
}

// Messages from producers other than send print under -lines as they are,
// each followed by a newline, but for one that starts with a newline, which
// send makes only of a last line without one.
func TestTailLinesOtherMessages(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 8, SlotSize: 16})
	r := openRing(t, path)
	for _, m := range []string{"plain", "two\nlines", "ends in\n", "", "\nmarked"} {
		require.NoError(t, r.TryPush([]byte(m)))
	}
	require.NoError(t, r.Shutdown())
	status, out, errOut := runCmd("tail", "-lines", path)
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "plain\ntwo\nlines\nends in\n\n\nmarked", out)
}

// A writer that fails after ok writes.
type failingWriter struct {
	ok     int
	writes []string
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(w.writes) == w.ok {
		return 0, errors.New("disk on fire")
	}
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// Each message reaches the writer in one Write of its own, before tail
// takes the next; the first one it fails to write stays in the ring, and
// tail takes nothing more.
func TestTailWritesEachMessage(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			path := newRing(t, t.TempDir(), "r", cfgOf(kind, 8, 16))
			r := openRing(t, path)
			for _, m := range []string{"a", "", "ccc", "dddd", "eeeee"} {
				require.NoError(t, r.TryPush([]byte(m)))
			}
			tr, err := ring.Open(path)
			require.NoError(t, err)
			w := &failingWriter{ok: 3}
			format := func(w *bytes.Buffer, _ int, msg []byte) { appendLine(w, '\n', msg) }
			printed, err := tail(context.Background(), tr, 0, format, w)
			require.NoError(t, tr.Close()) // gives the consumer role back for drain
			assert.Equal(t, 3, printed)
			var we *writeError
			require.ErrorAs(t, err, &we)
			assert.Equal(t, 4, we.seq)
			assert.EqualError(t, err, "message 4: disk on fire")
			assert.Equal(t, []string{"a\n", "\n", "ccc\n"}, w.writes)
			assert.Equal(t, kept(kind, []string{"a", "", "ccc", "dddd", "eeeee"}, 3), drain(t, r), "message 4, refused, is kept")
		})
	}
}
