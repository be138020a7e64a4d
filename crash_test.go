//go:build linux

package shmring_test

// Crash tests: producer and consumer processes are SIGKILLed at every
// fault-injection point of the ring protocol, at random moments by a
// supervisor (the soak), and a hostile process scribbles on a ring others
// use. What the tests hold the ring to:
//
//   - no stall: every run ends before its context's deadline, which only
//     bounds a hang (nothing here waits for time to pass);
//   - every message of a producer that was not killed is received exactly
//     once, and at each consumer in the order its producer pushed it;
//   - a killed producer's messages are received at most once each, and of
//     those whose Push returned nil none is missing: only the one it had in
//     flight when it died may be;
//   - a killed consumer loses at most the one message it was handling;
//   - no message is received twice, with one exception: an SPSC consumer
//     killed inside PopFunc (batch) has handed its callback messages it had
//     not yet marked consumed, and its successor gets them again: at most
//     the batch size per kill. (A killed SPSC consumer of single Pops
//     duplicates nothing: it dies before Pop returns the message, and the
//     successor delivers it once.)
//
// The bookkeeping lives in a ledger (see below): shared memory that every
// child inherits and updates as it goes, so that what a SIGKILLed child did
// before it died is known exactly, which its buffered stdout would not tell.
//
// The soak (TestMPMCRandomKillSoak) pushes at least 2,000,000 messages in
// the default run (200,000 under the race detector, a tenth with -short).
// For a long soak:
//
//	SHMRING_SOAK_MESSAGES=100000000 go test -count=1 -run TestMPMCRandomKillSoak -v -timeout 60m .
//
// SHMRING_SOAK_SEED=N picks another sequence of victims (default 1); the
// seed is in the test's log.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/shmring/shmring/internal/faultinject"
	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func init() {
	helpers["crash-producer"] = helperCrashProducer
	helpers["crash-consumer"] = helperCrashConsumer
	helpers["scribbler"] = helperScribbler
	helpers["hostile-peer"] = helperHostilePeer
}

// ---- The ledger ----

// The ledger is an anonymous region that the test makes and every child
// inherits under the name "ledger". Children write it as they go, with
// atomic operations; the parent reads it after they are gone.
//
//	word 0             stop: set by the parent; producers without n= finish
//	word 1             next range: producers take ranges of message numbers
//	words 2-5          range size, ranges, producer and consumer records
//	producer records   8 words (a cache line) each: [0] acked, the number of
//	                   pushes that returned nil, stored after each of them
//	consumer records   8 words each: [0] received, messages taken so far
//	range table        2 words per range: owner (producer id + 1; 0 while
//	                   nobody has taken it) and the owner's sequence number
//	                   of the range's first message
//	receipts           one byte per message number: times it was received
//
// Every message carries a number g, unique in the test, besides its
// producer's id and sequence number. A producer takes rangeSize numbers at
// a time and writes the range's owner before it pushes any message of it,
// so the parent can map every g back to a producer and a sequence number,
// and a consumer can check that a message is one its producer numbered.
type ledger struct {
	reg       *shm.Region
	w         []uint64
	rangeSize uint64
	ranges    uint64
	producers int
	consumers int
	prodAt    int // word offsets of the sections
	consAt    int
	rangeAt   int
	receiptAt int
}

const (
	ledgerName = "ledger"

	lgStop      = 0
	lgNextRange = 1
	lgRangeSize = 2
	lgRanges    = 3
	lgProducers = 4
	lgConsumers = 5
	lgVarMax    = 6  // 0: messages of crashMsgLen; else the largest of log-uniform lengths (varMsgLen)
	lgHeader    = 16 // words: the header has its own two cache lines
	lgRecord    = 8  // words per producer or consumer record: one cache line
)

func ledgerWords(rangeSize, ranges, producers, consumers int) int {
	return lgHeader + (producers+consumers)*lgRecord + 2*ranges + (ranges*rangeSize+7)/8
}

func (l *ledger) layout() {
	l.prodAt = lgHeader
	l.consAt = l.prodAt + l.producers*lgRecord
	l.rangeAt = l.consAt + l.consumers*lgRecord
	l.receiptAt = l.rangeAt + 2*int(l.ranges)
}

// wordsOf views a region as 64-bit words, for sync/atomic. Regions are
// mapped at page boundaries, so every word is aligned.
func wordsOf(b []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
}

// newLedger makes a ledger for messages numbered below ranges*rangeSize,
// producer ids below producers and consumer slots below consumers.
func newLedger(t *testing.T, rangeSize, ranges, producers, consumers int) *ledger {
	t.Helper()
	reg, err := shm.Anonymous(8 * ledgerWords(rangeSize, ranges, producers, consumers))
	require.NoError(t, err)
	t.Cleanup(func() { reg.Close() })
	l := &ledger{reg: reg, w: wordsOf(reg.Bytes()), rangeSize: uint64(rangeSize), ranges: uint64(ranges),
		producers: producers, consumers: consumers}
	l.w[lgRangeSize], l.w[lgRanges] = uint64(rangeSize), uint64(ranges)
	l.w[lgProducers], l.w[lgConsumers] = uint64(producers), uint64(consumers)
	l.layout()
	return l
}

// inheritLedger maps the ledger the parent passed to this child.
func inheritLedger() (*ledger, error) {
	reg, err := shm.Inherit(ledgerName)
	if err != nil {
		return nil, err
	}
	w := wordsOf(reg.Bytes())
	l := &ledger{reg: reg, w: w, rangeSize: w[lgRangeSize], ranges: w[lgRanges],
		producers: int(w[lgProducers]), consumers: int(w[lgConsumers])}
	if l.rangeSize == 0 || ledgerWords(int(l.rangeSize), int(l.ranges), l.producers, l.consumers) > len(w) {
		reg.Close()
		return nil, fmt.Errorf("ledger of %d words does not hold its header's sections", len(w))
	}
	l.layout()
	crashVarMax = int(w[lgVarMax])
	return l, nil
}

// varSizes makes the children of this ledger send messages of log-uniform
// lengths from 8 bytes to max (see varMsgLen).
func (l *ledger) varSizes(max int) { l.w[lgVarMax] = uint64(max) }

// crashVarMax is the ledger's lgVarMax, in a child.
var crashVarMax int

// crashBufSize is the size of a buffer for any message of the ledger.
func crashBufSize() int { return max(msgMax, crashVarMax) }

// varMsgLen is the length of message number g when the ledger asks for
// log-uniform lengths: from 8 bytes (the number itself) to crashVarMax.
func varMsgLen(g uint64) int {
	u := float64(mix(0x7a, g, 0)>>11) / (1 << 53)
	return min(crashVarMax, int(8*math.Pow(float64(crashVarMax)/8, u)))
}

// A message of log-uniform length: its number g in the first 8 bytes, then
// bytes derived from g; its producer and sequence number come from the
// ledger.
func fillVarMsg(buf []byte, g uint64) []byte {
	m := buf[:varMsgLen(g)]
	le.PutUint64(m, g)
	i := 8
	for ; i+8 <= len(m); i += 8 {
		le.PutUint64(m[i:], mix(0x7b, g, i))
	}
	for w := mix(0x7b, g, i); i < len(m); i, w = i+1, w>>8 {
		m[i] = byte(w)
	}
	return m
}

func checkVarMsg(m []byte, l *ledger) (id int, seq, g uint64, err error) {
	if len(m) < 8 {
		return 0, 0, 0, fmt.Errorf("message of %d bytes, shorter than its number", len(m))
	}
	g = le.Uint64(m)
	id, seq, ok := l.owner(g)
	if !ok {
		return 0, 0, g, fmt.Errorf("message of %d bytes carries number %d, which the ledger gave nobody", len(m), g)
	}
	if want := varMsgLen(g); len(m) != want {
		return id, seq, g, fmt.Errorf("message %d of producer %d (number %d): %d bytes arrived, should be %d", seq, id, g, len(m), want)
	}
	var want [8]byte
	for i := 8; i < len(m); i += 8 {
		le.PutUint64(want[:], mix(0x7b, g, i))
		if k := min(8, len(m)-i); !bytes.Equal(m[i:i+k], want[:k]) {
			return id, seq, g, fmt.Errorf("message %d of producer %d (number %d, %d bytes): bytes %d-%d are %x, should be %x", seq, id, g, len(m), i, i+k-1, m[i:i+k], want[:k])
		}
	}
	if id >= l.producers {
		return id, seq, g, fmt.Errorf("message %d from producer %d: the ledger has %d producer records", seq, id, l.producers)
	}
	return id, seq, g, nil
}

func (l *ledger) stopped() bool { return atomic.LoadUint64(&l.w[lgStop]) != 0 }
func (l *ledger) stop()         { atomic.StoreUint64(&l.w[lgStop], 1) }

// acked is producer id's count of pushes that returned nil.
func (l *ledger) acked(id int) *uint64 { return &l.w[l.prodAt+id*lgRecord] }

// received is consumer slot's count of messages taken.
func (l *ledger) received(slot int) *uint64 { return &l.w[l.consAt+slot*lgRecord] }

// takeRange gives producer id the next range of message numbers; seq is
// its sequence number for the range's first message. It reports false when
// the ledger has no range left.
func (l *ledger) takeRange(id int, seq uint64) (first uint64, ok bool) {
	k := atomic.AddUint64(&l.w[lgNextRange], 1) - 1
	if k >= l.ranges {
		return 0, false
	}
	atomic.StoreUint64(&l.w[l.rangeAt+2*int(k)+1], seq)
	atomic.StoreUint64(&l.w[l.rangeAt+2*int(k)], uint64(id)+1) // the owner last: who sees it sees seq
	return k * l.rangeSize, true
}

// rangesTaken is how many ranges producers have taken.
func (l *ledger) rangesTaken() uint64 { return min(atomic.LoadUint64(&l.w[lgNextRange]), l.ranges) }

