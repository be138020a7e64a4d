package ring

// Adversarial review of the byte rings (bytes.go) and Reserve/Commit
// (reserve.go). Each test names the finding it shows.

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reviewFileRing creates a file-backed ring of kind with 64-byte messages:
// 8 slots, or 1 KiB of data for a byte kind.
func reviewFileRing(t *testing.T, kind Kind) (string, *Ring) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ring")
	capacity := 8
	if kind.bytes() {
		capacity = 1024
	}
	r, err := Create(path, Config{Kind: kind, Capacity: capacity, SlotSize: 64})
	require.NoError(t, err)
	return path, r
}

// reviewMPSC formats an MPSCBytes ring of capacity bytes on private memory
// and attaches a second handle to it.
func reviewMPSC(t *testing.T, capacity, slotSize int) (first, second *Ring, mem []byte) {
	t.Helper()
	cfg := Config{Kind: MPSCBytes, Capacity: capacity, SlotSize: slotSize}
	mem = alignedCopy(make([]byte, totalSize(cfg)))
	r, err := Format(mem, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	o, err := Attach(mem)
	require.NoError(t, err)
	t.Cleanup(func() { o.Close() })
	return r, o, mem
}

// Finding 1 (fixed by the protocol of exact tails): a producer that loaded
// tail and was preempted while the ring went round a lap used to claim, by
// a compare-and-swap on the header at its stale tail, a place inside
// another record's payload. Claims are now compare-and-swaps on the tail
// word itself, which a stale value cannot match; the real-process test
// TestReviewStalledProducerCorruptsAcrossLap (root) stops producers at
// random moments to show it. Here: the state that finding left, a header
// unwritten below an exact tail, is the last claim's, and the consumer
// waits for it rather than reading the payload before it.
func TestReviewUnwrittenBelowTailIsTheLastClaim(t *testing.T) {
	q, _, _ := reviewMPSC(t, 1024, 64)
	q.SetOptions(Options{Grace: time.Hour}) // a live claimer: never recovered
	lane, _, err := q.mbLane()
	require.NoError(t, err)
	e := q.claim(int(lane))
	e.start, e.size, e.claimEpoch = 0, 4, q.m.epoch.Load()
	*q.tail() = 4<<8 | tailLane | lane // claimed, header not written
	for i := 0; i < 2*stuckPolls; i++ {
		_, err := q.TryPop(make([]byte, 64))
		require.ErrorIs(t, err, ErrEmpty)
	}
	assert.Equal(t, 1, q.Len(), "a claim being written counts")
	*q.bHdr(0) = bWord(bMessage, 3)
	copy(q.bPayload(0, 3), "hey")
	buf := make([]byte, 64)
	n, err := q.TryPop(buf)
	require.NoError(t, err)
	assert.Equal(t, "hey", string(buf[:n]))
}

// Finding 2. mbNext counts every padding record it skips against
// spinLimit (65536), so a consumer that finds more than 65536 padding
// records in a row (aborted reservations, commits shorter than reserved
// are followed by messages, dead claims) returns ErrCorrupt "head word
// names a position whose slot was already used" from a sound ring.
func TestReviewManyPaddingsAreNotCorruption(t *testing.T) {
	r, _, _ := reviewMPSC(t, 2<<20, 0)
	for i := 0; i < spinLimit+10; i++ {
		_, err := r.TryReserve(8) // 2 units each
		require.NoError(t, err)
		require.NoError(t, r.Abort())
	}
	require.NoError(t, r.TryPush([]byte("after the aborts")))
	buf := make([]byte, 64)
	n, err := r.TryPop(buf)
	require.NoError(t, err, "a ring of aborted reservations and one message is not corrupt")
	assert.Equal(t, "after the aborts", string(buf[:n]))
}

// Finding 3. Len (and Stats.Len, SlotStates.Full, `shmring stat`'s records
// queued) on an MPSCBytes ring walks the chain from head and stops at the
// first header that is not MESSAGE, CLAIMED or PADDING. The consumer marks
// the message at head CONSUMED before fn sees it and keeps it so for as
// long as fn runs (and while it wipes): Len says 0 with the ring full.
func TestReviewLenWhileConsuming(t *testing.T) {
	r, _, _ := reviewMPSC(t, 1024, 64)
	for i := 0; i < 5; i++ {
		require.NoError(t, r.TryPush([]byte("message")))
	}
	require.Equal(t, 5, r.Len())
	var inFn, stats, full int
	_, err := r.TryConsume(1, func([]byte) error {
		inFn, stats, full = r.Len(), r.Stats().Len, r.SlotStates().Full
		return nil
	})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, inFn, 4, "Len while fn looks at the first of 5 messages")
	assert.GreaterOrEqual(t, stats, 4, "Stats.Len likewise")
	assert.GreaterOrEqual(t, full, 4, "SlotStates.Full likewise")
	assert.Equal(t, 4, r.Len())
}

