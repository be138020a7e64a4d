package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

type tailOptions struct {
	n     int
	text  bool
	raw   bool
	lines bool
	nul   bool
}

var tailSpec = &cmdSpec[tailOptions]{
	name:  "tail",
	synop: "shmring tail [-n N] [-text | -lines | -0 | -raw] PATH",
	about: `
Tail consumes the messages of the ring in the file PATH (a bare name means
/dev/shm/NAME) as they arrive and prints them: as a hex dump under a line
"#N, L bytes" (default); as one line of text per message with -text (tabs,
newlines, backslashes, non-printable and invalid UTF-8 bytes escaped); as
the lines send read with -lines, or with -0 NUL-separated as send -0 read
them; or as the raw bytes with -raw (nothing between messages).

-lines is the inverse of send: "send PATH <f" and then "tail -lines PATH >g"
make g the same bytes as f, with empty lines, bytes that are not UTF-8, and
a last line without a newline (send sends it with a newline in front, which
no other line's message holds, and tail -lines prints it without that
newline and without one after it). Every other message is printed as it
is, followed by a newline. -0 does the same with NUL bytes for newlines, as
the inverse of send -0; -raw with -n 1 is the inverse of send -raw.

Tail is a consumer, and what it prints is gone from the ring: on an SPSC ring
it takes the consumer role, and fails if another live process holds it; on an
MPMC ring it competes with the other consumers, and each message goes to one
of them. It waits for messages, and across the death of a producer for the
next one, until the ring is shut down and drained, -n messages are printed,
or it is interrupted (Ctrl-C); then it closes its handle, which gives the
role back, and exits 0.

Tail writes each message to standard output before it takes the next, and
stops at the first write that fails, with status 1. When standard output is
a pipe or a socket whose reader goes away (tail PATH | head -1), it stops as
soon as it sees that, taking nothing more. A write that fails while it is
under way loses the message being written: the ring cannot take back a
message it has handed out, so that one is gone, and tail says which it was.`,
	flags: func(fs *flag.FlagSet) *tailOptions {
		o := &tailOptions{}
		fs.IntVar(&o.n, "n", 0, "stop after `N` messages (0: no limit)")
		fs.BoolVar(&o.text, "text", false, "print each message as a line of escaped text")
		fs.BoolVar(&o.lines, "lines", false, "print each message as the line send read (the inverse of send)")
		fs.BoolVar(&o.nul, "0", false, "like -lines, with NUL bytes for newlines (the inverse of send -0)")
		fs.BoolVar(&o.raw, "raw", false, "print the messages' bytes as they are")
		return o
	},
	check: func(o *tailOptions) error {
		if o.n < 0 {
			return fmt.Errorf("-n %d: must not be negative", o.n)
		}
		modes := 0
		for _, on := range []bool{o.text, o.raw, o.lines || o.nul} {
			if on {
				modes++
			}
		}
		if modes > 1 {
			return errors.New("-text, -lines (or -0) and -raw exclude each other")
		}
		return nil
	},
}

func init() {
	register(&command{name: "tail", summary: "consume and print messages as they arrive", usage: tailSpec.usage(), run: runTail})
}

// formatFunc writes message number seq (from 1), msg, to w as a tail mode
// prints it.
type formatFunc func(w *bytes.Buffer, seq int, msg []byte)

func runTail(args []string, stdout, stderr io.Writer) int {
	o, rest, status, ok := tailSpec.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return status
	}
	format := hexMessage
	switch {
	case o.text:
		format = textMessage
	case o.raw:
		format = rawMessage
	case o.nul:
		format = func(w *bytes.Buffer, _ int, msg []byte) { appendLine(w, 0, msg) }
	case o.lines:
		format = func(w *bytes.Buffer, _ int, msg []byte) { appendLine(w, '\n', msg) }
	}
	interrupted, stop := interruptible()
	defer stop()
	// A reader that goes away (tail | head) must not kill us with SIGPIPE
	// while we hold the consumer role: the write fails instead, and we close.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	ctx, cancel := context.WithCancelCause(interrupted)
	defer cancel(nil)
	watch := watchOutput(stdout, func() { cancel(errOutputGone) })
	defer watch.stop()

	p := shm.Resolve(rest[0])
	var r *ring.Ring
	err := guard(func() (err error) {
		r, err = ring.Open(p)
		return err
	})
	if err != nil {
		return failf(stderr, "tail", "%v", err)
	}
	r.SetOptions(ring.Options{WaitForPeer: true})
	var printed int
	err = guard(func() (err error) {
		printed, err = tail(ctx, r, o.n, format, stdout, watch.gone)
		return err
	})
	if cerr := guard(r.Close); err == nil {
		err = cerr
	}
	var lost *lostError
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, context.Canceled):
		return statusOK // the end of the stream, -n, or an interrupt
	case errors.Is(err, errOutputGone):
		return failf(stderr, "tail", "%v: stopped after %s, none lost", err, plural(printed, "message"))
	case errors.As(err, &lost):
		return failf(stderr, "tail", "%v: stopped after %s; message %d, taken from %s, is lost",
			lost.err, plural(printed, "message"), lost.seq, p)
	case errors.Is(err, ring.ErrBusy):
		return failf(stderr, "tail", "%s: %v: an SPSC ring has one consumer", p, err)
	}
	return failf(stderr, "tail", "%s: %v", p, err)
}