// owner returns the producer and sequence number of message g, as the
// range table says; ok is false when no producer has taken g's range.
func (l *ledger) owner(g uint64) (id int, seq uint64, ok bool) {
	k := g / l.rangeSize
	if k >= l.ranges {
		return 0, 0, false
	}
	o := atomic.LoadUint64(&l.w[l.rangeAt+2*int(k)])
	if o == 0 {
		return 0, 0, false
	}
	return int(o - 1), atomic.LoadUint64(&l.w[l.rangeAt+2*int(k)+1]) + g%l.rangeSize, true
}

// receive counts a receipt of message g: an atomic add of one to g's byte,
// through the 32-bit word that holds it (little-endian: byte i of the word
// is bits 8i to 8i+7). A byte would carry into the next one at 256
// receipts, which no test comes near.
func (l *ledger) receive(g uint64) {
	base := unsafe.Pointer(&l.w[l.receiptAt])
	atomic.AddUint32((*uint32)(unsafe.Add(base, g&^3)), 1<<(8*(g&3)))
}

// receipts returns the receipt counts, one byte per message number. Read
// it once every child is gone.
func (l *ledger) receipts() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&l.w[l.receiptAt])), l.ranges*l.rangeSize)
}

// ---- Messages ----

// A crash test message carries its producer id, length, sequence number
// and ledger number, and a body derived from all of them, so that a torn or
// stale slot shows.
//
//	0 id (u32)   4 length (u32)   8 seq (u64)   16 g (u64)   24 body: 0-5 words
const crashHeader = 24

func crashMsgLen(seq uint64) int { return crashHeader + 8*int(seq%6) } // at most 64: fits msgMax

func fillCrashMsg(buf []byte, id int, seq, g uint64) []byte {
	if crashVarMax > 0 {
		return fillVarMsg(buf, g)
	}
	m := buf[:crashMsgLen(seq)]
	le.PutUint32(m[0:], uint32(id))
	le.PutUint32(m[4:], uint32(len(m)))
	le.PutUint64(m[8:], seq)
	le.PutUint64(m[16:], g)
	for i := crashHeader; i < len(m); i += 8 {
		le.PutUint64(m[i:], mix(uint32(id), seq, i)^g)
	}
	return m
}

// checkCrashMsg verifies every byte of m and that the ledger numbered it
// for its producer and sequence number.
func checkCrashMsg(m []byte, l *ledger) (id int, seq, g uint64, err error) {
	if crashVarMax > 0 {
		return checkVarMsg(m, l)
	}
	if len(m) < crashHeader {
		return 0, 0, 0, fmt.Errorf("message of %d bytes, shorter than its header", len(m))
	}
	id, seq, g = int(le.Uint32(m[0:])), le.Uint64(m[8:]), le.Uint64(m[16:])
	if n := int(le.Uint32(m[4:])); n != len(m) || n != crashMsgLen(seq) {
		return id, seq, g, fmt.Errorf("message %d of producer %d: %d bytes arrived, header says %d, should be %d", seq, id, len(m), n, crashMsgLen(seq))
	}
	for i := crashHeader; i < len(m); i += 8 {
		if got, want := le.Uint64(m[i:]), mix(uint32(id), seq, i)^g; got != want {
			return id, seq, g, fmt.Errorf("message %d of producer %d: bytes %d-%d are %#x, should be %#x", seq, id, i, i+7, got, want)
		}
	}
	if oid, oseq, ok := l.owner(g); !ok || oid != id || oseq != seq {
		return id, seq, g, fmt.Errorf("message %d of producer %d carries number %d, which the ledger gives to producer %d's message %d (taken: %v)", seq, id, g, oid, oseq, ok)
	}
	if id >= l.producers {
		return id, seq, g, fmt.Errorf("message %d from producer %d: the ledger has %d producer records", seq, id, l.producers)
	}
	return id, seq, g, nil
}

// ---- Helpers: the child programs ----

// armFault arms faultinject from arm=POINT:K (see helperCrashProducer). It
// runs before the helper touches any ring.
func armFault(a args) int {
	s := a.str("arm", "")
	if s == "" {
		return exitOK
	}
	if !faultinject.Enabled {
		return usagef("arm=%q: this binary was built without the tag shmring_faults", s)
	}
	name, k, ok := strings.Cut(s, ":")
	p, err := faultinject.Parse(name)
	n, nerr := strconv.ParseInt(k, 10, 64)
	if !ok || err != nil || nerr != nil || n < 1 {
		return usagef("arm=%q: want POINT:K with K >= 1 (%v)", s, err)
	}
	faultinject.Arm(p, n)
	return exitOK
}

// openCrashRing is openRing, or with create=KIND:CAPACITY, ring.Create at
// the path ring= names (the creator of a stale ring is a process that dies).
func openCrashRing(a args) (*ring.Ring, int) {
	spec := a.str("create", "")
	if spec == "" {
		return openRing(a)
	}
	kindName, capStr, _ := strings.Cut(spec, ":")
	kind, err := ring.ParseKind(kindName)
	capacity, cerr := strconv.Atoi(capStr)
	if err != nil || cerr != nil {
		return nil, usagef("create=%q: want KIND:CAPACITY", spec)
	}
	r, err := ring.Create(a.str("ring", ""), ring.Config{Kind: kind, Capacity: capacity, SlotSize: msgMax})
	if err != nil {
		return nil, usagef("create %s: %v", a.str("ring", ""), err)
	}
	if a.bool("waitpeer") {
		r.SetOptions(ring.Options{WaitForPeer: true})
	}
	return r, exitOK
}

// endedBy classifies the error that ended a helper's run: the ends=
// argument lists the classes that are an expected end ("peer-dead"), any
// other error fails the helper.
func endedBy(a args, err error) (string, bool) {
	var end string
	switch {
	case err == nil:
		return "done", true
	case errors.Is(err, io.EOF):
		return "eof", true
	case errors.Is(err, ring.ErrPeerDead):
		end = "peer-dead"
	default:
		return err.Error(), false
	}
	for _, ok := range strings.Split(a.str("ends", ""), ",") {
		if ok == end {
			return end, true
		}
	}
	return end, false
}

// helperCrashProducer pushes messages numbered through the ledger.
//
//	ring, waitpeer   see openRing; create=KIND:CAPACITY makes the ring file
//	id=ID            producer id: its record in the ledger; one per process
//	n=N              push N messages; 0: until the ledger says stop (or has
//	                 no more numbers)
//	batch=B          push with PushBatch, B messages at a time
//	handles=H        spread the pushes, round robin, over H handles on the
//	                 same mapping (on MPMC, H process records)
//	goroutines=G     push from G goroutines at once, on the same handles,
//	                 as ledger producers id..id+G-1
//	arm=POINT:K      SIGKILL itself at its K-th arrival at POINT (faultinject)
//	hold=1           after the last message, report and block until killed
//	shutdown=1       shut the ring down after the last message
//	ends=peer-dead   a push that fails with ErrPeerDead ends the run
//	reserve=1        write each message in place (pushInPlace)
//
// After every push that returns nil, and after every PushBatch, it stores
// in its ledger record how many messages it has pushed. Reports pushed=N
// and end=done|peer-dead.
func helperCrashProducer(a args) int {
	if code := armFault(a); code != exitOK {
		return code
	}
	lg, err := inheritLedger()
	if err != nil {
		return usagef("ledger: %v", err)
	}
	r, code := openCrashRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	id, n, batch := a.int("id", 0), uint64(a.int("n", 0)), max(a.int("batch", 1), 1)
	if id < 0 || id >= lg.producers {
		return usagef("id=%d: the ledger has %d producer records", id, lg.producers)
	}
	handles := []*ring.Ring{r}
	for i := 1; i < a.int("handles", 1); i++ {
		h, err := ring.Attach(r.Region().Bytes())
		if err != nil {
			return usagef("handle %d: %v", i, err)
		}
		defer h.Close()
		handles = append(handles, h)
	}
	goroutines := max(a.int("goroutines", 1), 1)
	reserve := a.bool("reserve")
	if reserve && batch > 1 {
		return usagef("reserve=1 writes one message at a time: no batch=%d", batch)
	}
	if id+goroutines > lg.producers {
		return usagef("id=%d goroutines=%d: the ledger has %d producer records", id, goroutines, lg.producers)
	}
	// produce pushes the messages of ledger producer pid through the
	// handles; with goroutines=G, G of them run at once, ids id..id+G-1,
	// on the same handles (so on MPMC the same lanes).
	produce := func(pid int) (seq uint64, code int, end error) {
		acked := lg.acked(pid)
		bufs := make([][]byte, batch)
		for i := range bufs {
			bufs[i] = make([]byte, crashBufSize())
		}
		msgs := make([][]byte, 0, batch)
		ctx := context.Background() // the parent kills us if we hang
		var g, left uint64          // next number of the current range, and how many it has left
		for turn := 0; end == nil; turn++ {
			msgs = msgs[:0]
			for len(msgs) < batch && (n == 0 && !lg.stopped() || n > 0 && seq+uint64(len(msgs)) < n) {
				if left == 0 {
					var ok bool
					if g, ok = lg.takeRange(pid, seq+uint64(len(msgs))); !ok {
						if n > 0 {
							return seq, usagef("the ledger has no numbers left for message %d", seq+uint64(len(msgs))), nil
						}
						break
					}
					left = lg.rangeSize
				}
				msgs = append(msgs, fillCrashMsg(bufs[len(msgs)], pid, seq+uint64(len(msgs)), g))
				g++
				left--
			}
			if len(msgs) == 0 {
				break
			}
			h := handles[turn%len(handles)]
			var k int
			if reserve {
				if end = pushInPlace(ctx, h, msgs[0], seq+g); end == nil {
					k = 1
				}
			} else if batch == 1 {
				if end = h.Push(ctx, msgs[0]); end == nil {
					k = 1
				}
			} else {
				k, end = h.PushBatch(ctx, msgs)
			}
			seq += uint64(k)
			atomic.StoreUint64(acked, seq) // acknowledged: Push returned nil for every message below seq
		}
		return seq, exitOK, end
	}
	var seq uint64
	var end error
	if goroutines == 1 {
		var code int
		if seq, code, end = produce(id); code != exitOK {
			return code
		}
	} else {
		var wg sync.WaitGroup
		var mu sync.Mutex
		code := exitOK
		for i := 0; i < goroutines; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, c, e := produce(id + i)
				mu.Lock()
				defer mu.Unlock()
				seq += s
				if end == nil {
					end = e
				}
				if c != exitOK {
					code = c
				}
			}()
		}
		wg.Wait()
		if code != exitOK {
			return code
		}
	}
	report("pushed", seq)
	how, ok := endedBy(a, end)
	if !ok {
		return failf("push %d: %v", seq, end)
	}
	if a.bool("hold") {
		report("end", how)
		blockUntilKilled()
	}
	if a.bool("shutdown") && end == nil {
		if err := r.Shutdown(); err != nil {
			return failf("shutdown: %v", err)
		}
	}
	report("end", how)
	return exitOK
}