// Finding 4. mbClaim treats a header that reads FREE(lap(t)) at tail as
// "consumed already": it moves tail up to head. When head is not above t
// yet, it moves nothing and, if tail is still t, returns ErrCorrupt. That
// state is the consumer's own, between its wipe of a record at t and its
// store of head: a claim at t whose producer was killed after its header
// CAS (tail still t), recovered by the consumer into padding and wiped,
// with head not yet stored. Transient while the consumer runs (a push that
// lands in the window fails with ErrCorrupt); lasting if the consumer is
// killed in it, until a new consumer attaches: every push fails.
func TestReviewFreeAtTailWithHeadNotYetStored(t *testing.T) {
	r, p, _ := reviewMPSC(t, 1024, 64)
	// The dead producer's claim at 0 of 4 units, recovered as padding and
	// wiped by the consumer, which was killed before it stored head.
	r.wipe(0, 4)
	require.Equal(t, uint64(0), *r.tail())
	require.Equal(t, uint64(0), *r.head())
	err := p.TryPush([]byte("x"))
	assert.NoError(t, err, "a ring with room, a consumer's wipe in progress: the push must not fail as corrupt")
}

// Finding 5. A handle the memory went bad under (lifeBroken: "every later
// call on the handle return[s] err instead of touching it", close.go) still
// writes to the ring in Commit: Commit sees life != 0 and calls r.abort(),
// which on MPSCBytes stores PADDING over the claim (mbAbort) and on MPMC
// stores ABANDONED in the slot: into a truncated file's pages, SIGBUS.
func TestReviewCommitOnBrokenHandleTouchesNothing(t *testing.T) {
	for _, kind := range []Kind{MPSCBytes, MPMC} {
		t.Run(kind.String(), func(t *testing.T) {
			path, r := reviewFileRing(t, kind)
			defer r.Close()
			view, err := r.TryReserve(8)
			require.NoError(t, err)
			copy(view, "in place")
			require.NoError(t, os.Truncate(path, 0))
			if kind == MPSCBytes {
				// The first pop of the handle checks the file before it
				// touches the ring (claimConsumer), and breaks the handle.
				_, err = r.TryPop(make([]byte, 64))
				require.ErrorIs(t, err, ErrCorrupt)
			} else {
				// What a sleeper of the handle does when it wakes (wait.go).
				terr := r.checkTruncated()
				require.ErrorIs(t, terr, ErrCorrupt)
				_ = r.broken(terr)
			}
			require.NotZero(t, atomic.LoadUint32(&r.life)&lifeBroken, "the handle is broken")
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			var fault any
			func() {
				defer func() { fault = recover() }()
				err = r.Commit(8)
			}()
			require.Nil(t, fault, "Commit on a broken handle faulted: it wrote to the truncated region")
			assert.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

// Soundness: Reserve/Commit/Abort and pushes from several goroutines of one
// handle, Close of that handle from another goroutine at a random moment,
// a consumer on another handle: every Commit and push that returned nil is
// delivered once, intact; nothing else is; every goroutine ends with a
// documented error; the consumer is never stalled by what the closed
// handle left.
func TestReviewCloseUnderReservations(t *testing.T) {
	for _, kind := range []Kind{SPSC, MPMC, SPSCBytes, MPSCBytes} {
		t.Run(kind.String(), func(t *testing.T) {
			for round := 0; round < 20; round++ {
				reviewCloseRound(t, kind, round)
			}
		})
	}
}

func reviewCloseRound(t *testing.T, kind Kind, round int) {
	capacity, slot := 8, 64
	if kind.bytes() {
		capacity = 1024
	}
	cfg := Config{Kind: kind, Capacity: capacity, SlotSize: slot}
	mem := alignedCopy(make([]byte, totalSize(cfg)))
	p, err := Format(mem, cfg)
	require.NoError(t, err)
	c, err := Attach(mem)
	require.NoError(t, err)
	defer c.Close()
	goroutines := 4
	if kind.oneProducer() {
		goroutines = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var okCount [8]atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(round), uint64(g)))
			for seq := uint64(0); ; seq++ {
				n := 16 + rng.IntN(slot-16)
				var err error
				switch rng.IntN(4) {
				case 0:
					msg := make([]byte, n)
					reviewFill(msg, uint64(g), seq)
					err = p.Push(ctx, msg)
				default:
					var view []byte
					view, err = p.Reserve(ctx, n)
					if err == ErrReserved {
						seq--
						continue
					}
					if err == nil {
						if rng.IntN(3) == 0 {
							if aerr := p.Abort(); aerr != nil {
								t.Errorf("Abort: %v", aerr)
								return
							}
							seq--
							continue
						}
						m := n - rng.IntN(n-15)
						reviewFill(view[:m], uint64(g), seq)
						err = p.Commit(m)
					}
				}
				if err != nil {
					if !errors.Is(err, os.ErrClosed) {
						t.Errorf("goroutine %d: %v", g, err)
					}
					return
				}
				okCount[g].Store(int64(seq + 1))
			}
		}()
	}
	var got [8]uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, slot)
		for {
			n, err := c.Pop(ctx, buf)
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Errorf("pop: %v", err)
				return
			}
			g, seq, ok := reviewCheck(buf[:n])
			if !ok || g >= uint64(goroutines) || seq != got[g] {
				t.Errorf("message %x: goroutine %d seq %d, want seq %d", buf[:n], g, seq, got[g&7])
				return
			}
			got[g]++
		}
	}()
	time.Sleep(time.Duration(mrand.IntN(2000)) * time.Microsecond)
	require.NoError(t, p.Close())
	wg.Wait()
	// Shut the ring down from a fresh handle: the consumer drains and ends.
	s, err := Attach(mem)
	require.NoError(t, err)
	if kind == MPSCBytes {
		s.SetOptions(Options{Grace: time.Millisecond})
	}
	require.NoError(t, s.Shutdown())
	s.Close()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("the consumer stalled after the producer handle closed: %+v", c.Stats())
	}
	total := uint64(0)
	for g := 0; g < goroutines; g++ {
		assert.Equal(t, uint64(okCount[g].Load()), got[g], "round %d goroutine %d: delivered = returned nil", round, g)
		total += got[g]
	}
	if round == 0 {
		t.Logf("round 0: %d messages delivered", total)
	}
}

