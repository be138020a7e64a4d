//go:build linux

package shmring_test

// Multiprocess tests: producers and consumers are real processes (this test
// binary started again as helpers, see helpers_test.go) that share rings
// through an inherited descriptor or a file opened by path.
//
// Message counts are given at each test. -short divides them by ten;
// SHMRING_LONG=1 multiplies them by ten, for soak runs that push 10^7 and
// more messages through the largest tests:
//
//	SHMRING_LONG=1 go test -count=1 -v -timeout 30m .
//
// Each test runs under a context deadline (testTimeout; longer with
// SHMRING_LONG). At the deadline its children are killed and the test
// fails, saying what it was waiting for. Nothing here waits for time to
// pass: the parent synchronises on what the children report and on the
// ring's own state.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// long is set by SHMRING_LONG=1: soak runs, ten times the messages.
var long = os.Getenv("SHMRING_LONG") == "1"

// count scales a test's message count for -short and SHMRING_LONG.
func count(n int) int {
	switch {
	case long:
		return 10 * n
	case testing.Short():
		return max(n/10, 1)
	}
	return n
}

// testTimeout bounds each test.
func testTimeout() time.Duration {
	if long {
		return 20 * time.Minute
	}
	return 90 * time.Second
}

func init() {
	helpers["producer"] = helperProducer
	helpers["consumer"] = helperConsumer
	helpers["try-producer"] = helperTryProducer
	helpers["typed-producer"] = helperTypedProducer
	helpers["typed-consumer"] = helperTypedConsumer
	helpers["corrupt"] = helperCorrupt
}

// ---- Messages ----

// A test message says who sent it, its number and its length, and carries
// a body of words derived from all three, so that a consumer checks every
// byte. Lengths vary with the number, so that a wrong length shows too.
//
//	0  producer id (u32)   4  length (u32)   8  sequence number (u64)
//	16 body: word at byte i is mix(id, seq, i)
const (
	msgHeader = 16
	msgMax    = msgHeader + 8*7 // the slot size of the tests' rings
)

var le = binary.LittleEndian

func msgLen(seq uint64) int { return msgHeader + 8*int(seq%8) }

func mix(id uint32, seq uint64, i int) uint64 {
	x := seq*0x9e3779b97f4a7c15 ^ uint64(id)<<48 ^ uint64(i)
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	return x ^ x>>29
}

// fillMsg writes message seq of producer id into buf and returns it.
func fillMsg(buf []byte, id uint32, seq uint64) []byte {
	m := buf[:msgLen(seq)]
	le.PutUint32(m[0:], id)
	le.PutUint32(m[4:], uint32(len(m)))
	le.PutUint64(m[8:], seq)
	for i := msgHeader; i < len(m); i += 8 {
		le.PutUint64(m[i:], mix(id, seq, i))
	}
	return m
}

// checkMsg verifies every byte of m and returns its producer and number.
func checkMsg(m []byte) (id uint32, seq uint64, err error) {
	if len(m) < msgHeader {
		return 0, 0, fmt.Errorf("message of %d bytes, shorter than its header", len(m))
	}
	id, seq = le.Uint32(m[0:]), le.Uint64(m[8:])
	if n := int(le.Uint32(m[4:])); n != len(m) || n != msgLen(seq) {
		return id, seq, fmt.Errorf("message %d of producer %d: %d bytes arrived, header says %d, should be %d", seq, id, len(m), n, msgLen(seq))
	}
	for i := msgHeader; i < len(m); i += 8 {
		if got, want := le.Uint64(m[i:]), mix(id, seq, i); got != want {
			return id, seq, fmt.Errorf("message %d of producer %d: bytes %d-%d are %#x, should be %#x", seq, id, i, i+7, got, want)
		}
	}
	return id, seq, nil
}

// ---- Helpers: the child programs ----