// helperCrashConsumer takes messages until io.EOF, checks each (its bytes,
// its number in the ledger, and that its producer's sequence numbers only
// grow at this consumer) and counts its receipt in the ledger.
//
//	ring, waitpeer   see openRing
//	slot=S           its consumer record in the ledger
//	batch=B          take with PopFunc, up to B messages at a time
//	arm=POINT:K      see helperCrashProducer
//	n=N              stop after N messages (and Close)
//	hold=N           after N messages, report held=N and block until killed
//	ends=peer-dead   ErrPeerDead ends the run
//
// Reports received=N and end=eof|peer-dead|done.
func helperCrashConsumer(a args) int {
	if code := armFault(a); code != exitOK {
		return code
	}
	lg, err := inheritLedger()
	if err != nil {
		return usagef("ledger: %v", err)
	}
	r, code := openRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	slot, batch, n, hold := a.int("slot", 0), max(a.int("batch", 1), 1), a.int("n", 0), a.int("hold", 0)
	if slot < 0 || slot >= lg.consumers {
		return usagef("slot=%d: the ledger has %d consumer records", slot, lg.consumers)
	}
	last := make([]int64, lg.producers)
	for i := range last {
		last[i] = -1
	}
	rec := lg.received(slot)
	var count uint64
	var bad error
	take := func(m []byte) {
		if bad != nil {
			return
		}
		id, seq, g, err := checkCrashMsg(m, lg)
		switch {
		case err != nil:
			bad = err
			return
		case int64(seq) <= last[id]:
			bad = fmt.Errorf("producer %d: message %d after %d (duplicate or out of order)", id, seq, last[id])
			return
		}
		last[id] = int64(seq)
		lg.receive(g)
		count++
		atomic.StoreUint64(rec, count)
	}
	ctx := context.Background()
	buf := make([]byte, crashBufSize())
	var end error
	for bad == nil && end == nil {
		switch {
		case n > 0 && count >= uint64(n):
			end = errStop
			continue
		case hold > 0 && count >= uint64(hold):
			report("received", count)
			report("held", count)
			blockUntilKilled()
		}
		want := batch
		if limit := max(n, hold); limit > 0 {
			want = min(want, limit-int(count))
		}
		if want > 1 {
			_, end = r.PopFunc(ctx, want, take)
			continue
		}
		var k int
		if k, end = r.Pop(ctx, buf); end == nil {
			take(buf[:k])
		}
	}
	report("received", count)
	if bad != nil {
		return failf("after %d good messages: %v", count, bad)
	}
	if end == errStop {
		end = nil
	}
	how, ok := endedBy(a, end)
	if !ok {
		return failf("pop after %d messages: %v", count, end)
	}
	report("end", how)
	return exitOK
}

var errStop = errors.New("stop")

// pushInPlace pushes msg with Reserve and Commit: it reserves more than
// the message when it can and commits it shorter, and every fourth time
// (by salt) first reserves, scribbles and aborts, which must leave nothing.
func pushInPlace(ctx context.Context, r *ring.Ring, msg []byte, salt uint64) error {
	if salt%4 == 0 {
		view, err := r.Reserve(ctx, len(msg))
		if err != nil {
			return err
		}
		for i := range view {
			view[i] = 0xee
		}
		if err := r.Abort(); err != nil {
			return err
		}
	}
	n := len(msg)
	if salt%3 == 0 {
		n = min(r.Config().SlotSize, 2*n) // room for more than it writes
	}
	view, err := r.Reserve(ctx, n)
	if err != nil {
		return err
	}
	copy(view, msg)
	return r.Commit(len(msg))
}

// ---- Parent side ----

// crashRun is one test's ring, ledger and children.
type crashRun struct {
	t    *testing.T
	ctx  context.Context
	r    *ring.Ring // the ring children inherit; nil when they open it by path
	path string     // the ring's file, when they open it by path
	lg   *ledger
}

// start starts helper name with the ring and the ledger. A child that is
// meant to die (it kills itself at a fault point) is started with mayFail.
func (cr *crashRun) start(name string, mayFail bool, args ...string) *child {
	cr.t.Helper()
	if cr.r != nil {
		args = append([]string{"ring=inherit:ring"}, args...)
	} else {
		args = append([]string{arg("ring", cr.path)}, args...)
	}
	c := newChild(cr.ctx, cr.t, name, args...)
	if cr.r != nil {
		require.NoError(cr.t, cr.r.Share(c.cmd, "ring"))
	}
	require.NoError(cr.t, cr.lg.reg.Share(c.cmd, ledgerName))
	c.mayFail = mayFail
	return c.start()
}

// exited waits until c has exited and been reaped.
func (cr *crashRun) exited(c *child) {
	cr.t.Helper()
	select {
	case <-c.done:
	case <-cr.ctx.Done():
		cr.t.Fatalf("%s still runs at the end of the test's context (a stall?): %v\n%s\n%s", c, why(cr.ctx), c.transcript(), cr.state())
	}
}

// state describes the ring and the ledger, for a failure message.
func (cr *crashRun) state() string {
	var b strings.Builder
	if cr.r != nil {
		fmt.Fprintf(&b, "ring: %+v\nslots: %+v\n", cr.r.Stats(), cr.r.SlotStates())
	}
	fmt.Fprintf(&b, "ledger: acked")
	for id := 0; id < cr.lg.producers; id++ {
		if v := atomic.LoadUint64(cr.lg.acked(id)); v != 0 {
			fmt.Fprintf(&b, " p%d=%d", id, v)
		}
	}
	fmt.Fprintf(&b, "; received")
	for s := 0; s < cr.lg.consumers; s++ {
		if v := atomic.LoadUint64(cr.lg.received(s)); v != 0 {
			fmt.Fprintf(&b, " c%d=%d", s, v)
		}
	}
	return b.String()
}

// killedItself waits for c, which was armed to SIGKILL itself at a fault
// point, and fails the test unless that is how it ended.
func (cr *crashRun) killedItself(c *child) {
	cr.t.Helper()
	cr.exited(c)
	if !killedBySIGKILL(c.waitErr) {
		cr.t.Fatalf("%s was armed to die at its fault point, but exited: %v\n%s", c, c.waitErr, c.transcript())
	}
}

func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// ended waits for c to exit with status 0 and returns how its run ended.
func ended(t *testing.T, c *child) (results, string) {
	t.Helper()
	rep := c.wait()
	return rep, rep["end"]
}

// producerFate is what the parent knows of a producer when it reads the
// ledger.
type producerFate struct {
	killed bool // SIGKILLed: the message after its last acknowledged one may be missing
	batch  int  // messages per push: after a kill, up to this many unacknowledged ones may have been published
}

// tallyResult is what the ledger says about a run.
type tallyResult struct {
	acked      int      // messages whose push returned nil
	received   int      // receipts, duplicates included
	distinct   int      // messages received at least once
	lost       int      // messages missing that must have been in the ring: acknowledged, or published before one of the same producer that arrived
	inFlight   int      // killed producers' messages, one each at most, that were in flight when they died and did not arrive
	duplicated int      // messages received more than once
	examples   []string // some of the lost and duplicated messages
}

func (tr tallyResult) String() string {
	return fmt.Sprintf("acked=%d received=%d distinct=%d lost=%d in-flight-lost=%d duplicated=%d",
		tr.acked, tr.received, tr.distinct, tr.lost, tr.inFlight, tr.duplicated)
}

// tally reads the ledger once every child is gone. fates must name every
// producer that took numbers. It fails the test on what no crash explains:
// a message its producer never pushed, or one nobody numbered.
func (l *ledger) tally(t *testing.T, fates map[int]producerFate) tallyResult {
	t.Helper()
	rc := l.receipts()
	taken := l.rangesTaken()
	var res tallyResult
	high := map[int]uint64{} // per producer: 1 + the highest sequence number received
	for id := range fates {
		require.Less(t, id, l.producers, "producer id")
		res.acked += int(atomic.LoadUint64(l.acked(id)))
	}
	note := func(format string, v ...any) {
		if len(res.examples) < 8 {
			res.examples = append(res.examples, fmt.Sprintf(format, v...))
		}
	}
	for pass := 0; pass < 2; pass++ {
		for k := uint64(0); k < taken; k++ {
			first := k * l.rangeSize
			id, seq0, ok := l.owner(first)
			if !ok {
				for g := first; g < first+l.rangeSize; g++ {
					if rc[g] != 0 {
						t.Fatalf("message number %d, in a range no producer took, was received %d times", g, rc[g])
					}
				}
				continue
			}
			f, known := fates[id]
			if !known {
				t.Fatalf("producer %d took numbers, but the test does not know it", id)
			}
			acked := atomic.LoadUint64(l.acked(id))
			for i := uint64(0); i < l.rangeSize; i++ {
				g, seq, n := first+i, seq0+i, rc[first+i]
				if pass == 0 {
					if n > 0 && seq+1 > high[id] {
						high[id] = seq + 1
					}
					continue
				}
				res.received += int(n)
				if n > 0 {
					res.distinct++
				}
				if n > 1 {
					res.duplicated++
					note("producer %d's message %d (number %d) was received %d times", id, seq, g, n)
				}
				switch {
				case seq < acked:
					if n == 0 {
						res.lost++
						note("producer %d's message %d (number %d), acknowledged, never arrived", id, seq, g)
					}
				case !f.killed:
					if n > 0 {
						t.Fatalf("producer %d's message %d (number %d) arrived %d times, but the producer ended after pushing %d", id, seq, g, n, acked)
					}
				case seq >= acked+uint64(max(f.batch, 1)):
					if n > 0 {
						t.Fatalf("producer %d's message %d (number %d) arrived %d times, but the producer died in the push of message %d (batch %d)", id, seq, g, n, acked, f.batch)
					}
				case seq == acked:
					if n == 0 {
						res.inFlight++
					}
				case seq < high[id] && n == 0:
					res.lost++ // published (a later one of the same batch arrived), then lost
					note("producer %d's message %d (number %d), published before one that arrived, never arrived", id, seq, g)
				}
			}
		}
	}
	return res
}

