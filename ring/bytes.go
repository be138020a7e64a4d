package ring

// Byte rings (SPSCBytes, MPSCBytes): variable-length records in a data
// area of Capacity bytes, after the header page.
//
// Positions count 8-byte units of the data area and only grow; the unit of
// position u is at byte (u mod units)*8. A record starts on a unit with an
// 8-byte header word, state<<32 | length:
//
//	state        length           meaning
//	1 MESSAGE    payload bytes    a message; the record takes 8+length bytes rounded up to 8
//	2 PADDING    record bytes     nothing: skip length bytes (at the end of the area, the
//	                              rest of a reservation committed shorter, an aborted one,
//	                              or a dead producer's)
//	3 CONSUMED   payload bytes    MPSCBytes: a message the consumer has delivered and is
//	                              wiping (see below)
//	4 FREE       lap              MPSCBytes: no record; the consumer wiped this unit in lap
//	                              `length` (lap: position >> log2(units), modulo 2^32)
//	1<<31 | epoch<<6 | lane       MPSCBytes: claimed by the producer of process record
//	             record bytes     `lane` (in that record's epoch), not committed yet
//
// A MESSAGE record never crosses the end of the area: one that would is
// preceded by a PADDING record to the end, and starts at unit 0.
//
// SPSCBytes is the index ring of SPSC with records for slots: the producer
// writes the record (payload, then header; padding first when it wraps) and
// stores tail = the position after it (store-release); the consumer reads
// the records below tail and stores head after them. Roles, takeover,
// waiting and Shutdown are SPSC's (spsc.go). A producer killed before its
// store of tail leaves nothing visible; a consumer killed before its store
// of head leaves its successor to start at that record.
//
// MPSCBytes. Positions are 56-bit (modulo 2^56 units, 2^59 bytes: every
// comparison is a masked difference). The tail word is position<<8 | 0x40
// | lane: the end of the claimed records, and the process record (lane) of
// the producer that claimed the last of them. Head is the consumer's
// position. Every process record has a claim entry (start, size, epoch) in
// the page before the data area.
//   - A producer claims n units at tail t: it writes its entry (size, its
//     epoch, then start = t), moves tail from (t, M) to (t+n, itself) with
//     a compare-and-swap, and then writes the record's header at t,
//     CLAIMED(lane, epoch, size): the place is its own from the CAS on.
//     Goroutines of one handle share the lane and claim one at a time.
//   - Every claim but the last has its header written: before a producer
//     moves tail past the claim of another lane M (the tail word names it,
//     M's entry gives its start), it looks at M's header, and if M has not
//     written it yet, waits (M is a few instructions from it, or dead: then
//     the consumer recovers it, below). So a header that reads "unwritten"
//     at the consumer's position, with tail above it, is the last claim's:
//     tail's lane's entry says where it starts and how long it is.
//   - A header position of lap k is "unwritten" while it holds FREE(k-1)
//     (or, in lap 0, the zero Format left). After delivering a message the
//     consumer marks it CONSUMED, overwrites every unit of its record with
//     FREE(its lap), the header last, and then stores head (store-release):
//     every header position of the next lap reads "unwritten" until its
//     claimer writes it, whatever the payloads before held. A successor of a
//     consumer killed while wiping finishes the wipe: it skips units that
//     read FREE of their lap and wipes a CONSUMED record again.
//   - Nobody writes a place on the strength of an old look: producers write
//     only records they claimed with the CAS on the exact tail; the
//     consumer writes only at and behind head, where no lap can come.
//   - The producer writes the payload and commits with one store-release of
//     MESSAGE(length) (a wrapping claim: the message's header at unit 0
//     first, then PADDING over the rest of the area; a commit shorter than
//     the claim: PADDING over the rest first).
//   - The consumer reads the header at head: MESSAGE: delivers it; CLAIMED,
//     or unwritten below tail: waits; a claim held longer than
//     Options.Grace by a process proved dead, by a free record, or by a
//     record whose epoch has moved on, becomes PADDING (the consumer's
//     store, at head). Unwritten at tail: the ring is empty.
//   - Shutdown stores the shut-down word; a producer loads it after its
//     claim and makes the claim PADDING if it is set; the consumer loads it
//     before it looks at tail a second time: a push either claimed before
//     Shutdown and is delivered, or fails (the CAS, the loads and the store
//     of the word are sequentially consistent).
//   - Epochs move on whenever a lane record gets a new owner, so a claim
//     left by an earlier owner of the record is recognised even when the
//     record is now held by a live process.