// openRing attaches a helper to the ring its arguments name: ring=inherit:NAME
// (passed by the parent with Share) or ring=PATH (opened by path, a bare name
// in /dev/shm). waitpeer=1 sets Options.WaitForPeer.
func openRing(a args) (*ring.Ring, int) {
	spec := a.str("ring", "")
	var r *ring.Ring
	var err error
	if name, ok := strings.CutPrefix(spec, "inherit:"); ok {
		r, err = ring.Inherit(name)
	} else {
		r, err = ring.Open(spec)
	}
	if err != nil {
		return nil, usagef("ring=%s: %v", spec, err)
	}
	if a.bool("waitpeer") {
		r.SetOptions(ring.Options{WaitForPeer: true})
	}
	return r, exitOK
}

// helperProducer pushes messages from..from+n-1 of producer id.
//
//	ring, waitpeer  see openRing
//	id, n, from     producer id, message count, first sequence number
//	batch=B         push with PushBatch, B messages at a time
//	shutdown=1      shut the ring down after the last message
//	hold=1          after the last message, report and block until killed
//
// Reports pushed=N once every message is in the ring.
func helperProducer(a args) int {
	r, code := openRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	ctx := context.Background() // the parent kills us if we hang
	id, n, from, batch := uint32(a.int("id", 0)), a.int("n", 0), uint64(a.int("from", 0)), a.int("batch", 1)
	bufs := make([][]byte, max(batch, 1))
	for i := range bufs {
		bufs[i] = make([]byte, msgMax)
	}
	msgs := make([][]byte, 0, len(bufs))
	for i := 0; i < n; {
		msgs = msgs[:0]
		for j := 0; j < len(bufs) && i+j < n; j++ {
			msgs = append(msgs, fillMsg(bufs[j], id, from+uint64(i+j)))
		}
		if len(msgs) == 1 {
			if err := r.Push(ctx, msgs[0]); err != nil {
				return failf("push %d: %v", from+uint64(i), err)
			}
			i++
			continue
		}
		k, err := r.PushBatch(ctx, msgs)
		i += k
		if err != nil {
			return failf("push batch at %d: %v", from+uint64(i), err)
		}
	}
	report("pushed", n)
	if a.bool("hold") {
		blockUntilKilled()
	}
	if a.bool("shutdown") {
		if err := r.Shutdown(); err != nil {
			return failf("shutdown: %v", err)
		}
	}
	return exitOK
}

// tally follows the streams of several producers through one consumer.
type tally struct {
	contiguous bool // each producer's numbers must follow each other, without a gap
	received   int
	count      []int    // per producer
	first      []uint64 // per producer, valid when count > 0
	last       []uint64
	log        *bufio.Writer // id<<40 | seq of each message, in the order received
}

// add checks one message: its bytes, its producer, and its number against
// the last one of its producer.
func (t *tally) add(m []byte) error {
	id, seq, err := checkMsg(m)
	if err != nil {
		return err
	}
	if int(id) >= len(t.count) {
		return fmt.Errorf("message %d from producer %d: only %d producers", seq, id, len(t.count))
	}
	if t.count[id] > 0 {
		switch last := t.last[id]; {
		case seq <= last:
			return fmt.Errorf("producer %d: message %d after %d (duplicate or out of order)", id, seq, last)
		case t.contiguous && seq != last+1:
			return fmt.Errorf("producer %d: message %d after %d: %d lost", id, seq, last, seq-last-1)
		}
	} else {
		t.first[id] = seq
	}
	t.last[id] = seq
	t.count[id]++
	t.received++
	if t.log != nil {
		var b [8]byte
		le.PutUint64(b[:], uint64(id)<<40|seq)
		_, _ = t.log.Write(b[:])
	}
	return nil
}