// errOutputGone is why tail stops when the reader of its standard output
// (a pipe or a socket) has gone away before tail took another message.
var errOutputGone = fmt.Errorf("%w (the reader of standard output went away)", syscall.EPIPE)

// lostError is a message tail took from the ring but could not write.
type lostError struct {
	seq int // its number, from 1
	err error
}

func (e *lostError) Error() string { return fmt.Sprintf("message %d: %v", e.seq, e.err) }
func (e *lostError) Unwrap() error { return e.err }

// tail pops messages from r and writes each with format to out, until the
// ring is shut down and empty (io.EOF), limit messages are printed
// (limit > 0, nil), ctx ends (its cause), gone says out's reader has gone
// (errOutputGone) or a write fails (a *lostError). It returns how many
// messages it printed.
//
// A message is written, whole and in one Write, before tail looks for the
// next, and nothing is buffered: what left the ring has reached out, but for
// the one message whose write failed. To lose none when the reader goes
// away, tail waits for a message without taking it — a pop into no buffer
// leaves the message in the ring and reports it as io.ErrShortBuffer — and
// takes it only if ctx is still live and gone says no. (An empty message
// fits even no buffer, so the wait takes it.)
func tail(ctx context.Context, r *ring.Ring, limit int, format formatFunc, out io.Writer, gone func() bool) (printed int, err error) {
	var buf bytes.Buffer
	var werr error
	write := func(msg []byte) {
		buf.Reset()
		format(&buf, printed+1, msg)
		if buf.Len() > 0 {
			_, werr = out.Write(buf.Bytes())
		}
		if werr == nil {
			printed++
		}
	}
	for limit == 0 || printed < limit {
		_, err := r.Pop(ctx, nil)
		switch {
		case err == nil: // an empty message, taken
			write(nil)
		case errors.Is(err, io.ErrShortBuffer):
			if ctx.Err() != nil {
				return printed, context.Cause(ctx)
			}
			if gone() {
				return printed, errOutputGone
			}
			// One message at a time: PopFunc hands fn every message up to
			// max, whatever fn makes of them, and write cannot refuse one.
			_, err = r.TryPopFunc(1, write)
			if err != nil && !errors.Is(err, ring.ErrEmpty) { // empty: another consumer took it first
				return printed, err
			}
		case ctx.Err() != nil && errors.Is(err, ctx.Err()):
			return printed, context.Cause(ctx)
		default:
			return printed, err
		}
		if werr != nil {
			return printed, &lostError{seq: printed + 1, err: werr}
		}
	}
	return printed, nil
}

// hexMessage prints message number seq as a line "#seq, n bytes" and a hex
// dump in the format of hexdump -C.
func hexMessage(w *bytes.Buffer, seq int, msg []byte) {
	fmt.Fprintf(w, "#%d, %s\n", seq, plural(len(msg), "byte"))
	d := hex.Dumper(w)
	_, _ = d.Write(msg)
	_ = d.Close()
}

// textMessage prints msg as one line: printable UTF-8 as it is, and tab,
// newline, carriage return, backslash, other control characters and invalid
// bytes escaped as \t, \n, \r, \\, \xHH.
func textMessage(w *bytes.Buffer, _ int, msg []byte) {
	for len(msg) > 0 {
		c, size := utf8.DecodeRune(msg)
		switch {
		case c == '\\':
			w.WriteString(`\\`)
		case c == '\t':
			w.WriteString(`\t`)
		case c == '\n':
			w.WriteString(`\n`)
		case c == '\r':
			w.WriteString(`\r`)
		case c == utf8.RuneError && size <= 1, !unicode.IsPrint(c) && c != ' ':
			for _, b := range msg[:size] {
				fmt.Fprintf(w, `\x%02x`, b)
			}
		default:
			w.Write(msg[:size])
		}
		msg = msg[size:]
	}
	w.WriteByte('\n')
}

// rawMessage prints msg's bytes and nothing else.
func rawMessage(w *bytes.Buffer, _ int, msg []byte) { w.Write(msg) }
