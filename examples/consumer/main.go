// Command consumer pops messages from a shmring ring and checks every one of
// them: its checksum, its producer id, and the order of each producer's
// sequence numbers. It prints a one-line summary and exits 0 only if
// everything checked out.
//
// Run it next to examples/producer, which writes the messages:
//
//	consumer -ring demo -expect 1000000                # terminal 1: waits for /dev/shm/demo
//	producer -ring demo -create -n 1000000 -remove     # terminal 2
//
// or let the producer start it: producer -spawn 1 -consumer ./consumer.
//
// # Finding the ring
//
// -ring PATH opens a ring file (a bare name means /dev/shm/NAME). A ring
// that does not exist yet, or whose creator has not finished formatting it,
// is waited for, up to -timeout: the consumer may start before the producer.
// -inherit NAME attaches to a ring the parent process passed with
// ring.Ring.Share (this is how producer -spawn starts consumers). -create
// makes the ring instead (-kind, -capacity, -slot), for a producer to open.
//
// # What is checked
//
// Each message must carry a valid checksum and a producer id below
// -producers. Per producer, sequence numbers must grow: a number seen before
// is a duplicate, a new number below the highest seen so far arrived out of
// order (reordered). A gap in a producer's numbers is a loss, unless -share
// says that other consumers take messages from the same ring. With -expect N
// exactly N messages must arrive.
//
// # Ending
//
// The consumer reads until the producer shuts the ring down (io.EOF, the
// normal end), until it has -n messages, or until no message has come for
// -timeout. Ctrl-C or SIGTERM stops it at once, with its summary.
//
// # Lifecycle of the ring file
//
// A consumer that made the ring file (-create) removes it when it exits,
// unless -keep; processes that still have the ring mapped are not disturbed.
// A consumer that opened the file leaves it to whoever made it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shmring/shmring/examples/internal/message"
	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

var (
	path      = flag.String("ring", "", "ring file to open (a bare name means /dev/shm/NAME)")
	inherit   = flag.String("inherit", "", "attach to the ring the parent passed under this name")
	create    = flag.Bool("create", false, "create the ring file instead of opening it")
	kind      = flag.String("kind", "spsc", "with -create: spsc or mpmc")
	capacity  = flag.Int("capacity", 1024, "with -create: slots, a power of two")
	slot      = flag.Int("slot", 256, "with -create: slot size, the largest message in bytes")
	n         = flag.Int("n", 0, "stop after this many messages (0: read until the ring is shut down)")
	expect    = flag.Int("expect", 0, "fail unless exactly this many messages arrive (0: any number)")
	producers = flag.Int("producers", 1, "producer ids range over [0, producers)")
	share     = flag.Bool("share", false, "other consumers read the same ring: gaps are theirs, not losses")
	timeout   = flag.Duration("timeout", 10*time.Second, "how long to wait for the ring, and for each next message")
	keep      = flag.Bool("keep", false, "with -create: keep the ring file when done")
)

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	if (*path == "") == (*inherit == "") || *inherit != "" && *create {
		fmt.Fprintln(os.Stderr, "consumer: give -ring PATH (optionally with -create) or -inherit NAME")
		return 2
	}
	if *producers < 1 {
		fmt.Fprintln(os.Stderr, "consumer: -producers must be at least 1")
		return 2
	}
	// Ctrl-C and SIGTERM cancel ctx, which stops a waiting Pop.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	r, err := openRing(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		return 1
	}
	defer r.Close() // gives the consumer role back: a new consumer may take over at once
	if *create && !*keep {
		defer shm.Remove(*path) // the name only: our mapping, and everyone else's, stays valid
	}

	t := newTally(*producers, !*share)
	buf := make([]byte, r.Config().SlotSize)
	var start, last time.Time
	var end error
	for *n == 0 || t.received < *n {
		m, err := pop(ctx, r, buf)
		if err != nil {
			end = err
			break
		}
		if t.received == 0 {
			start = time.Now() // rates count from the first message, not from the wait for the producer
		}
		t.add(buf[:m])
		last = time.Now()
	}

	ok := t.ok()
	if *expect != 0 && t.received != *expect {
		fmt.Fprintf(os.Stderr, "consumer: received %d messages, expected %d\n", t.received, *expect)
		ok = false
	}
	switch {
	case end == nil: // -n reached
	case errors.Is(end, io.EOF): // the producer shut the ring down: the normal end
	case ctx.Err() != nil: // interrupted: what arrived is still checked and reported
		fmt.Fprintln(os.Stderr, "consumer: interrupted")
	case errors.Is(end, context.DeadlineExceeded):
		fmt.Fprintf(os.Stderr, "consumer: no message for %v\n", *timeout)
		ok = false
	default: // ring.ErrPeerDead, ring.ErrCorrupt, ...
		fmt.Fprintln(os.Stderr, "consumer:", end)
		ok = false
	}
	if t.firstErr != nil {
		fmt.Fprintln(os.Stderr, "consumer: first bad message:", t.firstErr)
	}
	verdict := "ok"
	if !ok {
		verdict = "FAIL"
	}
	fmt.Println("consumer:", verdict, t.summary(last.Sub(start)))
	if !ok {
		return 1
	}
	return 0
}