// helperConsumer pops messages until io.EOF (or n of them) and checks each
// one (see tally.add).
//
//	ring, waitpeer  see openRing
//	producers=P     producer ids are below P (default 1)
//	n=N             stop after N messages (default: at io.EOF)
//	contiguous=1    no gaps in any producer's numbers
//	log=PATH        write id<<40|seq of each message there, in order
//	progress=1      report consumed=SEQ after each message
//	batch=B         pop with PopFunc, up to B messages at a time
//
// Reports received=N, eof=1 if the ring ended with io.EOF, and for each
// producer p that sent something: pP.count, pP.first, pP.last.
func helperConsumer(a args) int {
	r, code := openRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	producers := a.int("producers", 1)
	t := &tally{
		contiguous: a.bool("contiguous"),
		count:      make([]int, producers),
		first:      make([]uint64, producers),
		last:       make([]uint64, producers),
	}
	if path := a.str("log", ""); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return usagef("%v", err)
		}
		defer f.Close()
		t.log = bufio.NewWriterSize(f, 1<<16)
	}
	n, batch, progress := a.int("n", 0), a.int("batch", 1), a.bool("progress")
	ctx := context.Background()
	buf := make([]byte, msgMax)
	var end, bad error
	for n == 0 || t.received < n {
		if batch > 1 {
			_, end = r.PopFunc(ctx, batch, func(m []byte) {
				if err := t.add(m); err != nil && bad == nil {
					bad = err
				}
			})
		} else {
			var k int
			if k, end = r.Pop(ctx, buf); end == nil {
				bad = t.add(buf[:k])
			}
		}
		if end != nil || bad != nil {
			break
		}
		if progress {
			report("consumed", t.last[0])
		}
	}
	if t.log != nil {
		if err := t.log.Flush(); err != nil {
			return usagef("log: %v", err)
		}
	}
	report("received", t.received)
	for p, c := range t.count {
		if c > 0 {
			report(fmt.Sprintf("p%d.count", p), c)
			report(fmt.Sprintf("p%d.first", p), t.first[p])
			report(fmt.Sprintf("p%d.last", p), t.last[p])
		}
	}
	if errors.Is(end, io.EOF) {
		report("eof", 1)
	} else if end != nil {
		return failf("pop after %d messages: %v", t.received, end)
	}
	if bad != nil {
		return failf("after %d good messages: %v", t.received, bad)
	}
	return exitOK
}

// helperTryProducer tries to push one message and reports the outcome as
// push=ok, push=busy or push=<error>.
func helperTryProducer(a args) int {
	r, code := openRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	err := r.TryPush(fillMsg(make([]byte, msgMax), uint32(a.int("id", 0)), 0))
	switch {
	case err == nil:
		report("push", "ok")
	case errors.Is(err, ring.ErrBusy):
		report("push", "busy")
		report("error", err)
	default:
		report("push", err)
	}
	return exitOK
}

// order is a value of fixed size with no pointers, the kind of type
// ring.Typed moves between processes with no encoding.
type order struct {
	ID     uint64
	Price  float64
	Qty    int32
	Side   uint8
	Flags  [3]uint8 // not bool: NewTyped refuses bools (another process could write 2)
	Symbol [8]byte
	Legs   [3]uint16
	Check  uint16
}

func makeOrder(i uint64) order {
	o := order{ID: i, Price: float64(i) * 0.25, Qty: int32(i%1000) - 500, Side: uint8(i % 2),
		Flags: [3]uint8{b2u(i%3 == 0), b2u(i%5 == 0), b2u(i%7 == 0)}, Legs: [3]uint16{uint16(i), uint16(i >> 16), uint16(i >> 32)}}
	copy(o.Symbol[:], fmt.Sprintf("S%07d", i%10000000))
	o.Check = uint16(i*31 + 7)
	return o
}

// helperTypedProducer pushes makeOrder(0..n-1) through a ring.Typed[order]
// and shuts the ring down. Reports pushed=N.
func helperTypedProducer(a args) int {
	r, code := openRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	tr, err := ring.NewTyped[order](r)
	if err != nil {
		return usagef("NewTyped: %v", err)
	}
	n := a.int("n", 0)
	for i := 0; i < n; i++ {
		if err := tr.Push(context.Background(), makeOrder(uint64(i))); err != nil {
			return failf("push %d: %v", i, err)
		}
	}
	report("pushed", n)
	if err := r.Shutdown(); err != nil {
		return failf("shutdown: %v", err)
	}
	return exitOK
}