// crashCase is a fault point and the side that dies there.
type crashCase struct {
	point    faultinject.Point
	producer bool // the victims are producers (else consumers)
	batch    int  // the victims push (PushBatch) or take (PopFunc) this many at a time
	reserve  bool // the producers write in place (Reserve/Commit)
}

func (c crashCase) String() string {
	side := "consumer"
	if c.producer {
		side = "producer"
	}
	mode := "single"
	if c.batch > 1 {
		mode = fmt.Sprintf("batch%d", c.batch)
	}
	if c.reserve {
		mode = "reserve"
	}
	return side + "/" + c.point.String() + "/" + mode
}

// TestCrashMPMCAtEveryPoint: on an MPMC ring of 64 slots, three producer
// and three consumer processes; two of the producers (or of the consumers)
// are armed to SIGKILL themselves at a fault point, one early and one
// later, and a replacement with a fresh id starts when each dies. Each
// producer that lives pushes 20,000 messages (when consumers die, the
// producers push until both have died and 60,000 messages are in); for
// every point where a
// producer or a consumer can die, with single and batch operations:
// nothing stalls, no message arrives twice, every message of a producer
// that lived arrives, a killed producer's acknowledged messages all arrive
// and at most its in-flight one is missing, and a killed consumer loses at
// most the message it was handling.
func TestCrashMPMCAtEveryPoint(t *testing.T) {
	per := crashCount(20_000)
	var cases []crashCase
	for _, batch := range []int{1, 8} {
		for _, p := range []faultinject.Point{faultinject.AfterClaimCAS, faultinject.AfterClaim, faultinject.AfterCopy, faultinject.BeforePublish} {
			cases = append(cases, crashCase{point: p, producer: true, batch: batch})
		}
		for _, p := range []faultinject.Point{faultinject.AfterReadCAS, faultinject.AfterRead, faultinject.AfterConsume} {
			cases = append(cases, crashCase{point: p, batch: batch})
		}
	}
	for _, tc := range cases {
		t.Run(tc.String(), func(t *testing.T) { crashMPMC(t, tc, per) })
	}
}

