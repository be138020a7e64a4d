package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

type sendOptions struct {
	nul      bool
	raw      bool
	shutdown bool
}

var sendSpec = &cmdSpec[sendOptions]{
	name:  "send",
	synop: "shmring send [-0 | -raw] [-shutdown] PATH",
	about: `
Send pushes each line of standard input, without its newline, as a message
into the ring in the file PATH (a bare name means /dev/shm/NAME). An empty
line is an empty message. A last line without a newline is a message too,
with a newline in front of it: no other line's message holds a newline, so
this marks a last line that had none, and "tail -lines" prints it as it came
(see "shmring help tail"). With -0 the messages are separated by NUL bytes
instead (and a NUL marks a last line without one); with -raw all of
standard input is one message.

Send is a producer: on an spsc or spsc-bytes ring it takes the producer
role, and fails if another live process holds it; on an mpmc or mpsc-bytes
ring it is one producer among any number. When the ring is full it waits for
room. With -shutdown it shuts the ring down once all of standard input is
sent, so that consumers see the end of the stream.

A message longer than the largest the ring takes (the slot size, or a byte
ring's largest message) stops send: what came before it is sent, it and what
follows are not, and send exits 1 (a stream with a message silently missing
is worse than one cut short). So do an interrupt (Ctrl-C), a ring shut down
by someone else, and, on an spsc or spsc-bytes ring, the death of the
consumer while the ring is full; none of these shuts the ring down. Send
reports on standard output how many messages it sent.`,
	flags: func(fs *flag.FlagSet) *sendOptions {
		o := &sendOptions{}
		fs.BoolVar(&o.nul, "0", false, "messages are separated by NUL bytes, not newlines")
		fs.BoolVar(&o.raw, "raw", false, "send all of standard input as one message")
		fs.BoolVar(&o.shutdown, "shutdown", false, "shut the ring down at the end of standard input")
		return o
	},
	check: func(o *sendOptions) error {
		if o.nul && o.raw {
			return errors.New("-0 and -raw exclude each other")
		}
		return nil
	},
}

func init() {
	register(&command{name: "send", summary: "push lines from stdin as messages", usage: sendSpec.usage(), run: runSend})
}

// sendBatch is the most messages send reads before it pushes them.
const sendBatch = 256

// tooLongError is a message of standard input longer than the largest the
// ring takes.
type tooLongError struct {
	index  int   // 1-based number of the message in standard input
	length int64 // its length, or at least this much with raw
	limit  messageLimit
	raw    bool
	marked bool // a last line without a separator: length counts the mark
	sep    byte // with marked: the separator
}

// messageLimit is the largest message a ring takes: its slot size, or a
// byte ring's largest message.
type messageLimit struct {
	size     int
	byteRing bool
}

// String is the limit as the end of a sentence: "the slot size of 8".
func (l messageLimit) String() string {
	if l.byteRing {
		return "the ring's largest message, " + plural(l.size, "byte")
	}
	return fmt.Sprintf("the slot size of %d", l.size)
}

func (e *tooLongError) Error() string {
	switch {
	case e.raw && e.limit.byteRing:
		return "standard input holds more than " + e.limit.String()
	case e.raw:
		return fmt.Sprintf("standard input holds more than the slot size of %s", plural(e.limit.size, "byte"))
	case e.marked:
		sep := "newline"
		if e.sep == 0 {
			sep = "NUL"
		}
		return fmt.Sprintf("message %d, a last line without a %s, is %s with the %s that marks it, more than %v",
			e.index, sep, plural(int(e.length), "byte"), sep, e.limit)
	}
	return fmt.Sprintf("message %d is %s, more than %v", e.index, plural(int(e.length), "byte"), e.limit)
}

func (e *tooLongError) Unwrap() error { return ring.ErrTooLarge }

func runSend(args []string, stdout, stderr io.Writer) int {
	o, rest, status, ok := sendSpec.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return status
	}
	ctx, stop := interruptible()
	defer stop()

	p := shm.Resolve(rest[0])
	var r *ring.Ring
	err := guard(func() (err error) {
		r, err = ring.Open(p)
		return err
	})
	if err != nil {
		return failf(stderr, "send", "%v", err)
	}
	var sent int
	err = guard(func() (err error) {
		sent, err = send(ctx, r, stdin, o)
		return err
	})
	if cerr := guard(r.Close); err == nil {
		err = cerr
	}
	fmt.Fprintf(stdout, "sent %s to %s\n", plural(sent, "message"), p)
	var tl *tooLongError
	switch {
	case err == nil:
		return statusOK
	case errors.As(err, &tl):
		return failf(stderr, "send", "%v: stopped after %s", err, plural(sent, "message"))
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return failf(stderr, "send", "interrupted after %s", plural(sent, "message"))
	case errors.Is(err, ring.ErrClosed):
		return failf(stderr, "send", "%s was shut down: stopped after %s", p, plural(sent, "message"))
	case errors.Is(err, ring.ErrBusy) && r.Config().Kind == ring.SPSCBytes:
		return failf(stderr, "send", "%s: %v: an spsc-bytes ring has one producer", p, err)
	case errors.Is(err, ring.ErrBusy) && r.Config().Kind == ring.SPSC:
		return failf(stderr, "send", "%s: %v: an SPSC ring has one producer", p, err)
	}
	return failf(stderr, "send", "%s: %v", p, err)
}