// helperTypedConsumer pops orders until io.EOF; the i-th must equal
// makeOrder(i). Reports received=N.
func helperTypedConsumer(a args) int {
	r, code := openRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	tr, err := ring.NewTyped[order](r)
	if err != nil {
		return usagef("NewTyped: %v", err)
	}
	i := uint64(0)
	for ; ; i++ {
		o, err := tr.Pop(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return failf("pop %d: %v", i, err)
		}
		if want := makeOrder(i); o != want {
			return failf("order %d is %+v, want %+v", i, o, want)
		}
	}
	report("received", i)
	return exitOK
}

// helperCorrupt writes value (width 4 or 8 bytes, little-endian) at off in
// the file at path: damage done by another process, through the file.
func helperCorrupt(a args) int {
	off, width := int64(a.int("off", -1)), a.int("width", 0)
	value, err := strconv.ParseUint(a.str("value", ""), 0, 64)
	if err != nil || off < 0 || width != 4 && width != 8 {
		return usagef("need off, width 4 or 8, value: %v", err)
	}
	f, err := os.OpenFile(a.str("path", ""), os.O_WRONLY, 0)
	if err != nil {
		return usagef("%v", err)
	}
	defer f.Close()
	b := le.AppendUint64(nil, value)[:width]
	if _, err := f.WriteAt(b, off); err != nil {
		return usagef("%v", err)
	}
	return exitOK
}

// ---- Parent side ----

// anonymousRing makes an anonymous ring with slots for the test messages.
func anonymousRing(t *testing.T, kind ring.Kind, capacity int) *ring.Ring {
	t.Helper()
	r, err := ring.Anonymous(ring.Config{Kind: kind, Capacity: capacity, SlotSize: msgMax})
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// inheritChild starts helper name with r inherited under the name "ring".
func inheritChild(ctx context.Context, t *testing.T, r *ring.Ring, name string, args ...string) *child {
	t.Helper()
	c := newChild(ctx, t, name, append([]string{"ring=inherit:ring"}, args...)...)
	require.NoError(t, r.Share(c.cmd, "ring"))
	return c.start()
}

// checkStream asserts that a consumer's report shows producer p's messages
// first..last, each once: count, first and last agree, and the consumer
// checked that no number repeated or came out of order.
func checkStream(t *testing.T, rep results, p int, first, last int) {
	t.Helper()
	key := func(s string) string { return fmt.Sprintf("p%d.%s", p, s) }
	assert.Equal(t, first, rep.int(t, key("first")), "producer %d: first message", p)
	assert.Equal(t, last, rep.int(t, key("last")), "producer %d: last message", p)
	assert.Equal(t, last-first+1, rep.int(t, key("count")), "producer %d: messages", p)
}

func arg(key string, v any) string { return fmt.Sprintf("%s=%v", key, v) }

// TestSPSCAnonymousInherited: 2,000,000 messages from a producer process to
// a consumer process through an anonymous ring both inherited across exec;
// the consumer checks every byte and that the numbers follow each other.
func TestSPSCAnonymousInherited(t *testing.T) {
	n := count(2_000_000)
	ctx := testContext(t, testTimeout())
	r := anonymousRing(t, ring.SPSC, 1024)
	cons := inheritChild(ctx, t, r, "consumer", "contiguous=1")
	prod := inheritChild(ctx, t, r, "producer", arg("n", n), "shutdown=1")

	assert.Equal(t, n, prod.wait().int(t, "pushed"))
	rep := cons.wait()
	assert.Equal(t, n, rep.int(t, "received"))
	assert.Equal(t, 1, rep.int(t, "eof"), "the consumer ends with io.EOF")
	checkStream(t, rep, 0, 0, n-1)
}

// TestSPSCFileBackedByPath: a ring file made by the test and opened by path
// by two unrelated children (nothing inherited), in a directory and as a
// bare name in /dev/shm; 500,000 messages each, the second in batches
// (PushBatch, PopFunc).
func TestSPSCFileBackedByPath(t *testing.T) {
	n := count(500_000)
	cases := []struct {
		name  string
		path  func(t *testing.T) string
		batch int
	}{
		{"tempdir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "ring") }, 1},
		{"devshm", func(t *testing.T) string {
			name := fmt.Sprintf("shmring-test-%d-%d", os.Getpid(), time.Now().UnixNano())
			t.Cleanup(func() {
				err := shm.Remove(name)
				if !errors.Is(err, os.ErrNotExist) {
					assert.NoError(t, err)
				}
			})
			return name // a bare name: /dev/shm/NAME, for the test and for the children
		}, 32},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, testTimeout())
			path := tc.path(t)
			r, err := ring.Create(path, ring.Config{Kind: ring.SPSC, Capacity: 1024, SlotSize: msgMax})
			require.NoError(t, err)
			defer r.Close()
			if tc.name == "devshm" {
				require.FileExists(t, "/dev/shm/"+path)
			}
			cons := startChild(ctx, t, "consumer", arg("ring", path), "contiguous=1", arg("batch", tc.batch))
			prod := startChild(ctx, t, "producer", arg("ring", path), arg("n", n), "shutdown=1", arg("batch", tc.batch))

			assert.Equal(t, n, prod.wait().int(t, "pushed"))
			rep := cons.wait()
			assert.Equal(t, n, rep.int(t, "received"))
			assert.Equal(t, 1, rep.int(t, "eof"))
			checkStream(t, rep, 0, 0, n-1)
		})
	}
}