import (
	"io"
	"sync/atomic"
	"unsafe"

	"github.com/shmring/shmring/internal/faultinject"
)

const (
	bMessage  = 1
	bPadding  = 2
	bConsumed = 3
	bFree     = 4
	bClaimed  = 1 << 31

	bHeader  = 8  // bytes of a record header
	minBytes = 64 // smallest data area

	// MPSCBytes
	claimStride = 64                       // a claim entry per cache line
	claimsSize  = numRecords * claimStride // the claim entries, before the data area
	posMask     = 1<<56 - 1                // positions are 56-bit
	tailLane    = 0x40                     // tail word: a lane claimed the last record
)

// claimEntry is the claim entry of a process record on an MPSCBytes ring.
type claimEntry struct {
	start      uint64 // position of the lane's latest claim
	size       uint32 // its units
	claimEpoch uint32 // the lane's epoch when it claimed
	epoch      uint32 // the lane's epoch now: moves on with every new owner
	_          uint32
}

// bytesTable is the size of the page between the header and a byte ring's
// data area.
func bytesTable(kind Kind) uint64 {
	if kind == MPSCBytes {
		return claimsSize
	}
	return 0
}

func bWord(state, length uint32) uint64 { return uint64(state)<<32 | uint64(length) }
func bState(h uint64) uint32            { return uint32(h >> 32) }
func bLen(h uint64) uint32              { return uint32(h) }

// recUnits is the number of units a message of n bytes takes.
func recUnits(n int) uint64 { return uint64(bHeader+n+7) / 8 }

// bytesConfigProblem says what is wrong with a byte ring's configuration:
// the field, its value and the problem, or "" if nothing.
func bytesConfigProblem(cfg Config) (field string, v uint64, problem string) {
	c, s := cfg.Capacity, cfg.SlotSize
	switch {
	case c < minBytes:
		return "capacity", uint64(c), "is below 64 bytes, the smallest data area of a byte ring"
	case c > maxCapacity:
		return "capacity", uint64(c), "is above 1 GiB, the largest data area of a byte ring"
	case c&(c-1) != 0:
		return "capacity", uint64(c), "is not a power of two"
	case s < 1:
		return "slot size", uint64(s), "is below 1"
	case s > c/4:
		return "slot size", uint64(s), "is above a quarter of the data area, the largest message of a byte ring"
	}
	return "", 0, ""
}

func (l *layout) bHdr(u uint64) *uint64 {
	return (*uint64)(unsafe.Add(l.data, uintptr(u&l.mask)*8))
}

// bPayload is the payload of the record at u, n bytes; the record must be
// validated not to cross the end of the area.
func (l *layout) bPayload(u uint64, n int) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(l.data, uintptr(u&l.mask)*8+bHeader)), n)
}

// lap numbers the lap of position u: modulo 2^32, or modulo the laps in
// 2^56 units when those are fewer, so that lap-1 of lap 0 is the lap
// before it, across the wrap of positions too.
func (l *layout) lap(u uint64) uint32 { return uint32(u>>l.lapShift) & l.lapMask }

// unwritten reports whether h, read at position u, says that no record
// has been claimed there in u's lap.
func (l *layout) unwritten(u, h uint64) bool {
	lap := l.lap(u)
	return h == bWord(bFree, (lap-1)&l.lapMask) || h == 0 && lap == 0
}