func crashMPMC(t *testing.T, tc crashCase, per int) {
	start := time.Now()
	const producers, consumers, rangeSize = 3, 3, 1024
	cr := &crashRun{t: t, ctx: testContext(t, testTimeout()), r: anonymousRing(t, ring.MPMC, 64)}
	// Producers die at their own n-th message: early, and later. A
	// consumer reaches its point only with the messages it wins from the
	// others, which may be few (an unlucky one sleeps through thousands):
	// consumer victims die sooner, and the producers keep pushing (n=0)
	// until both have died.
	kills, n := []int{per / 10, per / 4}, per
	if !tc.producer {
		kills, n = []int{per / 100, per / 20}, 0
	}
	cr.lg = newLedger(t, rangeSize, 40*(per/rangeSize+2), 8, 8)

	batchOf := func(i int, victim bool) int { // the other side mixes single and batch operations
		if victim {
			return tc.batch
		}
		return 1 + 3*(i%2)
	}
	fates := map[int]producerFate{}
	var prods, cons []*child
	startProducer := func(id int, arm string) *child {
		victim := arm != ""
		b := batchOf(id, victim || tc.producer)
		fates[id] = producerFate{killed: victim, batch: b}
		c := cr.start("crash-producer", victim, arg("id", id), arg("n", n), arg("batch", b), arg("arm", arm))
		prods = append(prods, c)
		return c
	}
	startConsumer := func(slot int, arm string) *child {
		victim := arm != ""
		c := cr.start("crash-consumer", victim, arg("slot", slot), arg("batch", batchOf(slot, victim || !tc.producer)), arg("arm", arm))
		cons = append(cons, c)
		return c
	}
	var victims []*child
	for i := 0; i < consumers; i++ {
		arm := ""
		if !tc.producer && i < len(kills) {
			arm = fmt.Sprintf("%s:%d", tc.point, kills[i])
		}
		if c := startConsumer(i, arm); arm != "" {
			victims = append(victims, c)
		}
	}
	for i := 0; i < producers; i++ {
		arm := ""
		if tc.producer && i < len(kills) {
			arm = fmt.Sprintf("%s:%d", tc.point, kills[i])
		}
		if c := startProducer(i, arm); arm != "" {
			victims = append(victims, c)
		}
	}
	// Each victim dies at its point while the others run; a replacement
	// takes its place.
	for i, v := range victims {
		cr.killedItself(v)
		if tc.producer {
			startProducer(producers+i, "")
		} else {
			startConsumer(consumers+i, "")
		}
	}
	if !tc.producer {
		// As many messages as the producer cases push, then stop them.
		waitUntil(cr.ctx, t, fmt.Sprintf("%d messages pushed", producers*per), func() bool {
			total := uint64(0)
			for id := 0; id < producers; id++ {
				total += atomic.LoadUint64(cr.lg.acked(id))
			}
			return total >= uint64(producers*per) || cr.lg.rangesTaken() == cr.lg.ranges
		})
		cr.lg.stop()
	}
	for _, p := range prods {
		id := pidOf(p)
		if fates[id].killed {
			continue
		}
		rep, end := ended(t, p)
		assert.Equal(t, "done", end, "%s", p)
		assert.Equal(t, int(atomic.LoadUint64(cr.lg.acked(id))), rep.int(t, "pushed"), "%s", p)
		if n > 0 {
			assert.Equal(t, n, rep.int(t, "pushed"), "%s", p)
		}
	}
	require.NoError(t, cr.r.Shutdown()) // every producer is done or dead
	for _, c := range cons {
		if c.mayFail {
			continue
		}
		_, end := ended(t, c)
		assert.Equal(t, "eof", end, "%s", c)
	}
	res := cr.lg.tally(t, fates)
	t.Logf("%v; %v", res, time.Since(start).Round(time.Millisecond))
	for _, e := range res.examples {
		t.Log(e)
	}
	assert.Zero(t, res.duplicated, "no message may arrive twice")
	if tc.producer {
		assert.Zero(t, res.lost, "producers died, consumers did not: every published message must arrive")
		assert.LessOrEqual(t, res.inFlight, len(victims), "one in-flight message per killed producer")
	} else {
		assert.LessOrEqual(t, res.lost, len(victims), "at most one message per killed consumer")
		assert.Zero(t, res.inFlight)
	}
	st := cr.r.SlotStates()
	t.Logf("slots at the end: %+v", st)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pidOf returns the id= argument a producer was started with.
func pidOf(c *child) int {
	for _, s := range c.cmd.Args {
		if v, ok := strings.CutPrefix(s, "id="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return -1
}

// crashCount scales a crash test's message count: count's scaling (-short,
// SHMRING_LONG), and a quarter under the race detector, whose children run
// ten times slower.
func crashCount(n int) int {
	if raceEnabled {
		n /= 4
	}
	return count(n)
}

// TestCrashSPSCAtEveryPoint: on an SPSC ring of 64 slots, the producer
// process dies at AfterCopy or BeforePublish (single pushes; BeforePublish
// also in the middle of a PushBatch) and a successor producer takes the
// role over at once (ErrBusy would fail it) and pushes its own 20,000
// messages; or the consumer dies at AfterConsume (Pop, or PopFunc) and a
// successor consumer resumes. The other side waits for the successor
// (Options.WaitForPeer). Every acknowledged message arrives; nothing is
// lost but the dead producer's in-flight message; nothing arrives twice,
// except, after a consumer dies inside PopFunc, the messages of the batch
// it was handling (at most the batch size).
func TestCrashSPSCAtEveryPoint(t *testing.T) {
	per := crashCount(20_000)
	cases := []crashCase{
		{point: faultinject.AfterCopy, producer: true, batch: 1},
		{point: faultinject.BeforePublish, producer: true, batch: 1},
		{point: faultinject.BeforePublish, producer: true, batch: 8},
		{point: faultinject.AfterConsume, producer: false, batch: 1},
		{point: faultinject.AfterConsume, producer: false, batch: 8},
	}
	for _, tc := range cases {
		t.Run(tc.String(), func(t *testing.T) { crashSPSC(t, tc, per, anonymousRing(t, ring.SPSC, 64), 0) })
	}
}

// crashSPSC runs crash case tc on r, an SPSC or SPSCBytes ring; varMax > 0
// makes the messages log-uniform up to varMax bytes.
func crashSPSC(t *testing.T, tc crashCase, per int, r *ring.Ring, varMax int) {
	start := time.Now()
	cr := &crashRun{t: t, ctx: testContext(t, testTimeout()), r: r}
	cr.lg = newLedger(t, 1024, 2*(per/1024+2), 4, 4)
	cr.lg.varSizes(varMax)
	arm := fmt.Sprintf("%s:%d", tc.point, per/3)
	if !tc.producer {
		// A consumer reaches AfterConsume once per PopFunc call, which
		// takes up to a batch: die within the first third of the messages.
		arm = fmt.Sprintf("%s:%d", tc.point, per/(3*tc.batch))
	}
	fates := map[int]producerFate{}
	var res tallyResult
	if tc.producer {
		cons := cr.start("crash-consumer", false, "slot=0", "waitpeer=1")
		fates[0] = producerFate{killed: true, batch: tc.batch}
		cr.killedItself(cr.start("crash-producer", true, "id=0", arg("n", per), arg("batch", tc.batch), arg("arm", arm), arg("reserve", b2i(tc.reserve))))
		fates[1] = producerFate{batch: tc.batch}
		rep, end := ended(t, cr.start("crash-producer", false, "id=1", arg("n", per), arg("batch", tc.batch), "shutdown=1", arg("reserve", b2i(tc.reserve))))
		require.Equal(t, "done", end, "the successor takes the dead producer's role")
		assert.Equal(t, per, rep.int(t, "pushed"))
		_, end = ended(t, cons)
		assert.Equal(t, "eof", end)
		res = cr.lg.tally(t, fates)
		assert.Zero(t, res.lost, "every published message arrives")
		assert.LessOrEqual(t, res.inFlight, 1)
		assert.Zero(t, res.duplicated)
	} else {
		fates[0] = producerFate{}
		prod := cr.start("crash-producer", false, "id=0", arg("n", per), "waitpeer=1", "shutdown=1")
		cr.killedItself(cr.start("crash-consumer", true, "slot=0", arg("batch", tc.batch), arg("arm", arm)))
		succ := cr.start("crash-consumer", false, "slot=1", arg("batch", tc.batch))
		_, end := ended(t, prod)
		assert.Equal(t, "done", end)
		_, end = ended(t, succ)
		assert.Equal(t, "eof", end)
		res = cr.lg.tally(t, fates)
		assert.Zero(t, res.lost, "the successor resumes at the first message its predecessor had not marked consumed")
		if tc.batch == 1 {
			assert.Zero(t, res.duplicated, "a consumer killed inside Pop had not counted the message")
		} else {
			assert.LessOrEqual(t, res.duplicated, tc.batch, "at most the batch the victim was handling arrives again")
		}
	}
	t.Logf("%v; %v", res, time.Since(start).Round(time.Millisecond))
	for _, e := range res.examples {
		t.Log(e)
	}
}

// TestSPSCPeerDeath: an SPSC Pop on an empty ring returns ErrPeerDead when
// its producer process is SIGKILLed, and goes on waiting when the producer
// closed its handle (exited cleanly) or when the consumer set
// Options.WaitForPeer, until a new producer's messages arrive; and the
// mirror image for a Push on a full ring and its consumer.
func TestSPSCPeerDeath(t *testing.T) {
	const capacity = 64
	setup := func(t *testing.T) *crashRun {
		cr := &crashRun{t: t, ctx: testContext(t, testTimeout()), r: anonymousRing(t, ring.SPSC, capacity)}
		cr.lg = newLedger(t, 1024, 8, 4, 4)
		return cr
	}
	received := func(cr *crashRun, slot, n int) {
		waitUntil(cr.ctx, cr.t, fmt.Sprintf("consumer %d has taken %d messages", slot, n), func() bool {
			return atomic.LoadUint64(cr.lg.received(slot)) == uint64(n)
		})
	}
	asleep := func(cr *crashRun, consumers bool) {
		what := "the producer waits for room"
		if consumers {
			what = "the consumer waits for a message"
		}
		waitUntil(cr.ctx, cr.t, what, func() bool {
			st := cr.r.Stats()
			if consumers {
				return st.ConsumersWaiting == 1
			}
			return st.ProducersWaiting == 1
		})
	}
	exact := func(cr *crashRun, fates map[int]producerFate) {
		res := cr.lg.tally(cr.t, fates)
		cr.t.Log(res)
		assert.Zero(cr.t, res.lost)
		assert.Zero(cr.t, res.duplicated)
	}

	t.Run("pop/producer-killed", func(t *testing.T) {
		cr := setup(t)
		prod := cr.start("crash-producer", false, "id=0", "n=10", "hold=1")
		cons := cr.start("crash-consumer", false, "slot=0", "ends=peer-dead")
		received(cr, 0, 10)
		asleep(cr, true)
		prod.kill()
		rep, end := ended(t, cons)
		assert.Equal(t, "peer-dead", end)
		assert.Equal(t, 10, rep.int(t, "received"))
		exact(cr, map[int]producerFate{0: {killed: true, batch: 1}})
	})
	t.Run("pop/producer-closed", func(t *testing.T) {
		cr := setup(t)
		_, end := ended(t, cr.start("crash-producer", false, "id=0", "n=10"))
		require.Equal(t, "done", end)
		// The producer closed its handle and exited; the role is free. The
		// consumer, started now, finds the ring empty after 10 messages and
		// waits for a producer rather than report a dead one.
		cons := cr.start("crash-consumer", false, "slot=0")
		received(cr, 0, 10)
		asleep(cr, true)
		cr.start("crash-producer", false, "id=1", "n=10", "shutdown=1")
		rep, end := ended(t, cons)
		assert.Equal(t, "eof", end)
		assert.Equal(t, 20, rep.int(t, "received"))
		exact(cr, map[int]producerFate{0: {}, 1: {}})
	})
	t.Run("pop/producer-closes-while-consumer-waits", func(t *testing.T) {
		cr := setup(t)
		cons := cr.start("crash-consumer", false, "slot=0")
		asleep(cr, true)
		_, end := ended(t, cr.start("crash-producer", false, "id=0", "n=10"))
		require.Equal(t, "done", end)
		received(cr, 0, 10)
		asleep(cr, true)
		cr.start("crash-producer", false, "id=1", "n=10", "shutdown=1")
		rep, end := ended(t, cons)
		assert.Equal(t, "eof", end)
		assert.Equal(t, 20, rep.int(t, "received"))
		exact(cr, map[int]producerFate{0: {}, 1: {}})
	})
	t.Run("pop/waitforpeer", func(t *testing.T) {
		cr := setup(t)
		prod := cr.start("crash-producer", false, "id=0", "n=10", "hold=1")
		cons := cr.start("crash-consumer", false, "slot=0", "waitpeer=1")
		received(cr, 0, 10)
		asleep(cr, true)
		prod.kill()
		cr.start("crash-producer", false, "id=1", "n=1000", "shutdown=1")
		rep, end := ended(t, cons)
		assert.Equal(t, "eof", end)
		assert.Equal(t, 1010, rep.int(t, "received"))
		exact(cr, map[int]producerFate{0: {killed: true, batch: 1}, 1: {}})
	})
	t.Run("push/consumer-killed", func(t *testing.T) {
		cr := setup(t)
		cons := cr.start("crash-consumer", false, "slot=0", "hold=5")
		prod := cr.start("crash-producer", false, "id=0", "n=1000", "ends=peer-dead")
		cons.await("held", nil)
		asleep(cr, false)
		cons.kill()
		rep, end := ended(t, prod)
		assert.Equal(t, "peer-dead", end)
		pushed := rep.int(t, "pushed")
		assert.GreaterOrEqual(t, pushed, capacity, "the ring was full")
		assert.LessOrEqual(t, pushed, capacity+5)
		// The producer exited after ErrPeerDead (and gave up its role): a
		// new consumer drains what is queued.
		require.NoError(t, cr.r.Shutdown())
		rep, end = ended(t, cr.start("crash-consumer", false, "slot=1"))
		assert.Equal(t, "eof", end)
		assert.Equal(t, pushed-5, rep.int(t, "received"))
		exact(cr, map[int]producerFate{0: {}})
	})
	t.Run("push/consumer-closed", func(t *testing.T) {
		cr := setup(t)
		prod := cr.start("crash-producer", false, "id=0", "n=1000", "shutdown=1")
		asleep(cr, false)
		_, end := ended(t, cr.start("crash-consumer", false, "slot=0", "n=5"))
		require.Equal(t, "done", end)
		asleep(cr, false)
		succ := cr.start("crash-consumer", false, "slot=1")
		_, end = ended(t, prod)
		assert.Equal(t, "done", end, "a consumer that closed is not a dead one")
		rep, end := ended(t, succ)
		assert.Equal(t, "eof", end)
		assert.Equal(t, 995, rep.int(t, "received"))
		exact(cr, map[int]producerFate{0: {}})
	})
	t.Run("push/waitforpeer", func(t *testing.T) {
		cr := setup(t)
		cons := cr.start("crash-consumer", false, "slot=0", "hold=5")
		prod := cr.start("crash-producer", false, "id=0", "n=1000", "waitpeer=1", "shutdown=1")
		cons.await("held", nil)
		asleep(cr, false)
		cons.kill()
		succ := cr.start("crash-consumer", false, "slot=1")
		_, end := ended(t, prod)
		assert.Equal(t, "done", end)
		rep, end := ended(t, succ)
		assert.Equal(t, "eof", end)
		assert.Equal(t, 995, rep.int(t, "received"))
		exact(cr, map[int]producerFate{0: {}})
	})
}

// TestStaleRing: a file-backed ring all of whose processes have died, with
// messages queued in it, is opened by new processes, which take the roles
// (SPSC) or the process records (MPMC) over and go on with the data; then
// shm.Remove removes the file.
//
// SPSC: the creator pushes 40 messages and dies in the 41st push; a
// consumer takes 15 and dies in the 16th pop. A new consumer and producer
// (opening the file by path) deliver messages 15-39 and 200 new ones: none
// lost, none twice.
//
// MPMC: one process creates the ring and pushes 128 messages through 64
// handles, taking every process record, and dies in the next push with a
// slot claimed. A consumer, which must take a dead process's record, takes
// 50 and dies with a message claimed. New processes, which also find no free
// record, take dead ones over, free the slots the dead left claimed, and
// deliver the remaining 77 and 1000 new messages; at most the dead
// consumer's message is missing.
func TestStaleRing(t *testing.T) {
	for _, kind := range []ring.Kind{ring.SPSC, ring.MPMC} {
		t.Run(kind.String(), func(t *testing.T) {
			name := fmt.Sprintf("shmring-stale-%d-%d", os.Getpid(), time.Now().UnixNano())
			t.Cleanup(func() { _ = shm.Remove(name) })
			cr := &crashRun{t: t, ctx: testContext(t, testTimeout()), path: name}
			cr.lg = newLedger(t, 1024, 8, 4, 4)
			var queued, fresh int
			fates := map[int]producerFate{0: {killed: true, batch: 1}, 1: {}}
			if kind == ring.SPSC {
				cr.killedItself(cr.start("crash-producer", true, "create=spsc:64", "id=0", "n=100", "arm=before-publish:41"))
				cr.killedItself(cr.start("crash-consumer", true, "slot=0", "arm=after-consume:16"))
				queued, fresh = 40-15, 200
			} else {
				cr.killedItself(cr.start("crash-producer", true, "create=mpmc:256", "id=0", "n=200", "handles=64", "arm=after-claim:129"))
				cr.killedItself(cr.start("crash-consumer", true, "slot=0", "arm=after-read:51"))
				queued, fresh = 128-51, 1000
			}

			insp, err := ring.OpenReadOnly(name)
			require.NoError(t, err)
			before := insp.Stats()
			require.NotEmpty(t, before.Processes)
			for _, p := range before.Processes {
				assert.False(t, p.Alive, "record %d (pid %d) should be dead", p.Record, p.PID)
			}
			t.Logf("before: %d records, all dead; %d queued; slots %+v", len(before.Processes), before.Len, insp.SlotStates())
			if kind == ring.MPMC {
				assert.Len(t, before.Processes, 64, "every record is held by a dead process")
				assert.Equal(t, 1, insp.SlotStates().Stuck, "the dead consumer's claim")
			}
			require.NoError(t, insp.Close())

			// Each side waits for its peer (WaitForPeer): until the other
			// new process takes its role over, the role is a dead
			// process's, and an SPSC consumer that drains the ring, or a
			// producer that finds it full (the dead consumer released its
			// slots lazily), would report ErrPeerDead.
			cons := cr.start("crash-consumer", false, "slot=1", "waitpeer=1")
			_, end := ended(t, cr.start("crash-producer", false, "id=1", arg("n", fresh), "shutdown=1", "waitpeer=1"))
			require.Equal(t, "done", end)
			rep, end := ended(t, cons)
			assert.Equal(t, "eof", end)
			res := cr.lg.tally(t, fates)
			t.Log(res)
			assert.Equal(t, queued+fresh, rep.int(t, "received"), "what was queued, then the new messages")
			if kind == ring.SPSC {
				assert.Zero(t, res.lost, "the new consumer resumes at the message the dead one had not finished")
			} else {
				assert.LessOrEqual(t, res.lost, 1, "the message the dead consumer had claimed")
			}
			assert.Zero(t, res.duplicated)

			insp, err = ring.OpenReadOnly(name)
			require.NoError(t, err)
			after, slots := insp.Stats(), insp.SlotStates()
			require.NoError(t, insp.Close())
			t.Logf("after: %d records (all dead), slots %+v", len(after.Processes), slots)
			assert.Zero(t, slots.Stuck+slots.Writing+slots.Reading, "no slot is left claimed")
			if kind == ring.MPMC {
				assert.Len(t, after.Processes, 62, "two dead processes' records were taken over, then given back")
			}

			require.NoError(t, shm.Remove(name))
			_, err = os.Stat("/dev/shm/" + name)
			assert.ErrorIs(t, err, fs.ErrNotExist, "shm.Remove removes the file")
			_, err = ring.Open(name)
			assert.ErrorIs(t, err, fs.ErrNotExist)
		})
	}
}

// ---- Hostile region ----

// Offsets of the header words a scribbler writes (see ring/layout.go): the
// dynamic words (shut down, tail, head, futex words, waiter counts,
// released), and the configuration words (magic to creation time).
var (
	hostileHeaderWords = []int{128, 256, 384, 512, 640, 768, 896, 1024}
	hostileStaticWords = []int{0, 8, 16, 24, 32, 40, 48, 56}
)

const (
	offRecords = 2048
	recordSize = 32
)

// helperScribbler writes writes= random values, from seed=, into the
// ring's region: into the header's dynamic words, the process records and
// the slots' first words and the length words (where they are depends on
// the kind of ring; the stride is read from the header), and now and then (static=1) into
// the header's configuration, which attached handles never read again.
// It pauses briefly every few writes so that the ring's users get on
// between them. Reports writes=N.
func helperScribbler(a args) int {
	reg, err := shm.Inherit("ring")
	if err != nil {
		return usagef("%v", err)
	}
	defer reg.Close()
	mem := reg.Bytes()
	capacity, slotSize := a.int("capacity", 0), a.int("slotsize", 0)
	base := unsafe.Pointer(unsafe.SliceData(mem))
	// The slot stride, from the header (offset 24) before any damage: the
	// slot header's size depends on the kind of ring.
	stride := int(atomic.LoadUint32((*uint32)(unsafe.Add(base, 24))))
	// SPSC (kind 1, at offset 12): the message lengths from 4096, padded
	// to 128 bytes, then the slots; MPMC: the slots from 4096, each with
	// its length word at 16.
	spsc := atomic.LoadUint32((*uint32)(unsafe.Add(base, 12))) == 1
	dataAt, lenAt := 4096, func(i int) int { return 4096 + i*stride + 16 }
	if spsc {
		dataAt = 4096 + (capacity*4+127)&^127
		lenAt = func(i int) int { return 4096 + 4*i }
	}
	if capacity <= 0 || stride < slotSize || dataAt+capacity*stride > len(mem) {
		return usagef("capacity=%d slotsize=%d stride=%d do not fit the %d-byte region", capacity, slotSize, stride, len(mem))
	}
	rng := rand.New(rand.NewPCG(uint64(a.int("seed", 1)), 0x5c))
	u64 := func(off int) *uint64 { return (*uint64)(unsafe.Add(base, off)) }
	u32 := func(off int) *uint32 { return (*uint32)(unsafe.Add(base, off)) }
	static := a.bool("static")
	value := func(old uint64) uint64 {
		switch rng.IntN(8) {
		case 0:
			return rng.Uint64()
		case 1:
			return uint64(rng.IntN(4 * capacity))
		case 2: // another turn, same tag
			return old + uint64(rng.IntN(7)-3)<<8
		case 3: // another tag: the states, lanes, and nonsense
			tags := []uint64{0x00, 0x01, 0x02, 0x40 | uint64(rng.IntN(64)), 0x80 | uint64(rng.IntN(64)), uint64(rng.IntN(256))}
			return old&^0xff | tags[rng.IntN(len(tags))]
		case 4: // an owner word: a live process (init, ourselves), or a made-up pid
			pids := []uint64{1, uint64(os.Getpid()), uint64(rng.IntN(1 << 22))}
			return pids[rng.IntN(len(pids))]<<32 | uint64(rng.IntN(4))
		case 5:
			return 0
		case 6:
			return ^uint64(0)
		}
		return old ^ 1<<rng.IntN(64)
	}
	// Damage to the header is undone a few writes later (the old value put
	// back), and half the damage to records and slots, so that the ring
	// works now and then and its users meet it in many states rather than
	// in one that stays broken; new handles attach now and then.
	type undo struct {
		p     unsafe.Pointer
		old   uint64
		wide  bool
		after int
	}
	var undos []undo
	scribble64 := func(p *uint64, v uint64, i int, always bool) {
		old := atomic.LoadUint64(p)
		atomic.StoreUint64(p, v)
		if always || rng.IntN(2) == 0 {
			undos = append(undos, undo{unsafe.Pointer(p), old, true, i + 1 + rng.IntN(8)})
		}
	}
	writes := a.int("writes", 3000)
	for i := 0; i < writes; i++ {
		switch k := rng.IntN(16); {
		case k < 3:
			p := u64(hostileHeaderWords[rng.IntN(len(hostileHeaderWords))])
			scribble64(p, value(atomic.LoadUint64(p)), i, true)
		case k < 5:
			p := u64(offRecords + rng.IntN(4)*recordSize + 8*rng.IntN(4))
			scribble64(p, value(atomic.LoadUint64(p)), i, false)
		case k < 11:
			p := u64(dataAt + rng.IntN(capacity)*stride)
			scribble64(p, value(atomic.LoadUint64(p)), i, false)
		case k < 15: // a length word
			p := u32(lenAt(rng.IntN(capacity)))
			lens := []uint32{0, uint32(slotSize), uint32(slotSize + 1), ^uint32(0), uint32(rng.IntN(2 * slotSize))}
			old := atomic.LoadUint32(p)
			atomic.StoreUint32(p, lens[rng.IntN(len(lens))])
			if rng.IntN(2) == 0 {
				undos = append(undos, undo{unsafe.Pointer(p), uint64(old), false, i + 1 + rng.IntN(8)})
			}
		case static:
			p := u64(hostileStaticWords[rng.IntN(len(hostileStaticWords))])
			scribble64(p, value(atomic.LoadUint64(p)), i, true)
		}
		kept := undos[:0]
		for _, u := range undos {
			switch {
			case u.after > i && i < writes-1:
				kept = append(kept, u)
			case u.wide:
				atomic.StoreUint64((*uint64)(u.p), u.old)
			default:
				atomic.StoreUint32((*uint32)(u.p), uint32(u.old))
			}
		}
		undos = kept
		time.Sleep(100 * time.Microsecond) // pacing: let the users run between writes
	}
	report("writes", writes)
	return exitOK
}

// helperHostilePeer pushes (role=producer) or pops (role=consumer) on a
// ring that a scribbler damages, until the ledger says stop. Every
// operation has a context of a few milliseconds; it tolerates every error
// the ring documents, but checks that a popped message fits the slots. On
// ErrBusy, ErrCorrupt or ErrClosed, and every 500 operations, it attaches a
// new handle to the mapping (which validates the header again). It fails on
// an error the ring does not document; a panic or fault ends it with
// status 2. Reports ops=N and, per kind of outcome, e.KIND=N.
func helperHostilePeer(a args) int {
	lg, err := inheritLedger()
	if err != nil {
		return usagef("ledger: %v", err)
	}
	base, code := openRing(a)
	if base == nil {
		return code
	}
	mem := base.Region().Bytes() // base owns the mapping; the working handles are attached to it
	report("attached", 1)
	slotSize := base.Config().SlotSize
	producer := a.str("role", "") == "producer"
	seen := map[string]int{}
	kind := func(err error) (string, bool) {
		for _, k := range []struct {
			name string
			err  error
		}{
			{"full", ring.ErrFull}, {"empty", ring.ErrEmpty}, {"closed", ring.ErrClosed},
			{"too-large", ring.ErrTooLarge}, {"incompatible", ring.ErrIncompatible},
			{"corrupt", ring.ErrCorrupt}, {"not-ready", ring.ErrNotReady}, {"busy", ring.ErrBusy},
			{"peer-dead", ring.ErrPeerDead}, {"eof", io.EOF}, {"short-buffer", io.ErrShortBuffer},
			{"deadline", context.DeadlineExceeded},
		} {
			if errors.Is(err, k.err) {
				return k.name, true
			}
		}
		return "", err == nil
	}
	var h *ring.Ring
	buf := make([]byte, slotSize)
	msg := fillMsg(make([]byte, msgMax), 0, 7)
	ops := 0
	for ; !lg.stopped(); ops++ {
		if h == nil || ops%500 == 0 {
			if h != nil {
				h.Close()
			}
			if h, err = ring.Attach(mem); err != nil {
				if k, ok := kind(err); ok {
					seen["attach-"+k]++
					h = nil
					time.Sleep(100 * time.Microsecond) // pacing: the scribbler puts the header back soon
					continue
				}
				return failf("attach: unexpected error %v", err)
			}
		}
		var n int
		err = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
			defer cancel()
			switch op := ops % 4; {
			case producer && op < 3:
				return h.Push(ctx, msg[:1+ops%len(msg)])
			case producer:
				_, err := h.PushBatch(ctx, [][]byte{msg[:8], msg[:16], msg})
				return err
			case op < 3:
				var err error
				n, err = h.Pop(ctx, buf)
				return err
			default:
				_, err := h.PopFunc(ctx, 4, func(m []byte) {
					n = max(n, len(m))
				})
				return err
			}
		}()
		if n > slotSize {
			return failf("operation %d: a message of %d bytes from %d-byte slots", ops, n, slotSize)
		}
		k, ok := kind(err)
		if !ok {
			return failf("operation %d: unexpected error %v", ops, err)
		}
		if err == nil {
			k = "ok"
		}
		seen[k]++
		if k == "busy" || k == "corrupt" || k == "closed" {
			h.Close()
			h = nil
		}
	}
	if h != nil {
		h.Close()
	}
	report("ops", ops)
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		report("e."+k, seen[k])
	}
	return exitOK
}

// TestHostileScribbler: while a producer process and a consumer process
// use a ring, a third process writes random values into its header words,
// process records and slot words (and the header's configuration). The
// producer and consumer see documented errors (ErrCorrupt and others) or
// carry on; neither panics, faults or hangs, and the test's own handle,
// inspecting the ring meanwhile, neither.
func TestHostileScribbler(t *testing.T) {
	for _, kind := range []ring.Kind{ring.SPSC, ring.MPMC} {
		t.Run(kind.String(), func(t *testing.T) {
			cr := &crashRun{t: t, ctx: testContext(t, testTimeout()), r: anonymousRing(t, kind, 16)}
			cr.lg = newLedger(t, 8, 1, 1, 1)
			peers := []*child{
				cr.start("hostile-peer", false, "role=producer"),
				cr.start("hostile-peer", false, "role=consumer"),
			}
			for _, p := range peers {
				p.await("attached", nil) // before the header is scribbled on
			}
			scrib := cr.start("scribbler", false, "seed=7", "writes=2000", "static=1",
				arg("capacity", 16), arg("slotsize", msgMax))
			for {
				select {
				case <-scrib.done:
				case <-cr.ctx.Done():
				default:
					// The test's handle looks at the ring meanwhile.
					_ = cr.r.Stats()
					_ = cr.r.SlotStates()
					_ = cr.r.Len()
					time.Sleep(time.Millisecond) // pacing, not synchronisation
					continue
				}
				break
			}
			scrib.wait()
			cr.lg.stop()
			for _, p := range peers {
				cr.exited(p)
				rep, err := p.result()
				stderr := p.err.String()
				assert.NotContains(t, stderr, "panic:", "%s", p)
				assert.NotContains(t, stderr, "fatal error:", "%s", p)
				assert.NotContains(t, stderr, "SIGSEGV", "%s", p)
				assert.NotContains(t, stderr, "SIGBUS", "%s", p)
				require.NoError(t, err, "%s\n%s", p, p.transcript())
				assert.Positive(t, rep.int(t, "ops"))
				var outcomes []string
				for k, v := range rep {
					if strings.HasPrefix(k, "e.") {
						outcomes = append(outcomes, k[2:]+"="+v)
					}
				}
				sort.Strings(outcomes)
				t.Logf("%s: %s ops: %s", p, rep["ops"], strings.Join(outcomes, " "))
			}
		})
	}
}

// ---- The soak ----

// soakMessages is how many messages the soak pushes at least.
func soakMessages(t *testing.T) int {
	if s := os.Getenv("SHMRING_SOAK_MESSAGES"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "SHMRING_SOAK_MESSAGES")
		return n
	}
	n := 2_000_000
	if raceEnabled {
		n = 200_000
	}
	if testing.Short() {
		n /= 10
	}
	return n
}

