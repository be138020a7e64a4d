package ring

// MPMC protocol: a bounded queue with a sequence word per slot, after
// Dmitry Vyukov's, changed so that the claim itself records who claimed.
//
// Invariants:
//   - Positions are claimed in order: a producer claims position q (CAS of
//     FREE(q) to WRITING(q, lane) in the slot) only when every position
//     below q has been claimed. It starts from the tail hint, which is only
//     ever stored as p+1 by the claimer of p, and steps over slots that are
//     claimed; when a slot already serves a later turn t it jumps to where
//     the turn proves every position is claimed (see catchUp). Consumers do
//     the mirror image with FULL(q) -> READING(q, lane) and the head hint.
//   - So tail and head are hints, not the truth: they may lag behind (a
//     slow claimer stores an old value late) but never run ahead. The truth
//     is in the slots.
//   - Between the claim and the release a slot belongs to the claimer:
//     only it writes the slot (producer: payload, length, then FULL; consumer:
//     FREE for the next turn, after copying out).
//   - Because the lane of the claimer is in the claimed word itself, there
//     is no moment at which a slot is claimed but its claimer unknown. A
//     slot that stays WRITING or READING longer than Options.Grace makes an
//     observer check the lane's process; if it is dead, the observer moves
//     the slot to FREE of the next turn with a CAS (recovery). A producer
//     that dies loses the message it was writing; a consumer that dies loses
//     the message it was reading. Nothing else is lost, nothing stalls.
//   - One CAS per message on each side, on the slot's own line, which each
//     side must write anyway; the hints live on lines of their own.

import (
	"fmt"
	"io"
	"sync/atomic"
	"unsafe"

	"github.com/shmring/shmring/internal/faultinject"
)

// lane returns the index of this handle's process record, claiming one on
// first use.
func (r *Ring) lane() (uint64, error) {
	if l := r.m.lane.Load(); l >= 0 {
		return uint64(l), nil
	}
	return r.registerLane()
}

func (r *Ring) registerLane() (uint64, error) {
	r.m.laneMu.Lock()
	defer r.m.laneMu.Unlock()
	if l := r.m.lane.Load(); l >= 0 {
		return uint64(l), nil
	}
	if err := r.usable(); err != nil {
		return 0, err
	}
	// Dead processes that left waiters counted would make every
	// publication a system call: sweep them first.
	r.sweepDead()
	// A free record first; failing that, one whose owner has died (after
	// recovering the slots it left claimed).
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < numRecords; i++ {
			owned, alive := r.recordOwnerAlive(i)
			if pass == 0 && owned || pass == 1 && (!owned || alive) {
				continue
			}
			if _, err := r.claimRecord(i, 0, r.recoverLane); err != nil {
				continue // taken meanwhile
			}
			r.m.lane.Store(int32(i))
			return uint64(i), nil
		}
	}
	return 0, fmt.Errorf("ring: all %d process records are held by live handles: %w", numRecords, ErrBusy)
}

// recoverLane frees every slot that lane's dead owner left claimed. It runs
// while this handle holds the lane's record in the claiming state, so no one
// else recovers or claims with this lane meanwhile.
func (r *Ring) recoverLane(lane int) {
	for i := uint64(0); i < r.capacity; i++ {
		s := r.slot(i)
		v := atomic.LoadUint64(slotSeq(s))
		if tag := v & 0xff; (tag&0xc0 == tagWriting || tag&0xc0 == tagReading) && int(tag&laneMask) == lane {
			atomic.CompareAndSwapUint64(slotSeq(s), v, seqWord(v>>8+r.capacity, tagFree))
		}
	}
}

// markRole records in this handle's process record that it produces or
// consumes, for inspectors.
func (r *Ring) markRole(lane uint64, role uint32) {
	if r.m.roles.Load()&role != 0 {
		return
	}
	r.m.roles.Or(role)
	rec := r.record(int(lane))
	for {
		old := atomic.LoadUint32(&rec.roles)
		if old&role != 0 || atomic.CompareAndSwapUint32(&rec.roles, old, old|role) {
			return
		}
	}
}