// wipe overwrites the units [from, to) with FREE of their lap, the first
// one last: see the MPSCBytes invariants.
func (l *layout) wipe(from, to uint64) {
	from, to = from&posMask, to&posMask
	for u := (from + 1) & posMask; u != to; u = (u + 1) & posMask {
		storeRelease64(l.bHdr(u), bWord(bFree, l.lap(u)))
	}
	storeRelease64(l.bHdr(from), bWord(bFree, l.lap(from)))
}

// claim is the claim entry of process record lane.
func (r *Ring) claim(lane int) *claimEntry {
	return (*claimEntry)(unsafe.Add(r.base, dataOffset+uintptr(lane&(numRecords-1))*claimStride))
}

func (r *Ring) epochWord(lane int) *uint32 { return &r.claim(lane).epoch }

// dist is b - a for 56-bit positions.
func dist(a, b uint64) uint64 { return (b - a) & posMask }

// bRoom returns where a record of n bytes goes for a writer at pos, and how
// many units it takes from pos: a record that would cross the end of the
// area starts at the next lap, after padding.
func (r *Ring) bRoom(pos uint64, n int) (at, need uint64) {
	rec := recUnits(n)
	off := pos & r.mask
	if off+rec > r.capacity {
		return pos + (r.capacity - off), r.capacity - off + rec
	}
	return pos, rec
}

// --- SPSCBytes producer ---

// sbReserve makes room for a message of n bytes at the producer's position
// and returns where its record goes. It writes the padding before it, if
// any; nothing is visible before sbPublish. push (ops.go) has a copy of
// the common case of sbReserve and sbPublish in line, and pop one of bNext
// and bPop's: a change to one is a change to the other.
func (r *Ring) sbReserve(n int) (at uint64, err error) {
	p := &r.p
	if !p.held {
		if err := r.claimProducer(); err != nil {
			return 0, err
		}
	}
	if p.reserved {
		return 0, ErrReserved
	}
	if n > r.slotSize {
		return 0, r.tooLarge(n)
	}
	if atomic.LoadUint32(r.closedWord()) != 0 {
		return 0, ErrClosed
	}
	at, need := r.bRoom(p.pos, n)
	if p.pos+need-p.head > r.capacity {
		head := atomic.LoadUint64(r.head()) // load-acquire: pairs with the consumer's store after its copy out
		if d := p.pos - head; int64(d) < 0 || d > r.capacity {
			return 0, wrap(ErrCorrupt, "head %d is not within the %d units below the producer's position %d", head, r.capacity, p.pos)
		}
		p.head = head
		if p.pos+need-head > r.capacity {
			return 0, ErrFull
		}
	}
	if at != p.pos {
		*r.bHdr(p.pos) = bWord(bPadding, uint32((at-p.pos)*8))
	}
	return at, nil
}

// sbPublish commits the n-byte message whose record is at at.
func (r *Ring) sbPublish(at uint64, n int) {
	faultinject.At(faultinject.AfterCopy)
	*r.bHdr(at) = bWord(bMessage, uint32(n))
	faultinject.At(faultinject.BeforePublish)
	r.spscPublish(at + recUnits(n))
}

func (r *Ring) sbPush(msg []byte) error {
	at, err := r.sbReserve(len(msg))
	if err != nil {
		return err
	}
	r.writeBytes(at, msg)
	r.sbPublish(at, len(msg))
	return nil
}

// writeBytes copies msg into the payload of the record at at.
func (r *Ring) writeBytes(at uint64, msg []byte) {
	dst := unsafe.Add(r.data, uintptr(at&r.mask)*8+bHeader)
	if len(msg) <= smallPayload {
		moveSmall(dst, unsafe.Pointer(unsafe.SliceData(msg)), len(msg))
		return
	}
	copy(unsafe.Slice((*byte)(dst), len(msg)), msg)
}

func (r *Ring) sbPushBatch(msgs [][]byte) (int, error) {
	p := &r.p
	start := p.pos
	n := 0
	var err error
	for _, msg := range msgs {
		var at uint64
		if at, err = r.sbReserve(len(msg)); err != nil {
			break
		}
		r.writeBytes(at, msg)
		faultinject.At(faultinject.AfterCopy)
		*r.bHdr(at) = bWord(bMessage, uint32(len(msg)))
		faultinject.At(faultinject.BeforePublish)
		p.pos = at + recUnits(len(msg))
		n++
	}
	if p.pos != start {
		r.spscPublish(p.pos)
	}
	return n, err
}