// readLogs tallies the consumers' logs: every message of every producer
// must have arrived exactly once, and each consumer must have seen each
// producer's messages in the order they were pushed.
func readLogs(t *testing.T, logs []string, producers, perProducer int) {
	t.Helper()
	have := make([][]uint8, producers)
	for p := range have {
		have[p] = make([]uint8, perProducer)
	}
	for c, path := range logs {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Zero(t, len(b)%8, "log %d is not whole records", c)
		last := make([]int64, producers)
		for p := range last {
			last[p] = -1
		}
		for i := 0; i < len(b); i += 8 { // plain comparisons: a million assertions would take seconds
			v := le.Uint64(b[i:])
			p, seq := int(v>>40), int64(v&(1<<40-1))
			switch {
			case p >= producers:
				t.Fatalf("consumer %d, record %d: producer id %d, only %d producers", c, i/8, p, producers)
			case seq >= int64(perProducer):
				t.Fatalf("consumer %d, record %d: producer %d's message %d, only %d sent", c, i/8, p, seq, perProducer)
			case seq <= last[p]:
				t.Fatalf("consumer %d, record %d: producer %d's message %d after %d", c, i/8, p, seq, last[p])
			}
			last[p] = seq
			have[p][seq]++
		}
	}
	for p := range have {
		for seq, n := range have[p] {
			if n != 1 {
				t.Fatalf("producer %d's message %d arrived %d times", p, seq, n)
			}
		}
	}
}

// TestMPMCThreeByThree: three producer processes push 400,000 messages each
// into one MPMC ring, three consumer processes pop them. Every message
// arrives exactly once, and at each consumer each producer's messages come
// in the order they were pushed.
func TestMPMCThreeByThree(t *testing.T) {
	const producers, consumers = 3, 3
	per := count(400_000)
	ctx := testContext(t, testTimeout())
	r := anonymousRing(t, ring.MPMC, 1024)
	dir := t.TempDir()
	var logs []string
	var cons, prods []*child
	for i := 0; i < consumers; i++ {
		logs = append(logs, filepath.Join(dir, fmt.Sprintf("consumer%d", i)))
		cons = append(cons, inheritChild(ctx, t, r, "consumer", arg("producers", producers), arg("log", logs[i])))
	}
	for p := 0; p < producers; p++ {
		prods = append(prods, inheritChild(ctx, t, r, "producer", arg("id", p), arg("n", per)))
	}
	for _, p := range prods {
		assert.Equal(t, per, p.wait().int(t, "pushed"))
	}
	require.NoError(t, r.Shutdown()) // every producer is done: the end of the stream
	total := 0
	for i, c := range cons {
		rep := c.wait()
		assert.Equal(t, 1, rep.int(t, "eof"))
		t.Logf("consumer %d received %s", i, rep["received"])
		total += rep.int(t, "received")
	}
	assert.Equal(t, producers*per, total)
	readLogs(t, logs, producers, per)
}

