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

Tail is a consumer, and what it prints is gone from the ring: on an spsc,
spsc-bytes or mpsc-bytes ring it takes the consumer role, and fails if
another live process holds it; on an mpmc ring it competes with the other
consumers, and each message goes to one of them. It waits for messages, and
across the death of a producer for the next one, until the ring is shut down
and drained, -n messages are printed, or it is interrupted (Ctrl-C); then it
closes its handle, which gives the role back, and exits 0.

Tail writes each message to standard output before it takes the next, and
stops at the first write that fails, with status 1, leaving the message it
could not write in the ring: first in line on a ring with one consumer;
queued again at the tail of an mpmc ring, whose other consumers may already
have taken the ones after it (and lost if the ring has no room left to take
it back, which tail then says). When standard output is a pipe or a socket
whose reader goes away (tail PATH | head -1), tail stops as soon as it sees
that, even while it waits for a message.`,
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

// tailBatch is the most messages tail asks Consume for at once. Each is
// still written before the next is handed out.
const tailBatch = 64

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
	// A tail waiting for messages must not hold the consumer role for a
	// reader that has gone away: it stops when it sees that.
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
		printed, err = tail(ctx, r, o.n, format, stdout)
		return err
	})
	if cerr := guard(r.Close); err == nil {
		err = cerr
	}
	var we *writeError
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, context.Canceled):
		return statusOK // the end of the stream, -n, or an interrupt
	case errors.Is(err, errOutputGone):
		return failf(stderr, "tail", "%v: stopped after %s", err, plural(printed, "message"))
	case errors.As(err, &we) && err != error(we):
		// Consume says why the message could not be kept (an MPMC ring
		// with no room to queue it again).
		return failf(stderr, "tail", "%v: stopped after %s; that message is lost", err, plural(printed, "message"))
	case errors.As(err, &we):
		where := "first in line"
		if r.Config().Kind == ring.MPMC {
			where = "queued again at the tail"
		}
		return failf(stderr, "tail", "%v: stopped after %s; message %d is still in %s, %s",
			we.err, plural(printed, "message"), we.seq, p, where)
	case errors.Is(err, ring.ErrBusy) && r.Config().Kind == ring.SPSC:
		return failf(stderr, "tail", "%s: %v: an SPSC ring has one consumer", p, err)
	case errors.Is(err, ring.ErrBusy) && r.Config().Kind != ring.MPMC:
		return failf(stderr, "tail", "%s: %v: an %s ring has one consumer", p, err, r.Config().Kind)
	}
	return failf(stderr, "tail", "%s: %v", p, err)
}

// errOutputGone is why tail stops when the reader of its standard output
// (a pipe or a socket) has gone away while tail waited for a message.
var errOutputGone = fmt.Errorf("%w (the reader of standard output went away)", syscall.EPIPE)

// writeError is a message tail could not write, which it refused to
// Consume: the ring keeps it.
type writeError struct {
	seq int // its number, from 1
	err error
}

func (e *writeError) Error() string { return fmt.Sprintf("message %d: %v", e.seq, e.err) }
func (e *writeError) Unwrap() error { return e.err }

// tail takes messages from r and writes each with format to out, until
// the ring is shut down and empty (io.EOF), limit messages are printed
// (limit > 0, nil), ctx ends (its cause) or a write fails (a *writeError,
// perhaps wrapped by Consume). It returns how many messages it printed.
//
// Each message is written, whole and in one Write, inside Consume's fn,
// before the ring hands out the next; nothing is buffered. A write that
// fails refuses the message, and Consume keeps it in the ring.
func tail(ctx context.Context, r *ring.Ring, limit int, format formatFunc, out io.Writer) (printed int, err error) {
	var buf bytes.Buffer
	write := func(msg []byte) error {
		buf.Reset()
		format(&buf, printed+1, msg)
		if buf.Len() > 0 {
			if _, err := out.Write(buf.Bytes()); err != nil {
				return &writeError{seq: printed + 1, err: err}
			}
		}
		printed++
		return nil
	}
	for limit == 0 || printed < limit {
		max := tailBatch
		if limit > 0 {
			max = min(max, limit-printed)
		}
		if _, err := r.Consume(ctx, max, write); err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return printed, context.Cause(ctx)
			}
			return printed, err
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