// bTryPushEntry and bTryPopEntry are TryPush and TryPop on a byte ring,
// announced for Close.
func (r *Ring) bTryPushEntry(msg []byte) error {
	if err := r.enterPush(); err != nil {
		return err
	}
	err := r.bTryPush(msg)
	r.exitPush()
	return err
}

func (r *Ring) bTryPush(msg []byte) error {
	if r.cfg.Kind == SPSCBytes {
		return r.sbPush(msg)
	}
	return r.mbPush(msg)
}

func (r *Ring) bTryPushBatch(msgs [][]byte) (int, error) {
	if r.cfg.Kind == SPSCBytes {
		if !r.p.held {
			if err := r.claimProducer(); err != nil {
				return 0, err
			}
		}
		return r.sbPushBatch(msgs)
	}
	return r.mbPushBatch(msgs)
}

func (r *Ring) bTryPopEntry(buf []byte, exact bool) (int, error) {
	if err := r.enterPop(); err != nil {
		return 0, err
	}
	n, err := r.bPop(buf, exact)
	r.exitPop()
	return n, err
}

// --- consumers ---

// bNext finds the next message for the consumer, skipping padding, and
// returns its position and length. It returns ErrEmpty, io.EOF after
// Shutdown, or ErrCorrupt.
func (r *Ring) bNext() (at uint64, n int, err error) {
	c := &r.c
	if !c.held {
		if err := r.claimConsumer(); err != nil {
			return 0, 0, err
		}
		if r.cfg.Kind == MPSCBytes {
			c.pos &= posMask // a position, whatever else the word holds
			r.mbFinishWipe()
		}
	}
	if r.cfg.Kind == MPSCBytes {
		return r.mbNext()
	}
	for {
		if err := r.spscAvailable(); err != nil {
			return 0, 0, err
		}
		u := c.pos
		h := *r.bHdr(u) // below tail: ordered by its load-acquire
		off := u & r.mask
		switch bState(h) {
		case bMessage:
			n := int(bLen(h))
			if rec := recUnits(n); n > r.slotSize || off+rec > r.capacity || c.tail-u < rec {
				return 0, 0, r.badRecord(u, h)
			}
			return u, n, nil
		case bPadding:
			l := uint64(bLen(h))
			if l%8 != 0 || off+l/8 != r.capacity || c.tail-u < l/8 {
				return 0, 0, r.badRecord(u, h)
			}
			r.spscFree(u + l/8)
		default:
			return 0, 0, r.badRecord(u, h)
		}
	}
}

func (r *Ring) badRecord(u, h uint64) error {
	return wrap(ErrCorrupt, "record at position %d (byte %d of the data area) has header %#x (state %d, length %d), impossible there",
		u, (u&r.mask)*8, h, bState(h), bLen(h))
}

// maxClaim is the most units one claim can take: padding to the end and
// the largest record.
func (r *Ring) maxClaim() uint64 { return 2 * recUnits(r.slotSize) }