// tryRecover is called on a slot that blocks progress while claimed
// (WRITING or READING). It reports whether it freed the slot. It waits
// Options.Grace of the same value before looking at the claimer, and never
// frees a slot whose claimer is alive.
func (r *Ring) tryRecover(s unsafe.Pointer, v uint64) bool {
	tag := v & 0xff
	if k := tag & 0xc0; k != tagWriting && k != tagReading {
		return false
	}
	// A claim is usually seen once or twice, for the nanoseconds its claimer
	// takes to finish: the clock starts on the second sighting, so the usual
	// case costs no clock reading.
	if r.m.stuckV.Load() != v {
		r.m.stuckV.Store(v)
		r.m.stuckAt.Store(0)
		return false
	}
	now := monotime()
	at := r.m.stuckAt.Load()
	if at == 0 {
		r.m.stuckAt.Store(now)
		return false
	}
	if now-at < int64(r.opts.Grace) {
		return false
	}
	if owned, alive := r.recordOwnerAlive(int(tag & laneMask)); owned && alive {
		r.m.stuckAt.Store(now) // slow, not dead: look again after another grace period
		return false
	}
	// The claimer is gone: the slot serves the next turn. Its message, if
	// any, died with it.
	if atomic.CompareAndSwapUint64(slotSeq(s), v, seqWord(v>>8+r.capacity, tagFree)) {
		r.m.recovered.Add(1)
		return true
	}
	return false
}

// catchUp moves pos forward when slot pos already serves turn t = pos+d
// (d>0). Turn t in a slot means the consumer of t-capacity has released it,
// so every position up to t-capacity has been claimed by producers and by
// consumers. A state of turn t may prove more: for producers, anything but
// FREE means t itself was claimed; for consumers, READING does. CLOSED is
// where both stop. The hint may be further still.
func (r *Ring) catchUp(pos uint64, d int64, v uint64, hint *uint64, consumer bool) uint64 {
	t := pos + uint64(d)
	next := t - r.capacity + 1
	switch tag := v & 0xff; {
	case tag == tagClosed:
		next = t
	case tag&0xc0 == tagReading,
		!consumer && (tag == tagFull || tag&0xc0 == tagWriting):
		next = t + 1
	}
	if int64(next-pos) <= 0 {
		next = pos + 1
	}
	if h := atomic.LoadUint64(hint); int64(h-next) > 0 {
		next = h
	}
	return next
}

// raise stores v in hint h unless h is already at or past it.
func raise(h *uint64, v uint64) {
	if int64(v-atomic.LoadUint64(h)) > 0 {
		storeRelease64(h, v)
	}
}

// scanLimit bounds the slots one operation may look at. In a sound ring an
// operation looks at a few; a ring scribbled over could send it round and
// round.
func (r *Ring) scanLimit() int { return 2*r.cfg.Capacity + 64 }

func (r *Ring) scanError(op string) error {
	return fmt.Errorf("ring: %s looked at %d slots without finding its turn: %w", op, r.scanLimit(), ErrCorrupt)
}

func (r *Ring) badTag(pos, v uint64) error {
	return fmt.Errorf("ring: slot of position %d holds sequence word %#x with unknown tag %#x: %w", pos, v, v&0xff, ErrCorrupt)
}

// mpmcClaimWrite claims the first free position at or after pos and
// returns its slot in the WRITING state, owned by the caller until it
// publishes.
func (r *Ring) mpmcClaimWrite(lane, pos uint64) (unsafe.Pointer, uint64, error) {
	for steps := r.scanLimit(); steps > 0; steps-- {
		s := r.slot(pos)
		v := atomic.LoadUint64(slotSeq(s)) // load-acquire: pairs with the consumer's release
		d := turnDiff(v, pos)
		if d > 0 {
			pos = r.catchUp(pos, d, v, r.tail(), false)
			continue
		}
		tag := v & 0xff
		if d < 0 {
			// The slot still serves an earlier turn: full at pos, unless its
			// claimer died. FREE of an earlier turn means a position below
			// pos is unclaimed after all: go back and claim it.
			if tag == tagFree {
				pos += uint64(d)
				continue
			}
			if r.tryRecover(s, v) {
				continue
			}
			return nil, 0, ErrFull
		}
		switch {
		case tag == tagFree:
			if atomic.CompareAndSwapUint64(slotSeq(s), v, seqWord(pos, tagWriting|lane)) { // claims position pos
				faultinject.At(faultinject.AfterClaim)
				return s, pos, nil
			}
		case tag == tagClosed:
			return nil, 0, ErrClosed
		case tag == tagFull, tag&0xc0 == tagWriting, tag&0xc0 == tagReading:
			pos++ // claimed by someone else
		default:
			return nil, 0, r.badTag(pos, v)
		}
	}
	return nil, 0, r.scanError("push")
}