// openRing attaches to the ring the flags name. Without -create it waits,
// until -timeout, for a ring file that does not exist yet or is not formatted
// yet, polling: the producer may start after the consumer.
func openRing(ctx context.Context) (*ring.Ring, error) {
	if *inherit != "" {
		return ring.Inherit(*inherit)
	}
	if *create {
		k, err := ring.ParseKind(*kind)
		if err != nil {
			return nil, err
		}
		return ring.Create(*path, ring.Config{Kind: k, Capacity: *capacity, SlotSize: *slot})
	}
	deadline := time.Now().Add(*timeout)
	for {
		r, err := ring.Open(*path)
		if err == nil || !notYet(err) {
			return r, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no ring after %v: %w", *timeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("interrupted while waiting for the ring: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// notYet reports whether err from ring.Open means the ring is on its way:
// no file yet, or a file its creator has not sized or formatted yet
// (ring.ErrNotReady covers both).
func notYet(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, ring.ErrNotReady)
}

// pop returns the next message, waiting up to -timeout for one. The common
// case, a message already there, costs no context and no timer.
func pop(ctx context.Context, r *ring.Ring, buf []byte) (int, error) {
	m, err := r.TryPop(buf)
	if !errors.Is(err, ring.ErrEmpty) {
		return m, err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return r.Pop(ctx, buf)
}

// tally checks a stream of messages and counts what it found.
type tally struct {
	sole      bool // this consumer should see every message: a gap is a loss
	received  int
	bytes     int // in the messages received
	bad       int // failed the length or checksum check, or has an unknown producer id
	dup       int // seen before
	reordered int // new, but below the highest number seen from its producer
	firstErr  error
	producers []stream
}

// stream is what a tally knows of one producer.
type stream struct {
	count int    // distinct messages
	next  uint64 // one past the highest sequence number seen
	seen  seqSet
}

func newTally(producers int, sole bool) *tally {
	return &tally{sole: sole, producers: make([]stream, producers)}
}

func (t *tally) add(msg []byte) {
	t.received++
	t.bytes += len(msg)
	id, seq, err := message.Check(msg)
	if err == nil && id >= uint64(len(t.producers)) {
		err = fmt.Errorf("message %d: producer id %d is not below -producers %d", seq, id, len(t.producers))
	}
	if err != nil {
		t.bad++
		if t.firstErr == nil {
			t.firstErr = err
		}
		return
	}
	s := &t.producers[id]
	switch {
	case s.seen.add(seq):
		t.dup++
	case seq < s.next:
		t.reordered++
		s.count++
	default:
		s.count++
		s.next = seq + 1
	}
}

// lost counts the gaps below each producer's highest sequence number. Only
// a consumer that should see every message can tell.
func (t *tally) lost() int {
	if !t.sole {
		return 0
	}
	lost := 0
	for _, s := range t.producers {
		lost += int(s.next) - s.count
	}
	return lost
}

func (t *tally) ok() bool { return t.bad == 0 && t.dup == 0 && t.reordered == 0 && t.lost() == 0 }

// summary is the line the consumer prints: key=value pairs, for people and
// for programs (producer -spawn reads received=).
func (t *tally) summary(d time.Duration) string {
	counts := make([]string, len(t.producers))
	for i, s := range t.producers {
		counts[i] = fmt.Sprintf("%d:%d", i, s.count)
	}
	rate, mbs := 0.0, 0.0
	if d > 0 {
		rate = float64(t.received) / d.Seconds()
		mbs = float64(t.bytes) / d.Seconds() / 1e6
	}
	return fmt.Sprintf("received=%d per-producer=%s lost=%d dup=%d reordered=%d bad=%d msg/s=%.0f MB/s=%.1f time=%v",
		t.received, strings.Join(counts, ","), t.lost(), t.dup, t.reordered, t.bad, rate, mbs, d.Round(time.Millisecond))
}

// seqSet is a set of sequence numbers: a bitmap in pages of 65536 numbers,
// allocated as numbers arrive.
type seqSet struct {
	pages map[uint64]*[1024]uint64
}

// add puts seq in the set and reports whether it was there already.
func (s *seqSet) add(seq uint64) bool {
	if s.pages == nil {
		s.pages = make(map[uint64]*[1024]uint64)
	}
	p := s.pages[seq>>16]
	if p == nil {
		p = new([1024]uint64)
		s.pages[seq>>16] = p
	}
	w, bit := &p[seq>>6&1023], uint64(1)<<(seq&63)
	had := *w&bit != 0
	*w |= bit
	return had
}