// mbNext is bNext on an MPSCBytes ring.
func (r *Ring) mbNext() (at uint64, n int, err error) {
	c := &r.c
	skipped := uint64(0) // units of padding skipped: at most an area's worth between head and tail
	inconsistent := 0
	for tries := 0; tries < spinLimit; tries++ {
		u := c.pos
		h := atomic.LoadUint64(r.bHdr(u)) // load-acquire: pairs with the commit
		off := u & r.mask
		switch s := bState(h); {
		case r.unwritten(u, h):
			closed := atomic.LoadUint32(r.closedWord()) != 0
			w := atomic.LoadUint64(r.tail())
			if t := w >> 8; t == u {
				if !closed {
					return 0, 0, ErrEmpty
				}
				// Shut down, and nothing claimed at u when we looked at
				// tail after the word: no push can follow.
				return 0, 0, io.EOF
			} else if d := dist(u, t); d > r.capacity || w&tailLane == 0 {
				return 0, 0, wrap(ErrCorrupt, "tail word %#x is not within the %d units of the data area above head %d", w, r.capacity, u)
			}
			// Claimed, the header not written yet: the last claim, tail's.
			e := r.claim(int(w & idxLane))
			start := atomic.LoadUint64(&e.start)
			size := uint64(atomic.LoadUint32(&e.size))
			if start != u || (start+size)&posMask != w>>8 || size == 0 || size > r.maxClaim() {
				// The claimer wrote its header since we looked, or the
				// ring holds what no producer writes.
				if inconsistent++; inconsistent > 64 {
					return 0, 0, wrap(ErrCorrupt, "record at position %d has no header, but tail %#x names lane %d's claim of %d units at %d",
						u, w, w&idxLane, size, start)
				}
				continue
			}
			claim := bWord(bClaimed|(atomic.LoadUint32(&e.claimEpoch)&0xffffff)<<6|uint32(w&idxLane), uint32(size*8))
			if !r.mbRecover(u, claim, h) {
				return 0, 0, ErrEmpty // being written
			}
		case s == bMessage:
			n := int(bLen(h))
			if rec := recUnits(n); n > r.slotSize || off+rec > r.capacity {
				return 0, 0, r.badRecord(u, h)
			}
			return u, n, nil
		case s == bPadding:
			l := uint64(bLen(h))
			if l%8 != 0 || l == 0 || l/8 > r.maxClaim() {
				return 0, 0, r.badRecord(u, h)
			}
			if skipped >= r.capacity {
				// An area's worth skipped in one call: producers that abort
				// as fast as we skip (or a ring made of padding) must not
				// keep us here; the next call goes on.
				return 0, 0, ErrEmpty
			}
			skipped += l / 8
			tries-- // a sound ring has any number of paddings in a row
			end := (u + l/8) & posMask
			r.wipe(u, end)
			r.mbFree(end)
		case s&bClaimed != 0:
			if l := uint64(bLen(h)); l%8 != 0 || l == 0 || l/8 > r.maxClaim() {
				return 0, 0, r.badRecord(u, h)
			}
			if !r.mbRecover(u, h, h) {
				return 0, 0, ErrEmpty // being written
			}
		default:
			return 0, 0, r.badRecord(u, h)
		}
	}
	return 0, 0, r.stuckIndex("head", c.pos)
}

// mbFree stores head = pos after the consumer's wipe and wakes producers.
func (r *Ring) mbFree(pos uint64) {
	r.c.pos = pos
	storeRelease64(r.head(), pos)
	r.wakeProducers()
}

// mbConsumed marks the delivered message at at consumed, wipes it (see
// the invariants) and moves the consumer past it; head is stored by the
// caller.
func (r *Ring) mbConsumed(at uint64, n int) uint64 {
	r.mbMark(at, n)
	return r.mbWipe(at, n)
}

// mbMark marks the message at at consumed: from here a successor of this
// consumer skips it.
func (r *Ring) mbMark(at uint64, n int) {
	storeRelease64(r.bHdr(at), bWord(bConsumed, uint32(n)))
	faultinject.At(faultinject.AfterRead) // marked: a successor finishes the wipe
}

// mbWipe wipes the marked message at at and moves the consumer past it.
func (r *Ring) mbWipe(at uint64, n int) uint64 {
	end := (at + recUnits(n)) & posMask
	r.wipe(at, end)
	r.c.pos = end
	return end
}