// TestShutdownReachesOtherProcesses: a producer process shuts the ring down;
// consumer processes get what was queued, each message once, then io.EOF.
// SPSC with one consumer, MPMC with two. The consumers are asleep in the
// kernel (futex) when the producer starts, or start after it has gone.
func TestShutdownReachesOtherProcesses(t *testing.T) {
	const queued = 100 // fits in the ring: the producer never waits
	cases := []struct {
		name           string
		consumersFirst bool // and asleep before the producer starts
		n              int  // messages pushed before Shutdown
	}{
		{"queued-then-consumers", false, queued},
		{"asleep-then-messages", true, queued},
		{"asleep-then-nothing", true, 0},
	}
	for _, kind := range []ring.Kind{ring.SPSC, ring.MPMC} {
		nc := 1
		if kind == ring.MPMC {
			nc = 2
		}
		for _, tc := range cases {
			t.Run(kind.String()+"/"+tc.name, func(t *testing.T) {
				ctx := testContext(t, testTimeout())
				r := anonymousRing(t, kind, 256)
				dir := t.TempDir()
				var logs []string
				var cons []*child
				startConsumers := func() {
					for i := 0; i < nc; i++ {
						logs = append(logs, filepath.Join(dir, fmt.Sprintf("consumer%d", i)))
						cons = append(cons, inheritChild(ctx, t, r, "consumer", arg("log", logs[i])))
					}
				}
				if tc.consumersFirst {
					startConsumers()
					// Synchronise on the ring's state: each consumer has
					// announced that it sleeps (or is about to).
					waitUntil(ctx, t, "consumers asleep", func() bool { return r.Stats().ConsumersWaiting == nc })
				}
				prod := inheritChild(ctx, t, r, "producer", arg("n", tc.n), "shutdown=1")
				assert.Equal(t, tc.n, prod.wait().int(t, "pushed"))
				if !tc.consumersFirst {
					assert.Equal(t, tc.n, r.Len(), "queued before any consumer came")
					startConsumers()
				}
				total := 0
				for _, c := range cons {
					rep := c.wait()
					assert.Equal(t, 1, rep.int(t, "eof"), "%s ends with io.EOF", c)
					total += rep.int(t, "received")
				}
				assert.Equal(t, tc.n, total)
				readLogs(t, logs, 1, tc.n)
				assert.True(t, r.IsShutdown())
				assert.Zero(t, r.Stats().ConsumersWaiting)
			})
		}
	}
}

// TestSPSCProducerTakeover: a second producer process is refused with
// ErrBusy while the first lives. The first, SIGKILLed after pushing 20,000
// messages, is replaced by a third that pushes 20,000 more; the consumer
// gets all 40,000, each once, in order.
func TestSPSCProducerTakeover(t *testing.T) {
	k, m := count(20_000), count(20_000)
	ctx := testContext(t, testTimeout())
	r := anonymousRing(t, ring.SPSC, 256)
	// waitpeer: when the first producer dies the consumer waits for its
	// replacement instead of failing with ErrPeerDead.
	cons := inheritChild(ctx, t, r, "consumer", "producers=2", "contiguous=1", "waitpeer=1")
	first := inheritChild(ctx, t, r, "producer", "id=0", arg("n", k), "hold=1")
	assert.Equal(t, strconv.Itoa(k), first.await("pushed", nil))

	second := inheritChild(ctx, t, r, "try-producer", "id=1")
	rep := second.wait()
	assert.Equal(t, "busy", rep["push"], "a second producer while the first lives: %v", rep)
	assert.Contains(t, rep["error"], fmt.Sprintf("pid %d", first.pid()), "ErrBusy names the holder")

	first.kill() // SIGKILL and reap: its record names a process that is gone
	third := inheritChild(ctx, t, r, "producer", "id=1", arg("n", m), "shutdown=1")
	assert.Equal(t, m, third.wait().int(t, "pushed"))

	rep = cons.wait()
	assert.Equal(t, 1, rep.int(t, "eof"))
	assert.Equal(t, k+m, rep.int(t, "received"))
	checkStream(t, rep, 0, 0, k-1) // everything the dead producer committed
	checkStream(t, rep, 1, 0, m-1) // then everything its successor sent
}