// soakProc is a child of the soak.
type soakProc struct {
	c          *child
	producer   bool
	id         int // producer id or consumer slot
	goroutines int // producers: pushing goroutines on one handle, ids id..id+goroutines-1
}

// TestMPMCRandomKillSoak: four producer and four consumer processes on an
// MPMC ring of 256 slots; the test SIGKILLs a child it picks with a seeded
// PRNG every 100-300 ms and starts a replacement (a producer with a new
// id, so that its messages are told apart), until at least
// SHMRING_SOAK_MESSAGES messages (2,000,000 by default) have been
// acknowledged and at least 24 children killed (12 under the race
// detector, 6 with -short), or until the ledger has no room for more
// messages (2^26 beyond those: 64 MiB of receipts; at 15 M msg/s, the
// fastest seen here, room for 20-odd kills). The interval only paces the
// kills: no assertion depends on it. Producers with odd ids push batches of 16,
// consumers in odd slots pop batches of 16, the others one message at a
// time. Then the test stops the producers, shuts the ring down, and the
// consumers drain it. It fails if no message is acknowledged or received
// for stallAfter; then, from the ledger: every message of a producer never
// killed arrived exactly once (in order at each consumer: the consumers
// check), every message a killed producer had acknowledged arrived,
// nothing arrived twice, and the missing messages are at most one per
// killed consumer besides each killed producer's in-flight one.
func TestMPMCRandomKillSoak(t *testing.T) {
	start := time.Now()
	n := soakMessages(t)
	minKills := 24
	stallAfter := 15 * time.Second
	if raceEnabled {
		minKills, stallAfter = 12, 45*time.Second
	}
	if testing.Short() {
		minKills = 6
	}
	seed := uint64(1)
	if s := os.Getenv("SHMRING_SOAK_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "SHMRING_SOAK_SEED")
		seed = v
	}
	const (
		producers, consumers = 4, 4
		rangeSize            = 4096
		maxIDs               = 4096 // producer ids and consumer slots: initial ones and replacements
	)
	// Numbers for n messages, and room for what is pushed while the
	// supervisor is still short of kills; producers stop when they run out.
	ranges := (n+n/4)/rangeSize + (1<<26)/rangeSize // 2^26: six seconds at 10 M msg/s
	timeout := testTimeout() + time.Duration(n/100_000)*time.Second
	cr := &crashRun{t: t, ctx: testContext(t, timeout), r: anonymousRing(t, ring.MPMC, 256)}
	cr.lg = newLedger(t, rangeSize, ranges, maxIDs, maxIDs)
	rng := rand.New(rand.NewPCG(seed, 0x50a4))
	t.Logf("seed %d: at least %d messages and %d kills; stall if nothing moves for %v", seed, n, minKills, stallAfter)

	var all, live []*soakProc
	nextProducer, nextConsumer, producerProcs := 0, 0, 0
	fates := map[int]producerFate{}
	spawn := func(producer bool) {
		p := &soakProc{producer: producer}
		if producer {
			// Every other producer process pushes from three goroutines on
			// one handle (one lane): a kill then lands between one
			// goroutine's claim and its record while another claims.
			p.goroutines = 1 + 2*(producerProcs%2)
			b := 1 + 15*(producerProcs/2%2) // and every other pair pushes batches of 16
			producerProcs++
			p.id, nextProducer = nextProducer, nextProducer+p.goroutines
			for i := 0; i < p.goroutines; i++ {
				fates[p.id+i] = producerFate{batch: b}
			}
			p.c = cr.start("crash-producer", false, arg("id", p.id), arg("batch", b), arg("goroutines", p.goroutines))
		} else {
			p.id, nextConsumer = nextConsumer, nextConsumer+1
			p.c = cr.start("crash-consumer", false, arg("slot", p.id), arg("batch", 1+15*(p.id%2)))
		}
		all = append(all, p)
		live = append(live, p)
	}
	for i := 0; i < consumers; i++ {
		spawn(false)
	}
	for i := 0; i < producers; i++ {
		spawn(true)
	}

	var acked, received uint64
	progress := func() uint64 {
		acked, received = 0, 0
		for id := 0; id < nextProducer; id++ {
			acked += atomic.LoadUint64(cr.lg.acked(id))
		}
		for s := 0; s < nextConsumer; s++ {
			received += atomic.LoadUint64(cr.lg.received(s))
		}
		return acked + received
	}
	last, lastMoved := progress(), time.Now()
	var longest time.Duration
	// watch fails the test when nothing has moved for stallAfter.
	watch := func(phase string) {
		now := time.Now()
		if p := progress(); p != last {
			longest = max(longest, now.Sub(lastMoved))
			last, lastMoved = p, now
			return
		}
		if stalled := now.Sub(lastMoved); stalled > stallAfter {
			var who []string
			for _, p := range live {
				who = append(who, p.c.String())
			}
			t.Fatalf("STALL while %s: no message acknowledged or received for %v (acked %d, received %d)\nstats %+v\nslots %+v\nlive: %s",
				phase, stalled.Round(time.Millisecond), acked, received, cr.r.Stats(), cr.r.SlotStates(), strings.Join(who, ", "))
		}
		if err := cr.ctx.Err(); err != nil {
			t.Fatalf("the test's context ended while %s: %v", phase, why(cr.ctx))
		}
	}

	killsP, killsC, killedIDs := 0, 0, 0
	nextKill := time.Now()
	for {
		watch("producing")
		if progress(); acked >= uint64(n) && killsP+killsC >= minKills {
			break
		}
		if cr.lg.rangesTaken() == cr.lg.ranges {
			t.Logf("the ledger ran out of numbers after %d kills", killsP+killsC)
			break
		}
		if time.Now().Before(nextKill) {
			time.Sleep(5 * time.Millisecond) // pacing of the supervisor's looks
			continue
		}
		nextKill = time.Now().Add(time.Duration(100+rng.IntN(201)) * time.Millisecond)
		if nextProducer >= maxIDs-1 || nextConsumer >= maxIDs-1 {
			continue
		}
		i := rng.IntN(len(live))
		v := live[i]
		live = append(live[:i], live[i+1:]...)
		v.c.kill() // SIGKILL and reap
		if v.producer {
			killsP++
			killedIDs += v.goroutines
			for i := 0; i < v.goroutines; i++ {
				fates[v.id+i] = producerFate{killed: true, batch: fates[v.id+i].batch}
			}
		} else {
			killsC++
		}
		spawn(v.producer)
	}
	cr.lg.stop()
	for _, p := range live {
		if !p.producer {
			continue
		}
		for waiting := true; waiting; {
			select {
			case <-p.c.done:
				waiting = false
			case <-time.After(10 * time.Millisecond):
				watch("producers finish")
			}
		}
		rep, end := ended(t, p.c)
		assert.Equal(t, "done", end, "%s", p.c)
		acked := 0
		for i := 0; i < p.goroutines; i++ {
			acked += int(atomic.LoadUint64(cr.lg.acked(p.id + i)))
		}
		assert.Equal(t, acked, rep.int(t, "pushed"), "%s: pushed", p.c)
	}
	produced := time.Since(start)
	require.NoError(t, cr.r.Shutdown())
	for _, p := range live {
		if p.producer {
			continue
		}
		for waiting := true; waiting; {
			select {
			case <-p.c.done:
				waiting = false
			case <-time.After(10 * time.Millisecond):
				watch("consumers drain")
			}
		}
		_, end := ended(t, p.c)
		assert.Equal(t, "eof", end, "%s", p.c)
	}
	elapsed := time.Since(start)

	res := cr.lg.tally(t, fates)
	slots, stats := cr.r.SlotStates(), cr.r.Stats()
	for _, e := range res.examples {
		t.Log(e)
	}
	t.Logf("%d producer and %d consumer processes in all; producing took %v", nextProducer, nextConsumer, produced.Round(time.Millisecond))
	t.Logf("slots at the end %+v; waiter counts left by killed sleepers: producers %d, consumers %d",
		slots, stats.ProducersWaiting, stats.ConsumersWaiting)
	t.Logf("SOAK messages=%d received=%d kills=%d (producers %d, consumers %d) stalls=0 lost=%d in-flight-lost=%d duplicated=%d stuck-slots=%d longest-pause=%v time=%v (%.2f M msg/s) seed=%d",
		res.acked, res.received, killsP+killsC, killsP, killsC, res.lost, res.inFlight, res.duplicated, slots.Stuck,
		longest.Round(time.Millisecond), elapsed.Round(time.Millisecond), float64(res.acked)/elapsed.Seconds()/1e6, seed)
	assert.GreaterOrEqual(t, res.acked, n, "messages acknowledged")
	assert.Zero(t, res.duplicated, "no message may arrive twice")
	assert.LessOrEqual(t, res.lost, killsC, "at most one message lost per killed consumer")
	assert.LessOrEqual(t, res.inFlight, killedIDs, "at most one in-flight message per goroutine of a killed producer")
	assert.Equal(t, res.distinct, res.received, "received = distinct when nothing is duplicated")
}