// mbFinishWipe completes what a consumer killed while wiping left: units
// that already read FREE of their lap, and a record marked CONSUMED.
func (r *Ring) mbFinishWipe() {
	c := &r.c
	start := c.pos
	for i := uint64(0); i < r.capacity; i++ {
		u := c.pos
		h := atomic.LoadUint64(r.bHdr(u))
		if h == bWord(bFree, r.lap(u)) {
			c.pos = (c.pos + 1) & posMask
			continue
		}
		if bState(h) == bConsumed && int(bLen(h)) <= r.slotSize && u&r.mask+recUnits(int(bLen(h))) <= r.capacity {
			r.mbConsumed(u, int(bLen(h)))
			continue
		}
		break
	}
	if c.pos != start {
		r.mbFree(c.pos)
	}
}

// mbRecover is called on a claim in the consumer's way, h: after it has
// been there longer than Options.Grace, and its claimer is proved gone (its
// process dead, its record free, or its record's epoch moved on), the
// header at u, which holds was, becomes padding. A live claimer is never
// overridden.
func (r *Ring) mbRecover(u, h, was uint64) bool {
	if !r.graceOver(h) {
		return false
	}
	lane := int(bState(h) & idxLane)
	epoch := bState(h) >> 6 & 0xffffff
	gone := atomic.LoadUint32(r.epochWord(lane))&0xffffff != epoch
	if !gone {
		owned, alive := r.recordOwnerAlive(lane)
		gone = !owned || !alive
	}
	if !gone {
		r.graceAgain() // slow, not dead: look again after another grace period
		return false
	}
	if atomic.CompareAndSwapUint64(r.bHdr(u), was, bWord(bPadding, bLen(h))) {
		r.m.recovered.Add(1)
	}
	return true
}

// bPop copies the next message into buf.
func (r *Ring) bPop(buf []byte, exact bool) (int, error) {
	at, n, err := r.bNext()
	if err != nil {
		return 0, err
	}
	if n > len(buf) || exact && n != len(buf) {
		return n, r.sizeMismatch(n, len(buf), exact)
	}
	src := unsafe.Add(r.data, uintptr(at&r.mask)*8+bHeader)
	if n <= smallPayload {
		moveSmall(unsafe.Pointer(unsafe.SliceData(buf)), src, n)
	} else {
		copy(buf, unsafe.Slice((*byte)(src), n))
	}
	faultinject.At(faultinject.AfterConsume)
	if r.cfg.Kind == MPSCBytes {
		r.mbFree(r.mbConsumed(at, n))
	} else {
		r.spscFree(at + recUnits(n))
	}
	return n, nil
}

// bTryConsume hands fn up to max messages as views into the data area and
// frees those it accepted with one store of head; a message fn refuses
// stays first in line.
func (r *Ring) bTryConsume(max int, fn visitor) (int, error) {
	c := &r.c
	done := 0
	var err error
	freeTo := func() {
		if r.cfg.Kind == MPSCBytes {
			r.mbFree(c.pos)
		} else {
			r.spscFree(c.pos)
		}
	}
	start := c.pos
	var cur uint64 // the message fn is looking at
	var curLen int
	defer func() {
		if c.inFn != 0 { // fn panicked: what it accepted before is consumed, the message it panicked on is not
			r.clearInFn()
			if r.cfg.Kind == MPSCBytes {
				storeRelease64(r.bHdr(cur), bWord(bMessage, uint32(curLen)))
			}
			if c.pos != start {
				freeTo()
			}
		}
	}()
	for done < max {
		at, n, nerr := r.bNext()
		if nerr != nil {
			if done == 0 {
				err = nerr
			} else if nerr != ErrEmpty && nerr != io.EOF {
				err = nerr
			}
			break
		}
		if done == 0 {
			start = c.pos // padding skipped by bNext is freed already
		}
		cur, curLen = at, n
		if r.cfg.Kind == MPSCBytes {
			// Marked before fn sees it, as an MPMC claim is: a consumer
			// killed inside fn loses this message, never delivers it twice.
			r.mbMark(at, n)
		}
		storeRelease32(&c.inFn, 1)
		ferr := fn.call(r.bPayload(at, n))
		r.clearInFn()
		if ferr != nil {
			if r.cfg.Kind == MPSCBytes {
				storeRelease64(r.bHdr(at), bWord(bMessage, uint32(n))) // refused: first in line again
			}
			err = ferr
			break
		}
		done++
		if r.cfg.Kind == MPSCBytes {
			r.mbWipe(at, n)
		} else {
			c.pos = at + recUnits(n)
			if c.pos == c.tail {
				// The batch reaches the tail we know: free it before the
				// next look, so a producer waiting for room gets it now.
				r.spscFree(c.pos)
				start = c.pos
			}
		}
		if atomic.LoadUint32(&r.life)&lifeClosing != 0 {
			break
		}
	}
	if c.pos != start {
		faultinject.At(faultinject.AfterConsume)
		freeTo()
	}
	return done, err
}