// reviewFill writes a self-checking message: goroutine, seq, then bytes
// derived from both.
func reviewFill(m []byte, g, seq uint64) {
	binary.LittleEndian.PutUint64(m, g)
	binary.LittleEndian.PutUint64(m[8:], seq)
	for i := 16; i < len(m); i++ {
		m[i] = byte(g*7 + seq*13 + uint64(i))
	}
}

func reviewCheck(m []byte) (g, seq uint64, ok bool) {
	if len(m) < 16 {
		return 0, 0, false
	}
	g, seq = binary.LittleEndian.Uint64(m), binary.LittleEndian.Uint64(m[8:])
	for i := 16; i < len(m); i++ {
		if m[i] != byte(g*7+seq*13+uint64(i)) {
			return g, seq, false
		}
	}
	return g, seq, true
}

// Finding 6 (MPMC; the other kinds pass). A handle dropped (garbage) with
// a reservation open: its cleanup (handleLife.release, close.go) frees its
// process record, but the slot it claimed stays claimed by that lane. The
// next handle to register takes the lowest free record, this one, without
// recoverLane (that runs only on a takeover from a dead owner), and from
// then on tryRecover finds the slot's claimer "owned and alive": the slot
// is never recovered and every consumer stalls behind it for good. Before
// Reserve no claim could outlive a call, so a dropped handle had none.
// (MPSCBytes is immune: the new owner's epoch disowns the claim.)
func TestReviewDroppedHandleWithReservation(t *testing.T) {
	for _, kind := range []Kind{SPSC, MPMC, SPSCBytes, MPSCBytes} {
		t.Run(kind.String(), func(t *testing.T) {
			path, r := reviewFileRing(t, kind)
			defer r.Close()
			r.SetOptions(Options{Grace: time.Millisecond})
			droppedLane := int32(-1)
			func() {
				h, err := Open(path)
				require.NoError(t, err)
				view, err := h.TryReserve(32)
				require.NoError(t, err)
				copy(view, "never committed")
				droppedLane = h.m.lane.Load()
			}()
			collect()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			require.NoError(t, r.Push(ctx, []byte("behind it"))) // registers r's lane: the record the dropped handle had
			if kind.lanes() {
				require.Equal(t, droppedLane, r.m.lane.Load(), "r took the record the dropped handle had")
			}
			buf := make([]byte, 64)
			n, err := r.Pop(ctx, buf)
			require.NoError(t, err, "%+v", r.SlotStates())
			assert.Equal(t, "behind it", string(buf[:n]))
		})
	}
}

