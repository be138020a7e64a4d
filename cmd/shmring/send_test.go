package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
)

// withStdin runs send's reads from r for the rest of the test.
func withStdin(t *testing.T, r io.Reader) {
	old := stdin
	stdin = r
	t.Cleanup(func() { stdin = old })
}

// Send, in this process, reads a pipe and pushes its lines into a ring that
// a consumer process drains. The ring is smaller than the input, so send
// waits for room; -shutdown ends the consumer.
func TestSendToAnotherProcess(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			path := newRing(t, t.TempDir(), "r", cfgOf(kind, 2, 16))
			cons := startChild(t, "ops-consume", envRing+"="+path)

			pr, pw, err := os.Pipe()
			require.NoError(t, err)
			defer pr.Close()
			withStdin(t, pr)
			lines := []string{"alpha", "beta", "", "gamma delta"}
			for i := range 50 {
				lines = append(lines, fmt.Sprintf("line %d", i))
			}
			go func() {
				w := bufio.NewWriterSize(pw, 16) // several writes: messages arrive in pieces
				for _, l := range lines {
					fmt.Fprintf(w, "%s\n", l)
				}
				w.WriteString("no newline")
				w.Flush()
				pw.Close()
			}()

			status, out, errOut := runCmd("send", "-shutdown", path)
			require.Equal(t, 0, status, errOut)
			assert.Empty(t, errOut)
			assert.Equal(t, fmt.Sprintf("sent %d messages to %s\n", len(lines)+1, path), out)

			var want strings.Builder
			for _, l := range append(lines, "\nno newline") { // a last line without a newline is marked
				fmt.Fprintf(&want, "%q\n", l)
			}
			assert.Equal(t, want.String(), cons.rest(t))
			cons.wait(t)
		})
	}
}

func TestSendFormats(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flags  []string
		input  string
		status int
		sent   int
		want   []string
		errOut string
	}{
		{"lines", nil, "a\nbb\n\nccc\n", 0, 4, []string{"a", "bb", "", "ccc"}, ""},
		{"no last newline", nil, "a\n\nccc", 0, 3, []string{"a", "", "\nccc"}, ""},
		{"only a line without newline", nil, "x", 0, 1, []string{"\nx"}, ""},
		{"empty input", nil, "", 0, 0, nil, ""},
		{"one empty line", nil, "\n", 0, 1, []string{""}, ""},
		{"a whole slot", nil, "12345678\n", 0, 1, []string{"12345678"}, ""},
		{"a whole slot with the mark", nil, "1234567", 0, 1, []string{"\n1234567"}, ""},
		{"the mark does not fit", nil, "a\n12345678", 1, 1, []string{"a"},
			"shmring send: message 2, a last line without a newline, is 9 bytes with the newline that marks it, more than the slot size of 8: stopped after 1 message\n"},
		{"NUL", []string{"-0"}, "a\x00b\nc\x00\x00", 0, 3, []string{"a", "b\nc", ""}, ""},
		{"NUL, no last NUL", []string{"-0"}, "a\x00b\n", 0, 2, []string{"a", "\x00b\n"}, ""},
		{"NUL, the mark does not fit", []string{"-0"}, "12345678", 1, 0, nil,
			"shmring send: message 1, a last line without a NUL, is 9 bytes with the NUL that marks it, more than the slot size of 8: stopped after 0 messages\n"},
		{"raw", []string{"-raw"}, "x\ny\x00z\n", 0, 1, []string{"x\ny\x00z\n"}, ""},
		{"raw empty", []string{"-raw"}, "", 0, 1, []string{""}, ""},
		{"too long stops", []string{"-shutdown"}, "short\nthis is too long\nafter\n", 1, 1, []string{"short"},
			"shmring send: message 2 is 16 bytes, more than the slot size of 8: stopped after 1 message\n"},
		{"raw too long", []string{"-raw"}, "123456789", 1, 0, nil,
			"shmring send: standard input holds more than the slot size of 8 bytes: stopped after 0 messages\n"},
		{"-0 and -raw", []string{"-0", "-raw"}, "", 2, -1, nil, "shmring send: -0 and -raw exclude each other\n\n" + sendSpec.usage()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 16, SlotSize: 8})
			withStdin(t, strings.NewReader(tc.input))
			status, out, errOut := runCmd(append(append([]string{"send"}, tc.flags...), path)...)
			assert.Equal(t, tc.status, status)
			assert.Equal(t, tc.errOut, errOut)
			if tc.sent >= 0 {
				assert.Equal(t, fmt.Sprintf("sent %s to %s\n", plural(tc.sent, "message"), path), out)
			}
			r := openRing(t, path)
			assert.Equal(t, tc.want, drain(t, r))
			assert.False(t, r.IsShutdown(), "no -shutdown after an error")
		})
	}
}