// --- MPSCBytes producers ---

// mbLane returns this handle's lane and the epoch of its record.
func (r *Ring) mbLane() (uint64, uint32, error) {
	lane, err := r.lane()
	if err != nil {
		return 0, 0, err
	}
	r.markRole(lane, roleProduces)
	return lane, r.m.epoch.Load(), nil
}

// errClaimPending: the last claim's header is not written yet; the caller
// looks again (a few instructions away), or, after many looks, reports the
// ring full for now.
const claimPolls = 1 << 12

// mbClaim claims room for a message of n bytes and returns where its record
// goes (at), where the claim starts and how many units it takes.
func (r *Ring) mbClaim(n int) (at, start, need uint64, err error) {
	lane, epoch, err := r.mbLane()
	if err != nil {
		return 0, 0, 0, err
	}
	if n > r.slotSize {
		return 0, 0, 0, r.tooLarge(n)
	}
	r.m.claimMu.Lock() // the lane's entry and its header: one claim at a time
	defer r.m.claimMu.Unlock()
	e := r.claim(int(lane))
	for tries := 0; tries < spinLimit; tries++ {
		if atomic.LoadUint32(r.closedWord()) != 0 {
			return 0, 0, 0, ErrClosed
		}
		w := atomic.LoadUint64(r.tail())
		t := w >> 8
		// The last claim must have its header before we move past it:
		// another lane's, or our lane's from before this handle held it
		// (a dead owner's, which only the consumer recovers). Our own
		// last claim has it: we wrote it under claimMu.
		mine := w&idxLane == lane && t == r.m.claimEnd && r.m.claimed
		if w&tailLane != 0 && !mine && !r.mbClaimWritten(w) {
			if tries >= claimPolls {
				return 0, 0, 0, ErrFull // its producer is slow, or dead until the consumer recovers it
			}
			cpuRelax()
			continue
		}
		at, need := r.bRoom(t, n)
		head := r.m.bHead.Load()
		if d := dist(head, t); d > r.capacity || d+need > r.capacity {
			head = atomic.LoadUint64(r.head()) // load-acquire: pairs with the consumer's store after its wipe
			r.m.bHead.Store(head)
			switch d := dist(head, t); {
			case d > r.capacity:
				if atomic.LoadUint64(r.tail()) != w {
					continue
				}
				return 0, 0, 0, wrap(ErrCorrupt, "tail %d is not within the %d units of the data area above head %d", t, r.capacity, head)
			case d+need > r.capacity:
				if atomic.LoadUint64(r.tail()) != w {
					continue
				}
				return 0, 0, 0, ErrFull
			}
		}
		// The entry: size and epoch before start (store-release: plain
		// MOVs on amd64, kept in order, and all before the CAS below, a
		// full barrier); rewritten only when they change.
		if r.m.entrySize != uint32(need) || r.m.entryEpoch != epoch|1<<31 {
			storeRelease32(&e.size, uint32(need))
			storeRelease32(&e.claimEpoch, epoch)
			r.m.entrySize, r.m.entryEpoch = uint32(need), epoch|1<<31
		}
		storeRelease64(&e.start, t) // the entry is whole: a reader of start sees size
		if !atomic.CompareAndSwapUint64(r.tail(), w, (t+need)&posMask<<8|tailLane|lane) {
			continue
		}
		faultinject.At(faultinject.AfterClaimCAS)
		hdr := bWord(bClaimed|epoch<<6|uint32(lane), uint32(need*8))
		if atomic.LoadUint32(r.closedWord()) != 0 {
			hdr = bWord(bPadding, uint32(need*8)) // shut down meanwhile: nothing of ours after the end
		}
		storeRelease64(r.bHdr(t), hdr)
		faultinject.At(faultinject.AfterClaim)
		r.m.claimEnd, r.m.claimed = (t+need)&posMask, true
		if bState(hdr) == bPadding {
			r.wakeConsumers()
			return 0, 0, 0, ErrClosed
		}
		return at, t, need, nil
	}
	return 0, 0, 0, r.stuckIndex("tail", atomic.LoadUint64(r.tail()))
}