// Finding 7 (SPSC, SPSCBytes). Shutdown with a reservation open on a
// one-producer kind, from the producer itself (the way the SPSC docs say
// makes Shutdown exact): consumers see io.EOF at once, since nothing of the
// reservation is in the ring; then Commit returns nil and publishes the
// message after the EOF. A consumer that stops at io.EOF loses a message
// whose Commit succeeded. (MPMC and MPSCBytes deliver a claim made before
// Shutdown before io.EOF.) Commit after Shutdown should fail with ErrClosed,
// or the consumer must not report io.EOF while the producer has a
// reservation open.
func TestReviewShutdownWithReservationOpen(t *testing.T) {
	for _, kind := range []Kind{SPSC, MPMC, SPSCBytes, MPSCBytes} {
		t.Run(kind.String(), func(t *testing.T) {
			capacity := 8
			if kind.bytes() {
				capacity = 1024
			}
			cfg := Config{Kind: kind, Capacity: capacity, SlotSize: 64}
			mem := alignedCopy(make([]byte, totalSize(cfg)))
			p, err := Format(mem, cfg)
			require.NoError(t, err)
			defer p.Close()
			c, err := Attach(mem)
			require.NoError(t, err)
			defer c.Close()
			view, err := p.TryReserve(8)
			require.NoError(t, err)
			copy(view, "reserved")
			require.NoError(t, p.Shutdown())
			buf := make([]byte, 64)
			_, popErr := c.TryPop(buf)
			commitErr := p.Commit(8)
			if popErr == io.EOF {
				assert.ErrorIs(t, commitErr, ErrClosed, "the consumer saw io.EOF: Commit must not succeed after it")
				n, err := c.TryPop(buf)
				assert.ErrorIs(t, err, io.EOF, "and nothing may arrive after io.EOF, got %q", buf[:n])
				return
			}
			require.ErrorIs(t, popErr, ErrEmpty)
			require.NoError(t, commitErr)
			n, err := c.TryPop(buf)
			require.NoError(t, err)
			assert.Equal(t, "reserved", string(buf[:n]))
			_, err = c.TryPop(buf)
			assert.ErrorIs(t, err, io.EOF)
		})
	}
}