func TestSendShutdownAtEOF(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.MPMC, Capacity: 4, SlotSize: 8})
	withStdin(t, strings.NewReader("x\n"))
	status, _, errOut := runCmd("send", "-shutdown", path)
	require.Equal(t, 0, status, errOut)
	r := openRing(t, path)
	assert.True(t, r.IsShutdown())
	assert.Equal(t, []string{"x"}, drain(t, r))

	// Into a ring that is shut down, nothing goes.
	withStdin(t, strings.NewReader("y\n"))
	status, out, errOut := runCmd("send", path)
	assert.Equal(t, 1, status)
	assert.Equal(t, "sent 0 messages to "+path+"\n", out)
	assert.Equal(t, "shmring send: "+path+" was shut down: stopped after 0 messages\n", errOut)
}

// Send on an SPSC ring whose producer role a live process holds is refused.
func TestSendProducerBusy(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 4, SlotSize: 16})
	prod := holder(t, path, "produce", 0)
	defer prod.release(t)
	withStdin(t, strings.NewReader("x\n"))
	status, _, errOut := runCmd("send", path)
	assert.Equal(t, 1, status)
	assert.Regexp(t, fmt.Sprintf(`^shmring send: %s: .*role is held by .*pid %d\b.*: an SPSC ring has one producer\n$`, path, prod.pid()), errOut)
}

func TestSendMissingRing(t *testing.T) {
	withStdin(t, strings.NewReader("x\n"))
	status, out, errOut := runCmd("send", "/nonexistent/ring")
	assert.Equal(t, 1, status)
	assert.Empty(t, out)
	assert.Equal(t, "shmring send: open /nonexistent/ring: no such file or directory\n", errOut)
}

// readMessage across bufio's buffer: messages longer than the buffer, and
// the length of one too long to keep.
func TestReadMessage(t *testing.T) {
	long := strings.Repeat("x", 100)
	br := bufio.NewReaderSize(strings.NewReader("a\n"+long+"\n"+long+"y\n\nlast"), 16)
	type res struct {
		msg   string
		n     int64
		ended bool
		err   error
	}
	var got []res
	for {
		msg, n, ended, err := readMessage(br, '\n', 101)
		got = append(got, res{string(msg), n, ended, err})
		if err != nil {
			break
		}
	}
	assert.Equal(t, []res{
		{"a", 1, true, nil},
		{long, 100, true, nil},
		{long + "y", 101, true, nil},
		{"", 0, true, nil},
		{"last", 4, false, nil},
		{"", 0, false, io.EOF},
	}, got)

	br = bufio.NewReaderSize(strings.NewReader(long+"\nok\n"), 16)
	msg, n, ended, err := readMessage(br, '\n', 10)
	require.NoError(t, err)
	assert.Equal(t, int64(100), n, "the whole length, though not kept")
	assert.True(t, ended)
	assert.LessOrEqual(t, len(msg), 10)
	msg, n, _, err = readMessage(br, '\n', 10)
	require.NoError(t, err)
	assert.Equal(t, "ok", string(msg))
	assert.Equal(t, int64(2), n)
}

// Send waits for room in a full ring until it is interrupted.
func TestSendInterruptedWhileFull(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.MPMC, Capacity: 2, SlotSize: 8})
	r := openRing(t, path)
	require.NoError(t, r.TryPush([]byte("1")))
	require.NoError(t, r.TryPush([]byte("2")))

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // an interrupt, already delivered: without it send would wait for ever
	s, err := ring.Open(path)
	require.NoError(t, err)
	defer s.Close()
	sent, err := send(ctx, s, strings.NewReader("a\nb\n"), &sendOptions{shutdown: true})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 0, sent)
	assert.False(t, r.IsShutdown(), "an interrupted send does not shut the ring down")
	assert.Equal(t, []string{"1", "2"}, drain(t, r))
}