// mbClaimWritten reports whether the last claim, named by tail word w, has
// its header written (or has moved on: its lane's entry names another).
func (r *Ring) mbClaimWritten(w uint64) bool {
	e := r.claim(int(w & idxLane))
	start := atomic.LoadUint64(&e.start)
	size := uint64(atomic.LoadUint32(&e.size))
	if (start+size)&posMask != w>>8 {
		return true // the lane has begun another claim since: the last one is written
	}
	return !r.unwritten(start, atomic.LoadUint64(r.bHdr(start)))
}

// mbCommit publishes the n-byte message at at, in the claim [start,
// start+need).
func (r *Ring) mbCommit(at, start, need uint64, n int) {
	faultinject.At(faultinject.AfterCopy)
	end := start + need
	if rest := end - (at + recUnits(n)); rest > 0 {
		storeRelease64(r.bHdr(at+recUnits(n)), bWord(bPadding, uint32(rest*8)))
	}
	faultinject.At(faultinject.BeforePublish)
	storeRelease64(r.bHdr(at), bWord(bMessage, uint32(n))) // publishes the message
	if at != start {
		storeRelease64(r.bHdr(start), bWord(bPadding, uint32((at-start)*8)))
	}
	r.wakeConsumers()
}

// mbAbort gives a claim back as padding.
func (r *Ring) mbAbort(start, need uint64) {
	storeRelease64(r.bHdr(start), bWord(bPadding, uint32(need*8)))
	r.wakeConsumers()
}

func (r *Ring) mbPush(msg []byte) error {
	at, start, need, err := r.mbClaim(len(msg))
	if err != nil {
		return err
	}
	r.writeBytes(at, msg)
	r.mbCommit(at, start, need, len(msg))
	return nil
}

func (r *Ring) mbPushBatch(msgs [][]byte) (int, error) {
	for i, msg := range msgs {
		if err := r.mbPush(msg); err != nil {
			return i, err
		}
	}
	return len(msgs), nil
}

// bQueued counts the messages between head and tail by walking their
// headers: a snapshot, which stops at the first header it cannot read.
// Claims being written count; a message being consumed does not.
func (r *Ring) bQueued() int {
	head := atomic.LoadUint64(r.head())
	tail := atomic.LoadUint64(r.tail())
	if r.cfg.Kind == MPSCBytes {
		tail >>= 8
	}
	n := 0
	for u, steps := head, uint64(0); u != tail && dist(head, u) < r.capacity && steps < r.capacity; steps++ {
		h := atomic.LoadUint64(r.bHdr(u))
		size := uint64(bLen(h)) / 8 // padding and claims: the record's bytes
		switch s := bState(h); {
		case s == bMessage:
			n++
			size = recUnits(int(bLen(h)))
		case s == bConsumed && r.cfg.Kind == MPSCBytes:
			size = recUnits(int(bLen(h)))
		case s&bClaimed != 0 && r.cfg.Kind == MPSCBytes:
			n++
		case r.cfg.Kind == MPSCBytes && r.unwritten(u, h):
			return n + 1 // the last claim, its header being written
		case s == bPadding:
		default:
			return n
		}
		if size == 0 || bLen(h)%8 != 0 && bState(h) != bMessage && bState(h) != bConsumed {
			return n // not a record any version writes
		}
		u = (u + size) & posMask
	}
	return n
}