// Soundness: a producer killed holding a claim that wraps (padding to the
// end and the record at unit 0 of the next lap, one CLAIMED header), tail
// still at its claim: the consumer turns the whole claim into padding after
// Grace, wipes it across the end, and the ring goes on in the next lap.
func TestReviewDeadWrappingClaim(t *testing.T) {
	r, p, _ := reviewMPSC(t, 1024, 64) // 128 units; records of 56 bytes take 8
	r.SetOptions(Options{Grace: time.Millisecond})
	buf := make([]byte, 64)
	for i := 0; i < 15; i++ { // up to 120
		require.NoError(t, p.TryPush(make([]byte, 56)))
		_, err := r.TryPop(buf)
		require.NoError(t, err)
	}
	require.NoError(t, p.TryPush(make([]byte, 40))) // 6 units: to 126
	_, err := r.TryPop(buf)
	require.NoError(t, err)
	// The dead claim at 126: 2 units of padding, 8 of record at 128, by
	// lane 7 in an epoch its record never had; tail past it, naming it.
	*r.bHdr(126) = bWord(bClaimed|99<<6|7, 10*8)
	e := r.claim(7)
	e.start, e.size, e.claimEpoch = 126, 10, 99
	*r.tail() = 136<<8 | tailLane | 7
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		time.Sleep(5 * time.Millisecond)
		_ = p.Push(ctx, []byte("next lap")) // behind the dead claim
	}()
	n, err := r.Pop(ctx, buf)
	require.NoError(t, err)
	assert.Equal(t, "next lap", string(buf[:n]))
	assert.Equal(t, uint64(1), r.m.recovered.Load())
	for i := 0; i < 200; i++ {
		m := make([]byte, i%57)
		reviewFillShort(m, uint64(i))
		require.NoError(t, p.TryPush(m))
		n, err := r.TryPop(buf)
		require.NoError(t, err)
		require.Equal(t, m, buf[:n])
	}
}

func reviewFillShort(m []byte, seq uint64) {
	for i := range m {
		m[i] = byte(seq + uint64(i)*3)
	}
}

// Soundness: a producer killed between its CAS on tail and its header
// while its claim fills the ring: the others see a full ring (not a
// corrupt one), the consumer drains, recovers the claim after Grace, and
// then the others push again.
func TestReviewDeadClaimFillsTheRing(t *testing.T) {
	r, p, _ := reviewMPSC(t, 1024, 64)
	r.SetOptions(Options{Grace: time.Millisecond})
	for i := 0; i < 15; i++ { // 120 of 128 units
		require.NoError(t, p.TryPush(make([]byte, 56)))
	}
	tail := *r.tail() >> 8
	require.Equal(t, uint64(120), tail)
	// The dead claim: the last 8 units, by lane 9 in an epoch its record
	// never had, killed between its CAS on tail and its header.
	e := r.claim(9)
	e.start, e.size, e.claimEpoch = tail, 8, 5
	*r.tail() = (tail+8)<<8 | tailLane | 9
	for i := 0; i < 3; i++ {
		require.ErrorIs(t, p.TryPush([]byte("x")), ErrFull)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]byte, 64)
	for i := 0; i < 15; i++ {
		_, err := r.Pop(ctx, buf)
		require.NoError(t, err)
	}
	go func() {
		_ = p.Push(ctx, []byte("after the dead claim"))
	}()
	n, err := r.Pop(ctx, buf)
	require.NoError(t, err)
	assert.Equal(t, "after the dead claim", string(buf[:n]))
}