// mpmcWrite fills a claimed slot and publishes it.
func (r *Ring) mpmcWrite(s unsafe.Pointer, pos uint64, msg []byte) {
	r.writePayload(s, msg)
	faultinject.At(faultinject.AfterCopy)
	atomic.StoreUint32(r.slotLen(s), uint32(len(msg))) // MOV on amd64; read with a load-acquire
	faultinject.At(faultinject.BeforePublish)
	storeRelease64(slotSeq(s), seqWord(pos, tagFull)) // publishes the message
}

func (r *Ring) mpmcTryPush(msg []byte) error {
	lane, err := r.lane()
	if err != nil {
		return err
	}
	if len(msg) > r.slotSize {
		return r.tooLarge(len(msg))
	}
	r.markRole(lane, roleProduces)
	if atomic.LoadUint32(r.closedWord()) != 0 {
		return ErrClosed
	}
	// The common case first: the slot at the hint is free for its turn.
	pos := atomic.LoadUint64(r.tail())
	s := r.slot(pos)
	if v := atomic.LoadUint64(slotSeq(s)); v != seqWord(pos, tagFree) ||
		!atomic.CompareAndSwapUint64(slotSeq(s), v, seqWord(pos, tagWriting|lane)) { // claims position pos
		if s, pos, err = r.mpmcClaimWrite(lane, pos); err != nil {
			return err
		}
	} else {
		faultinject.At(faultinject.AfterClaim)
	}
	raise(r.tail(), pos+1)
	r.mpmcWrite(s, pos, msg)
	r.wakeConsumers()
	return nil
}

func (r *Ring) mpmcTryPushBatch(msgs [][]byte) (int, error) {
	lane, err := r.lane()
	if err != nil {
		return 0, err
	}
	r.markRole(lane, roleProduces)
	if atomic.LoadUint32(r.closedWord()) != 0 {
		return 0, ErrClosed
	}
	pos := atomic.LoadUint64(r.tail())
	n := 0
	for _, msg := range msgs {
		if len(msg) > r.slotSize {
			err = r.tooLarge(len(msg))
			break
		}
		s, at, cerr := r.mpmcClaimWrite(lane, pos)
		if cerr != nil {
			err = cerr
			break
		}
		r.mpmcWrite(s, at, msg)
		pos = at + 1
		n++
	}
	if n > 0 {
		raise(r.tail(), pos)
		r.wakeConsumers()
		return n, err
	}
	return 0, err
}