// TestMPMCSameLaneKill: a producer process pushes from eight goroutines on
// one handle, so on one lane, and is SIGKILLed again and again: half the
// time at the fault point between some goroutine's claim and its record
// (while the others claim the next positions), half the time after it made
// some progress. Each claim of the dead lane must still be on record, or
// the consumer would wait on it for ever. After the last kill, a
// replacement pushes its messages and every one of them arrives.
func TestMPMCSameLaneKill(t *testing.T) {
	cycles := 120
	if testing.Short() {
		cycles = 30
	}
	const goroutines, perFinal = 8, 500
	cr := &crashRun{t: t, ctx: testContext(t, testTimeout()+2*time.Minute), r: anonymousRing(t, ring.MPMC, 64)}
	const rangeSize = 256
	cr.lg = newLedger(t, rangeSize, goroutines*(cycles+1)*16+4096, goroutines*(cycles+1), 1)
	consumer := cr.start("crash-consumer", false, arg("slot", 0))
	rng := rand.New(rand.NewPCG(7, 0x1a4e))
	fates := map[int]producerFate{}
	ackedBy := func(id int) (n uint64) {
		for i := 0; i < goroutines; i++ {
			n += atomic.LoadUint64(cr.lg.acked(id + i))
		}
		return n
	}
	armed := 0
	for c := 0; c < cycles; c++ {
		id := c * goroutines
		for i := 0; i < goroutines; i++ {
			fates[id+i] = producerFate{killed: true, batch: 1}
		}
		if c%2 == 0 {
			k := 1 + rng.IntN(4000)
			cr.killedItself(cr.start("crash-producer", true, arg("id", id), arg("goroutines", goroutines),
				"arm=after-claim-cas:"+strconv.Itoa(k)))
			armed++
			continue
		}
		p := cr.start("crash-producer", true, arg("id", id), arg("goroutines", goroutines))
		want := uint64(1 + rng.IntN(3000))
		for ackedBy(id) < want && cr.ctx.Err() == nil {
			select {
			case <-p.done:
				t.Fatalf("%s ended before it was killed:\n%s", p, p.transcript())
			case <-time.After(time.Millisecond): // pacing of the looks at the ledger
			}
		}
		p.kill()
	}
	final := cycles * goroutines
	for i := 0; i < goroutines; i++ {
		fates[final+i] = producerFate{batch: 1}
	}
	p := cr.start("crash-producer", false, arg("id", final), arg("goroutines", goroutines), arg("n", perFinal))
	rep, end := ended(t, p)
	require.Equal(t, "done", end, "%s: the replacement pushes all its messages", p)
	assert.Equal(t, goroutines*perFinal, rep.int(t, "pushed"))
	require.NoError(t, cr.r.Shutdown())
	_, end = ended(t, consumer)
	require.Equal(t, "eof", end, "the consumer drains the ring: no claim of a dead lane stops it")
	res := cr.lg.tally(t, fates)
	for _, e := range res.examples {
		t.Log(e)
	}
	t.Logf("%d kills (%d at after-claim-cas), %s; slots %+v", cycles, armed, res, cr.r.SlotStates())
	assert.Zero(t, res.duplicated)
	assert.Zero(t, res.lost, "the consumer is never killed: every acknowledged message arrives")
	assert.LessOrEqual(t, res.inFlight, cycles*goroutines)
	assert.Equal(t, uint64(goroutines*perFinal), ackedBy(final))
}