// send pushes the messages of in into r, as o says, and returns how many it
// pushed. It reads in a goroutine of its own, so that an interrupt is seen
// while standard input blocks; and it pushes what it has read whenever
// reading more would block, so that an interactive line goes out at once.
func send(ctx context.Context, r *ring.Ring, in io.Reader, o *sendOptions) (int, error) {
	chunks := make(chan chunk)
	done := make(chan struct{})
	defer close(done)
	cfg := r.Config()
	go readMessages(in, messageLimit{size: cfg.SlotSize, byteRing: isBytes(cfg.Kind)}, o, chunks, done)

	sent := 0
	for {
		var c chunk
		select {
		case c = <-chunks:
		case <-ctx.Done():
			return sent, ctx.Err()
		}
		if len(c.msgs) > 0 {
			n, err := r.PushBatch(ctx, c.msgs)
			sent += n
			if err != nil {
				return sent, err
			}
		}
		if c.err == io.EOF {
			if o.shutdown {
				return sent, r.Shutdown()
			}
			return sent, nil
		}
		if c.err != nil {
			return sent, c.err
		}
	}
}

// chunk is messages read from standard input, then possibly why reading
// stopped (io.EOF at the end).
type chunk struct {
	msgs [][]byte
	err  error
}

// readMessages reads messages from in and sends them on chunks, each chunk
// as soon as reading more would block, until it meets the end of in or an
// error, which it sends after the messages before it. It stops early when
// done closes.
func readMessages(in io.Reader, limit messageLimit, o *sendOptions, chunks chan<- chunk, done <-chan struct{}) {
	slotSize := limit.size
	emit := func(c chunk) bool {
		select {
		case chunks <- c:
			return true
		case <-done:
			return false
		}
	}
	if o.raw {
		msg, err := io.ReadAll(io.LimitReader(in, int64(slotSize)+1))
		switch {
		case err != nil:
			emit(chunk{err: err})
		case len(msg) > slotSize:
			emit(chunk{err: &tooLongError{index: 1, length: int64(len(msg)), limit: limit, raw: true}})
		default:
			emit(chunk{msgs: [][]byte{msg}, err: io.EOF})
		}
		return
	}
	sep := byte('\n')
	if o.nul {
		sep = 0
	}
	br := bufio.NewReaderSize(in, 64<<10)
	var c chunk
	index := 0
	for {
		index++
		msg, n, ended, err := readMessage(br, sep, slotSize)
		switch {
		case err != nil:
		case !ended && n+1 > int64(slotSize):
			err = &tooLongError{index: index, length: n + 1, limit: limit, marked: true, sep: sep}
		case n > int64(slotSize):
			err = &tooLongError{index: index, length: n, limit: limit}
		case !ended:
			msg = unterminatedLine(sep, msg) // see lines.go
		}
		if err != nil {
			c.err = err
			emit(c)
			return
		}
		c.msgs = append(c.msgs, msg)
		if len(c.msgs) == sendBatch || br.Buffered() == 0 {
			if !emit(c) {
				return
			}
			c = chunk{}
		}
	}
}

// readMessage reads the next message ending in sep (or at the end of br)
// and returns it without sep, its length n, and whether sep ended it (not
// the end of br). When n exceeds max the message is read to its end but not
// kept. It returns io.EOF only when no byte is left.
func readMessage(br *bufio.Reader, sep byte, max int) (msg []byte, n int64, ended bool, err error) {
	msg = []byte{}
	for {
		part, err := br.ReadSlice(sep)
		if err == nil {
			part = part[:len(part)-1]
		}
		n += int64(len(part))
		if n <= int64(max) {
			msg = append(msg, part...)
		}
		switch err {
		case nil:
			return msg, n, true, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if n == 0 {
				return nil, 0, false, io.EOF
			}
			return msg, n, false, nil
		default:
			return nil, n, false, err
		}
	}
}