// TestSPSCConsumerRestart: on a file-backed ring, a consumer process is
// SIGKILLed while it consumes 50,000 messages, reporting each one. A new
// consumer process, opening the file by path, resumes at the first message
// the dead one had not consumed: at most the one it had in flight is lost,
// none is repeated, and the rest arrive in order.
func TestSPSCConsumerRestart(t *testing.T) {
	n := count(50_000)
	ctx := testContext(t, testTimeout())
	path := filepath.Join(t.TempDir(), "ring")
	r, err := ring.Create(path, ring.Config{Kind: ring.SPSC, Capacity: 64, SlotSize: msgMax})
	require.NoError(t, err)
	defer r.Close()

	// waitpeer: the producer waits for a new consumer while the ring is full
	// and its consumer dead.
	prod := startChild(ctx, t, "producer", arg("ring", path), arg("n", n), "waitpeer=1")
	victim := startChild(ctx, t, "consumer", arg("ring", path), "contiguous=1", "progress=1")
	victim.await("consumed", func(v string) bool { s, _ := strconv.Atoi(v); return s >= n/10 })
	victim.kill()
	rep, err := victim.result()
	require.Error(t, err, "the consumer was killed")
	consumed := rep.int(t, "consumed") // the last message it reported; stdout is complete
	t.Logf("consumer killed after message %d of %d", consumed, n)

	// The successor opens the file by path: it inherits nothing.
	succ := startChild(ctx, t, "consumer", arg("ring", path), "contiguous=1")
	assert.Equal(t, n, prod.wait().int(t, "pushed"))
	require.NoError(t, r.Shutdown()) // the producer is done: end the stream
	rep = succ.wait()
	assert.Equal(t, 1, rep.int(t, "eof"))
	if consumed == n-1 {
		assert.Equal(t, 0, rep.int(t, "received"), "nothing was left")
		return
	}
	first := rep.int(t, "p0.first")
	// The victim reports a message after popping it: if it was killed
	// between the two, that one message is consumed but not reported.
	assert.Contains(t, []int{consumed + 1, consumed + 2}, first, "resumes at the first unconsumed message")
	checkStream(t, rep, 0, first, n-1)
}

// TestTypedAcrossProcesses: 200,000 values of a struct of fixed-size fields
// through ring.Typed, from a producer process to a consumer process, on
// each kind of ring.
func TestTypedAcrossProcesses(t *testing.T) {
	n := count(200_000)
	for _, kind := range []ring.Kind{ring.SPSC, ring.MPMC} {
		t.Run(kind.String(), func(t *testing.T) {
			ctx := testContext(t, testTimeout())
			r := anonymousRing(t, kind, 512)
			_, err := ring.NewTyped[order](r) // the type fits the slots
			require.NoError(t, err)
			cons := inheritChild(ctx, t, r, "typed-consumer")
			prod := inheritChild(ctx, t, r, "typed-producer", arg("n", n))
			assert.Equal(t, n, prod.wait().int(t, "pushed"))
			assert.Equal(t, n, cons.wait().int(t, "received"))
		})
	}
}