// TestKilledWhileAnnouncing: a consumer killed between counting itself as
// a waiter in its process record and setting its bit in the waiter mask
// (the kill point in-announce) leaves no bit set, so publishers make no
// system call for it, and its successor takes the count back.
func TestKilledWhileAnnouncing(t *testing.T) {
	for _, kind := range []ring.Kind{ring.SPSC, ring.MPMC} {
		t.Run(kind.String(), func(t *testing.T) {
			cr := &crashRun{t: t, ctx: testContext(t, testTimeout()), r: anonymousRing(t, kind, 16)}
			cr.lg = newLedger(t, 64, 64, 1, 2)
			cr.killedItself(cr.start("crash-consumer", true, arg("slot", 0), "arm=in-announce:1"))
			s := cr.r.Stats()
			assert.Zero(t, s.ConsumersWaiting, "no bit in the waiter mask: publishers wake nobody")
			consumer := cr.start("crash-consumer", false, arg("slot", 1))
			p := cr.start("crash-producer", false, arg("id", 0), arg("n", 1000), arg("shutdown", 1), arg("waitpeer", 1))
			_, end := ended(t, p)
			require.Equal(t, "done", end)
			_, end = ended(t, consumer)
			require.Equal(t, "eof", end)
			res := cr.lg.tally(t, map[int]producerFate{0: {batch: 1}})
			assert.Equal(t, 1000, res.distinct)
			assert.Zero(t, res.duplicated)
			assert.Zero(t, cr.r.Stats().ConsumersWaiting)
		})
	}
}
