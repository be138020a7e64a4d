package main

import (
	"bufio"
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
	n    int
	text bool
	raw  bool
}

var tailSpec = &cmdSpec[tailOptions]{
	name:  "tail",
	synop: "shmring tail [-n N] [-text | -raw] PATH",
	about: `
Tail consumes the messages of the ring in the file PATH (a bare name means
/dev/shm/NAME) as they arrive and prints them: as a hex dump under a line
"#N, L bytes" (default), as one line of text per message with -text (tabs,
newlines, backslashes, non-printable and invalid UTF-8 bytes escaped), or
as the raw bytes with -raw (nothing between messages).

Tail is a consumer, and what it prints is gone from the ring: on an SPSC ring
it takes the consumer role, and fails if another live process holds it; on an
MPMC ring it competes with the other consumers, and each message goes to one
of them. It waits for messages, and across the death of a producer for the
next one, until the ring is shut down and drained, -n messages are printed,
or it is interrupted (Ctrl-C); then it closes its handle, which gives the
role back, and exits 0.`,
	flags: func(fs *flag.FlagSet) *tailOptions {
		o := &tailOptions{}
		fs.IntVar(&o.n, "n", 0, "stop after `N` messages (0: no limit)")
		fs.BoolVar(&o.text, "text", false, "print each message as a line of escaped text")
		fs.BoolVar(&o.raw, "raw", false, "print the messages' bytes as they are")
		return o
	},
}

func init() {
	register(&command{name: "tail", summary: "consume and print messages as they arrive", usage: tailSpec.usage(), run: runTail})
}

// tailBatch is the most messages tail takes from the ring at once.
const tailBatch = 64

func runTail(args []string, stdout, stderr io.Writer) int {
	o, rest, status, ok := tailSpec.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return status
	}
	switch {
	case o.n < 0:
		return failf(stderr, "tail", "-n %d: must not be negative", o.n)
	case o.text && o.raw:
		return failf(stderr, "tail", "-text and -raw exclude each other")
	}
	format := hexMessage
	switch {
	case o.text:
		format = textMessage
	case o.raw:
		format = rawMessage
	}
	ctx, stop := interruptible()
	defer stop()
	// A reader that goes away (tail | head) must not kill us with SIGPIPE
	// while we hold the consumer role: the write fails instead, and we close.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)

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
	err = guard(func() error { return tail(ctx, r, o.n, format, stdout) })
	if cerr := guard(r.Close); err == nil {
		err = cerr
	}
	switch {
	case err == nil, errors.Is(err, io.EOF), ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return statusOK
	case errors.Is(err, ring.ErrBusy):
		return failf(stderr, "tail", "%s: %v: an SPSC ring has one consumer", p, err)
	}
	return failf(stderr, "tail", "%s: %v", p, err)
}

// tail pops messages from r and prints them with format until the ring is
// shut down and empty (io.EOF), limit messages are printed (limit > 0), or
// ctx ends (ctx's error), or writing fails. Output is buffered and flushed
// whenever the ring runs empty, so a burst costs few writes and a trickle
// shows at once.
func tail(ctx context.Context, r *ring.Ring, limit int, format func(w *bufio.Writer, seq int, msg []byte), stdout io.Writer) error {
	out := &stickyWriter{w: stdout}
	w := bufio.NewWriterSize(out, 64<<10)
	seq := 0
	print := func(msg []byte) {
		seq++
		format(w, seq, msg)
	}
	for limit == 0 || seq < limit {
		max := tailBatch
		if limit > 0 {
			max = min(max, limit-seq)
		}
		_, err := r.TryPopFunc(max, print)
		if errors.Is(err, ring.ErrEmpty) {
			if err := w.Flush(); err != nil {
				return err
			}
			_, err = r.PopFunc(ctx, max, print)
		}
		if err != nil {
			if ferr := w.Flush(); ferr != nil {
				return ferr
			}
			return err
		}
		if out.err != nil {
			return out.err // stop consuming what we can no longer print
		}
	}
	return w.Flush()
}

// stickyWriter remembers the first error of its writer, so that tail can
// stop after a failed write even while bufio still buffers.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

// hexMessage prints message number seq as a line "#seq, n bytes" and a hex
// dump in the format of hexdump -C.
func hexMessage(w *bufio.Writer, seq int, msg []byte) {
	fmt.Fprintf(w, "#%d, %d bytes\n", seq, len(msg))
	d := hex.Dumper(w)
	_, _ = d.Write(msg)
	_ = d.Close()
}

// textMessage prints msg as one line: printable UTF-8 as it is, and tab,
// newline, carriage return, backslash, other control characters and invalid
// bytes escaped as \t, \n, \r, \\, \xHH.
func textMessage(w *bufio.Writer, _ int, msg []byte) {
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
func rawMessage(w *bufio.Writer, _ int, msg []byte) { w.Write(msg) }