// Offsets in a ring file, from the diagram in ring/layout.go: the header
// words; from byte 4096 an SPSC ring's message lengths (u32 each), an MPMC
// ring's slots, each a sequence word (u64), a claim word (u64) and then the
// message length (u32).
const (
	offMagic      = 0
	offVersion    = 8
	offCapacity   = 16
	offSlotSize   = 20
	offDataOffset = 32
	offTotalSize  = 40
	offSlot0      = 4096
	spscSlotLenAt = 0
	mpmcSlotLenAt = 16
)

// TestCorruptRingFromAnotherProcess: another process writes impossible
// values into a ring file's header or into a slot. Attaching to it (Open,
// Attach) or popping from it returns ErrIncompatible or ErrCorrupt; nothing
// panics, and a handle attached before the damage to the header goes on
// working with the values it validated.
func TestCorruptRingFromAnotherProcess(t *testing.T) {
	cases := []struct {
		name  string
		kind  ring.Kind
		off   int
		width int
		value uint64
		want  error
		onPop bool // the header stays valid: the damage shows when popping
	}{
		{"magic", ring.SPSC, offMagic, 8, 0x4b4e554a4b4e554a, ring.ErrIncompatible, false}, // "JUNKJUNK"
		{"version", ring.SPSC, offVersion, 4, 3, ring.ErrIncompatible, false},
		{"first layout", ring.SPSC, offVersion, 4, 1, ring.ErrIncompatible, false},
		{"capacity not a power of two", ring.SPSC, offCapacity, 4, 1000, ring.ErrCorrupt, false},
		{"capacity beyond the file", ring.MPMC, offCapacity, 4, 1 << 20, ring.ErrCorrupt, false},
		{"capacity zero", ring.MPMC, offCapacity, 4, 0, ring.ErrCorrupt, false},
		{"slot size zero", ring.SPSC, offSlotSize, 4, 0, ring.ErrCorrupt, false},
		{"data offset", ring.SPSC, offDataOffset, 8, 64, ring.ErrCorrupt, false},
		{"total size", ring.SPSC, offTotalSize, 8, 1 << 40, ring.ErrCorrupt, false},
		{"spsc slot length", ring.SPSC, offSlot0 + spscSlotLenAt, 4, 0xffffffff, ring.ErrCorrupt, true},
		{"mpmc slot length", ring.MPMC, offSlot0 + mpmcSlotLenAt, 4, msgMax + 1, ring.ErrCorrupt, true},
		{"mpmc slot tag", ring.MPMC, offSlot0, 8, 0<<8 | 0x3f, ring.ErrCorrupt, true}, // turn 0, an unknown tag
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t, testTimeout())
			path := filepath.Join(t.TempDir(), "ring")
			before, err := ring.Create(path, ring.Config{Kind: tc.kind, Capacity: 8, SlotSize: msgMax})
			require.NoError(t, err)
			defer before.Close()
			msg := fillMsg(make([]byte, msgMax), 0, 5)
			require.NoError(t, before.TryPush(msg)) // a message in slot 0

			startChild(ctx, t, "corrupt", arg("path", path), arg("off", tc.off), arg("width", tc.width),
				arg("value", tc.value)).wait()

			buf := make([]byte, msgMax)
			require.NotPanics(t, func() {
				after, err := ring.Open(path)
				if !tc.onPop {
					assert.ErrorIs(t, err, tc.want, "Open")
					assert.Nil(t, after)
					reg, err := shm.Open(path)
					require.NoError(t, err)
					defer reg.Close()
					_, err = ring.Attach(reg.Bytes())
					assert.ErrorIs(t, err, tc.want, "Attach")
					t.Logf("Open: %v", err)

					// The handle from before validated the header when it
					// attached and never reads it again.
					n, err := before.TryPop(buf)
					require.NoError(t, err)
					assert.Equal(t, msg, buf[:n])
					return
				}
				require.NoError(t, err, "the header is intact")
				defer after.Close()
				_, err = after.TryPop(buf)
				assert.ErrorIs(t, err, tc.want, "TryPop")
				t.Logf("TryPop: %v", err)
				_, err = after.Pop(ctx, buf)
				assert.ErrorIs(t, err, tc.want, "Pop")
			})
		})
	}
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