// mpmcClaimRead claims the first message at or after pos and returns its
// slot in the READING state with the message length. limit >= 0 is the
// caller's buffer size: a longer message (or, with exact, one of another
// length) is left unclaimed and reported.
func (r *Ring) mpmcClaimRead(lane, pos uint64, limit int, exact bool) (unsafe.Pointer, uint64, int, error) {
	for steps := r.scanLimit(); steps > 0; steps-- {
		s := r.slot(pos)
		v := atomic.LoadUint64(slotSeq(s)) // load-acquire: pairs with the producer's publish
		d := turnDiff(v, pos)
		if d > 0 {
			pos = r.catchUp(pos, d, v, r.head(), true)
			continue
		}
		tag := v & 0xff
		if d < 0 {
			// The slot still serves an earlier turn (a consumer is reading
			// it): nothing was produced at pos yet.
			if r.tryRecover(s, v) {
				continue
			}
			return nil, 0, 0, ErrEmpty
		}
		switch {
		case tag == tagFull:
			n := int(atomic.LoadUint32(r.slotLen(s)))
			if atomic.LoadUint64(slotSeq(s)) != v {
				continue // taken meanwhile: n may be another message's
			}
			if n > r.slotSize {
				return nil, 0, 0, r.badLength(pos, n)
			}
			if limit >= 0 && (n > limit || exact && n != limit) {
				return nil, 0, n, r.sizeMismatch(n, limit, exact)
			}
			if atomic.CompareAndSwapUint64(slotSeq(s), v, seqWord(pos, tagReading|lane)) { // claims the message
				faultinject.At(faultinject.AfterRead)
				return s, pos, n, nil
			}
		case tag&0xc0 == tagReading:
			pos++ // another consumer has it
		case tag&0xc0 == tagWriting:
			// Claimed, not yet published. Messages behind it wait: order first.
			if r.tryRecover(s, v) {
				continue
			}
			return nil, 0, 0, ErrEmpty
		case tag == tagFree:
			if atomic.LoadUint32(r.closedWord()) == 0 {
				return nil, 0, 0, ErrEmpty
			}
			// Shut down and drained up to pos: seal the ring here, unless a
			// producer claims pos first (then its message comes first).
			if atomic.CompareAndSwapUint64(slotSeq(s), v, seqWord(pos, tagClosed)) {
				return nil, 0, 0, io.EOF
			}
		case tag == tagClosed:
			return nil, 0, 0, io.EOF
		default:
			return nil, 0, 0, r.badTag(pos, v)
		}
	}
	return nil, 0, 0, r.scanError("pop")
}

// mpmcRelease hands a slot the caller has read to the producer of its next
// turn.
func (r *Ring) mpmcRelease(s unsafe.Pointer, pos uint64) {
	faultinject.At(faultinject.AfterConsume)
	storeRelease64(slotSeq(s), seqWord(pos+r.capacity, tagFree)) // after the copy out
}

func (r *Ring) mpmcTryPop(buf []byte, exact bool) (int, error) {
	lane, err := r.lane()
	if err != nil {
		return 0, err
	}
	r.markRole(lane, roleConsumes)
	// The common case first: a message of the right size at the hint.
	pos := atomic.LoadUint64(r.head())
	s := r.slot(pos)
	v := atomic.LoadUint64(slotSeq(s)) // load-acquire: pairs with the producer's publish
	n := int(atomic.LoadUint32(r.slotLen(s)))
	if v != seqWord(pos, tagFull) || n > len(buf) || n > r.slotSize || exact && n != len(buf) ||
		atomic.LoadUint64(slotSeq(s)) != v || // the length is v's
		!atomic.CompareAndSwapUint64(slotSeq(s), v, seqWord(pos, tagReading|lane)) { // claims the message
		if s, pos, n, err = r.mpmcClaimRead(lane, pos, len(buf), exact); err != nil {
			return n, err
		}
	} else {
		faultinject.At(faultinject.AfterRead)
	}
	raise(r.head(), pos+1)
	r.readPayload(buf, s, n)
	r.mpmcRelease(s, pos)
	r.wakeProducers()
	return n, nil
}

func (r *Ring) mpmcTryPopFunc(max int, fn func(msg []byte)) (int, error) {
	lane, err := r.lane()
	if err != nil {
		return 0, err
	}
	r.markRole(lane, roleConsumes)
	pos := atomic.LoadUint64(r.head())
	n := 0
	var held unsafe.Pointer // a slot fn is looking at
	defer func() {
		if held != nil { // fn panicked: do not leave the slot claimed by a live process for ever
			r.mpmcRelease(held, pos)
		}
	}()
	for n < max {
		s, at, l, cerr := r.mpmcClaimRead(lane, pos, -1, false)
		if cerr != nil {
			err = cerr
			break
		}
		held, pos = s, at
		fn(r.payload(s, l))
		r.mpmcRelease(s, at)
		held = nil
		pos = at + 1
		n++
	}
	if n > 0 {
		raise(r.head(), pos)
		r.wakeProducers()
		return n, nil
	}
	return 0, err
}