// Finding 8 (the exact-tail protocol of the working tree, not in a2ccb6d).
// mbClaim waits for the last claim's header only when the tail word names
// another lane (`w&idxLane != lane`), and mbClaimWritten takes a lane entry
// that no longer ends at tail for "that lane has moved on, so its last
// header is written". Both hold for the lane's own handle, not for a new
// owner of the lane's record: a producer killed after its tail CAS and
// before its header store (AfterClaimCAS) leaves tail naming lane L and
// L's entry describing the claim; when L's record gets a new owner (a
// takeover, or sweepDead freeing it because the dead process had a waiter)
// before the consumer has recovered that claim, the new owner skips the
// wait, overwrites L's entry with its own claim and writes its header past
// the dead one. The dead claim's header stays unwritten below tail for
// ever, no entry describes it any more, and the consumer, which can recover
// an unwritten header only from the entry of tail's lane, spins on it:
// every pop returns ErrCorrupt (spinLimit) and nothing behind it is ever
// delivered.
func TestReviewDeadClaimOfATakenOverLane(t *testing.T) {
	c, n, _ := reviewMPSC(t, 1024, 64)
	c.SetOptions(Options{Grace: time.Millisecond})
	lane, epoch, err := n.mbLane() // n: the new owner of the dead producer's record
	require.NoError(t, err)
	// The dead producer, the record's previous owner (epoch-1): claimed
	// [0, 4) with its tail CAS, killed before it stored the header.
	e := n.claim(int(lane))
	e.size, e.claimEpoch, e.start = 4, epoch-1, 0
	*n.tail() = 4<<8 | tailLane | lane
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The new owner waits for the dead claim's header like anyone else
	// (TryPush: ErrFull for now), until the consumer has recovered it.
	pushed := make(chan error, 1)
	go func() { pushed <- n.Push(ctx, []byte("from the new owner")) }()
	defer func() { require.NoError(t, <-pushed) }()
	buf := make([]byte, 64)
	k, err := c.Pop(ctx, buf)
	require.NoError(t, err, "the dead claim is recovered and the message behind it delivered")
	assert.Equal(t, "from the new owner", string(buf[:k]))
}

// Finding 9 (the 56-bit positions of the working tree, not in a2ccb6d).
// The consumer takes head as it finds it (claimConsumer: c.pos = head, not
// masked to 56 bits), and wipe's loop starts at from+1 unmasked and stops
// only at u == to, masked. A head word a hostile or buggy process wrote at
// 2^56 or above, with a 1-unit record there (an empty message), makes
// wipe(2^56+5, 6) start at 2^56+6 != 6 and walk all 2^56 positions: the
// consumer's pop never returns. (Any from at 2^56-1 with a 1-unit record
// does the same: to is 0.)
func TestReviewHostileHeadEndlessWipe(t *testing.T) {
	cfg := Config{Kind: MPSCBytes, Capacity: 1024, SlotSize: 64}
	mem := alignedCopy(make([]byte, totalSize(cfg)))
	r, err := Format(mem, cfg) // not closed: a pop that never returns holds it
	require.NoError(t, err)
	const head = 1<<56 + 5
	*r.head() = head
	*r.tail() = (head+1)&posMask<<8 | tailLane | 2
	*r.bHdr(head) = bWord(bMessage, 0) // an empty message: one unit
	done := make(chan error, 1)
	go func() {
		_, err := r.TryPop(make([]byte, 64))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			assert.ErrorIs(t, err, ErrCorrupt)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("TryPop on a hostile head has not returned in 5s (wipe walks 2^56 positions)")
	}
}

// Finding 10 (the working tree's fix of finding 2). mbNext now bounds the
// padding it skips in one call by the area (`skipped+l/8 > r.capacity`:
// badRecord). But every padding it skips is freed at once (mbFree), and a
// producer that aborts reservations (or whose commits are shorter, or
// that is shut down mid-claim) adds padding as fast as the consumer frees
// it: one TryPop can legitimately skip more than an area's worth, and then
// reports ErrCorrupt on a sound ring.
func TestReviewPaddingRaceIsNotCorruption(t *testing.T) {
	c, p, _ := reviewMPSC(t, 1024, 64)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := p.TryReserve(0); err == nil {
				_ = p.Abort()
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	buf := make([]byte, 64)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		_, err := c.TryPop(buf)
		if err != nil && err != ErrEmpty {
			t.Fatalf("a ring of aborted reservations: %v", err)
		}
	}
}
