package ring

// MPMC protocol: Dmitry Vyukov's bounded queue (positions claimed with a
// compare-and-swap on the tail and head words, a sequence word per slot),
// with the claimer of every position on record, so that a process that dies
// holding a claim can be recognised and its claim undone.
//
// Invariants:
//   - tail = n<<8 | closed<<7 | l: positions below n have been claimed by
//     producers, and the claim of n-1 was made by lane l (the index of the
//     claimer's process record). head = n<<8 | l, the same for consumers.
//     A claim is the CAS that moves the word from n to n+1; positions are
//     claimed in order, each once.
//   - Slot p&mask serves turn p. Its sequence word is FREE(p) until the
//     producer that claimed p publishes FULL(p) (store-release, after the
//     payload and length), and FULL(p) until the consumer that claimed p
//     releases it as FREE(p+capacity) (store-release, after its copy out).
//     Only the claimer of a position writes its slot between the claim and
//     the release.
//   - Every claim is on record, at all times: in the tail (head) word while
//     it is the latest, and in the slot's claim record before the word moves
//     on. The claimer stores the record right after its CAS; and whoever
//     moves the word past a position first records that claim (helping,
//     with a CAS that never goes back to an older turn), so a claimer that
//     dies between its CAS and its record is still known. That holds for a
//     claim of the same lane too: two goroutines of one handle share a
//     lane, and the first may be killed between its CAS and its record
//     while the second claims the next position. Only when the handle knows
//     that its own previous claim is on record (m.recordedW/recordedR, one
//     past the last position it recorded) does it skip the help: so one
//     producer and one consumer never help, and write their own records with
//     a plain store on the slot's line, which they are about to write anyway.
//   - A slot that stays claimed and unfinished longer than Options.Grace
//     makes an observer look at its claimer; if the claimer's process is
//     dead, the observer undoes the claim with a CAS on the sequence word:
//     a writer's FREE(p) becomes ABANDONED(p), which consumers claim and skip;
//     a reader's FULL(p) becomes FREE(p+capacity). A producer that dies loses
//     the message it was writing; a consumer that dies, the message it was
//     reading. Nothing else is lost and nothing stalls.
//   - Shutdown sets the closed bit in tail with a CAS: a push either claimed
//     its position before, and is delivered, or fails. Consumers return
//     io.EOF once every claimed position is consumed.

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
	// undoing the claims it left).
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < numRecords; i++ {
			if i == recConsumer && r.cfg.Kind == MPSCBytes {
				continue // the consumer's role
			}
			owned, alive := r.recordOwnerAlive(i)
			if pass == 0 && owned || pass == 1 && (!owned || alive) {
				continue
			}
			if r.claimRecord(i, 0, r.recoverLane) != 0 {
				continue // taken meanwhile
			}
			if r.cfg.Kind == MPSCBytes {
				// A new owner, a new epoch: claims any earlier owner left are
				// known to be nobody's (see bytes.go).
				r.m.epoch.Store(atomic.AddUint32(r.epochWord(i), 1) & 0xffffff)
			}
			r.m.lane.Store(int32(i))
			return uint64(i), nil
		}
	}
	return 0, wrap(ErrBusy, "all %d process records are held by live handles", numRecords)
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

// claimer returns the lane that claimed position p as a writer (or reader,
// with kind recReader), from the index word if p is its latest claim, else
// from the slot's claim record; -1 if neither says (the claim is not made,
// or it is being recorded this very moment).
func (r *Ring) claimer(p uint64, kind uint64) int {
	idx := r.tail()
	if kind == recReader {
		idx = r.head()
	}
	if w := atomic.LoadUint64(idx); w>>8 == p+1 {
		return int(w & idxLane)
	}
	if c := atomic.LoadUint64(slotRec(r.slot(p))); turnDiff(c, p) == 0 && c&recKind == kind {
		return int(c & idxLane)
	}
	return -1
}

// help records that lane claimed position p (as kind), unless the slot's
// record already holds p or a later turn: it may run late, long after the
// slot moved on, and must then leave the record alone.
func (r *Ring) help(p uint64, kind, lane uint64) {
	rec := slotRec(r.slot(p))
	want := seqWord(p, kind|lane)
	for {
		old := atomic.LoadUint64(rec)
		if d := turnDiff(old, p); d > 0 || d == 0 && old&recKind >= kind {
			return
		}
		if atomic.CompareAndSwapUint64(rec, old, want) {
			return
		}
	}
}

// recoverLane undoes every claim that lane's dead owner left unfinished. It
// runs while this handle holds the lane's record in the claiming state, so
// the lane makes no new claim meanwhile.
func (r *Ring) recoverLane(lane int) {
	if r.cfg.Kind.bytes() {
		return // a byte ring's claims name their epoch: the takeover's new epoch disowns them (bytes.go)
	}
	for i := uint64(0); i < r.capacity; i++ {
		s := r.slot(i)
		v := atomic.LoadUint64(slotSeq(s))
		p := v >> 8
		switch v & 0xff {
		case tagFree:
			if int64(atomic.LoadUint64(r.tail())>>8-p) > 0 && r.claimer(p, recWriter) == lane {
				atomic.CompareAndSwapUint64(slotSeq(s), v, seqWord(p, tagAbandoned))
			}
		case tagFull, tagAbandoned:
			if int64(atomic.LoadUint64(r.head())>>8-p) > 0 && r.claimer(p, recReader) == lane {
				atomic.CompareAndSwapUint64(slotSeq(s), v, seqWord(p+r.capacity, tagFree))
			}
		}
	}
}

// stuckPolls is how many times in a row an operation must find the same
// claim in its way before it looks closer (the clock, the index words, the
// claimer's process): a claim usually lasts the nanoseconds its claimer
// takes to finish, and looking closer costs more than waiting.
const stuckPolls = 256

// stuckFor reports whether this handle has found the claim key in its way
// stuckPolls times in a row.
func (r *Ring) stuckFor(key uint64) bool {
	c := &r.m.stuck
	if atomic.LoadUint64(&c.key) != key {
		storeRelease64(&c.key, key)
		storeRelease64(&c.polls, 0)
		storeRelease64(&c.since, 0)
		return false
	}
	n := atomic.LoadUint64(&c.polls) + 1
	storeRelease64(&c.polls, n)
	return n >= stuckPolls
}

// graceOver reports whether this handle has found the claim key in its
// way stuckPolls times in a row and then for Options.Grace: time to look
// at its claimer (MPMC slots, MPSCBytes records).
func (r *Ring) graceOver(key uint64) bool {
	if !r.stuckFor(key) {
		return false
	}
	c := &r.m.stuck
	now := uint64(monotime())
	at := atomic.LoadUint64(&c.since)
	if at == 0 {
		storeRelease64(&c.since, now)
		return false
	}
	return now-at >= uint64(r.opts.Grace)
}

// graceAgain starts another grace period on the claim in the way: its
// claimer lives.
func (r *Ring) graceAgain() { storeRelease64(&r.m.stuck.since, uint64(monotime())) }

// tryRecover is called on the slot of position p, which has been claimed
// (as kind) and not finished: it holds v. It reports whether it undid the
// claim. After stuckFor, it waits Options.Grace of the same word before it
// looks at the claimer, and never undoes the claim of a live one.
func (r *Ring) tryRecover(s unsafe.Pointer, v, p, kind uint64) bool {
	if !r.graceOver(v ^ kind) {
		return false
	}
	lane := r.claimer(p, kind)
	if lane < 0 {
		return false // being recorded right now: look again later
	}
	if owned, alive := r.recordOwnerAlive(lane); owned && alive {
		r.graceAgain() // slow, not dead: look again after another grace period
		return false
	}
	// The claimer is gone, and its message with it.
	undone := seqWord(p, tagAbandoned) // a writer's: consumers skip it
	if kind == recReader {
		undone = seqWord(p+r.capacity, tagFree) // a reader's: the slot serves the next turn
	}
	if atomic.CompareAndSwapUint64(slotSeq(s), v, undone) {
		r.m.recovered.Add(1)
		return true
	}
	return false
}

// spinLimit bounds the times one operation may find the ring in a state it
// cannot make sense of (an index word that does not move while the slot it
// names says it should have). A sound ring passes a few times at most;
// a ring scribbled over could keep it spinning.
const spinLimit = 1 << 16

func (r *Ring) badTag(pos, v uint64) error {
	return wrap(ErrCorrupt, "slot of position %d holds sequence word %#x with unknown tag %#x", pos, v, v&0xff)
}

func (r *Ring) badState(pos, v uint64) error {
	return wrap(ErrCorrupt, "slot of position %d holds sequence word %#x, impossible there", pos, v)
}

func (r *Ring) stuckIndex(which string, w uint64) error {
	return wrap(ErrCorrupt, "%s word %#x names a position whose slot was already used", which, w)
}

// mpmcClaimWrite claims the next position for a producer and returns its
// slot, owned by the caller until it publishes.
func (r *Ring) mpmcClaimWrite(lane uint64) (unsafe.Pointer, uint64, error) {
	for tries := 0; tries < spinLimit; tries++ {
		t := atomic.LoadUint64(r.tail())
		if t&idxClosed != 0 {
			return nil, 0, ErrClosed
		}
		pos := t >> 8
		s := r.slot(pos)
		v := atomic.LoadUint64(slotSeq(s)) // load-acquire: pairs with the consumer's release
		switch d := turnDiff(v, pos); {
		case d == 0 && v&0xff == tagFree:
			if prev := t & idxLane; pos != 0 && (prev != lane || atomic.LoadUint64(&r.m.recordedW) != pos) {
				r.help(pos-1, recWriter, prev) // the claim we move past goes on record first
			}
			if atomic.CompareAndSwapUint64(r.tail(), t, (pos+1)<<8|lane) { // claims pos
				faultinject.At(faultinject.AfterClaimCAS)
				storeRelease64(slotRec(s), seqWord(pos, recWriter|lane)) // on record, for recovery
				storeRelease64(&r.m.recordedW, pos+1)                    // and this handle's next claim knows it
				faultinject.At(faultinject.AfterClaim)
				return s, pos, nil
			}
		case d < 0:
			// The slot still serves the previous turn: the ring is full,
			// unless that turn's producer (FREE: still unpublished) or
			// consumer (claimed, not released) died holding it.
			q := pos + uint64(d)
			if q != pos-r.capacity {
				return nil, 0, r.badState(pos, v)
			}
			switch v & 0xff {
			case tagFree:
				if r.tryRecover(s, v, q, recWriter) {
					continue
				}
			case tagFull, tagAbandoned:
				// Claimed by a consumer (head is past q), or not yet: ask
				// the head word only after many polls, or every full poll
				// would pull the consumers' hottest line across.
				if r.stuckFor(v^recReader) && int64(atomic.LoadUint64(r.head())>>8-q) > 0 && r.tryRecover(s, v, q, recReader) {
					continue
				}
			default:
				return nil, 0, r.badTag(pos, v)
			}
			if atomic.LoadUint64(r.tail()) == t {
				return nil, 0, ErrFull
			}
		case d == 0 && v&0xff != tagFull && v&0xff != tagAbandoned:
			return nil, 0, r.badTag(pos, v)
		}
		// Someone else claimed pos, or the slot has moved on: look again.
	}
	return nil, 0, r.stuckIndex("tail", atomic.LoadUint64(r.tail()))
}

// mpmcWrite fills a claimed slot and publishes it.
func (r *Ring) mpmcWrite(s unsafe.Pointer, pos uint64, msg []byte) {
	r.writePayload(s, msg)
	faultinject.At(faultinject.AfterCopy)
	storeRelease32(slotLen(s), uint32(len(msg))) // a plain MOV on amd64 (atomic.Store would be a full barrier); the publish below orders it
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
	s, pos, err := r.mpmcClaimWrite(lane)
	if err != nil {
		return err
	}
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
	n := 0
	for _, msg := range msgs {
		if len(msg) > r.slotSize {
			err = r.tooLarge(len(msg))
			break
		}
		s, pos, cerr := r.mpmcClaimWrite(lane)
		if cerr != nil {
			err = cerr
			break
		}
		r.mpmcWrite(s, pos, msg)
		n++
	}
	if n > 0 {
		r.wakeConsumers()
		return n, err
	}
	return 0, err
}

// mpmcClaimRead claims the next message for a consumer and returns its slot
// with the message length; the slot is the caller's until it releases it.
// limit >= 0 is the caller's buffer size: a longer message (or, with exact,
// one of another length) is left unclaimed and reported.
func (r *Ring) mpmcClaimRead(lane uint64, limit int, exact bool) (unsafe.Pointer, uint64, int, error) {
	for tries := 0; tries < spinLimit; tries++ {
		h := atomic.LoadUint64(r.head())
		pos := h >> 8
		s := r.slot(pos)
		v := atomic.LoadUint64(slotSeq(s)) // load-acquire: pairs with the producer's publish
		d := turnDiff(v, pos)
		tag := v & 0xff
		if d == 0 && (tag == tagFull || tag == tagAbandoned) {
			n := 0
			if tag == tagFull {
				n = int(atomic.LoadUint32(slotLen(s)))
				if atomic.LoadUint64(slotSeq(s)) != v {
					continue // taken meanwhile: n may be another message's
				}
				if n > r.slotSize {
					return nil, 0, 0, r.badLength(pos, n)
				}
				if limit >= 0 && (n > limit || exact && n != limit) {
					return nil, 0, n, r.sizeMismatch(n, limit, exact)
				}
			}
			if prev := h & idxLane; pos != 0 && (prev != lane || atomic.LoadUint64(&r.m.recordedR) != pos) {
				r.help(pos-1, recReader, prev) // the claim we move past goes on record first
			}
			if !atomic.CompareAndSwapUint64(r.head(), h, (pos+1)<<8|lane) { // claims the message
				continue
			}
			faultinject.At(faultinject.AfterReadCAS)
			storeRelease64(slotRec(s), seqWord(pos, recReader|lane)) // on record, for recovery
			storeRelease64(&r.m.recordedR, pos+1)                    // and this handle's next claim knows it
			faultinject.At(faultinject.AfterRead)
			if tag == tagAbandoned {
				r.mpmcRelease(s, pos) // its producer died writing it: nothing to read
				continue
			}
			return s, pos, n, nil
		}
		if d > 0 {
			continue // the head we read is stale
		}
		if tag != tagFree && tag != tagFull && tag != tagAbandoned {
			return nil, 0, 0, r.badTag(pos, v)
		}
		// No message at pos yet. The usual reason: none was sent since.
		// Decide that from this slot alone, as Vyukov does: reading the tail
		// word here would pull the producers' hottest line across on every
		// empty poll. Only a ring shut down, or a slot seen empty before,
		// needs the tail: was pos claimed, and by whom?
		q := pos + uint64(d)
		kind := uint64(recWriter)
		switch {
		case d == 0 && tag == tagFree:
		case q == pos-r.capacity && (tag == tagFull || tag == tagAbandoned):
			// The consumer of the previous turn has not released the slot
			// yet (so no producer can have written it): it is reading, or
			// dead.
			kind = recReader
		default:
			return nil, 0, 0, r.badState(pos, v)
		}
		if atomic.LoadUint32(r.closedWord()) != 0 {
			if t := atomic.LoadUint64(r.tail()); t>>8 == pos && t&idxClosed != 0 {
				return nil, 0, 0, io.EOF
			}
		}
		if kind == recReader {
			if r.tryRecover(s, v, q, kind) {
				continue
			}
		} else if r.stuckFor(v^kind) && atomic.LoadUint64(r.tail())>>8 != pos && r.tryRecover(s, v, pos, kind) {
			continue // claimed by a producer that died writing it
		}
		return nil, 0, 0, ErrEmpty
	}
	return nil, 0, 0, r.stuckIndex("head", atomic.LoadUint64(r.head()))
}

// mpmcRelease hands a slot the caller has read to the producer of its next
// turn.
func (r *Ring) mpmcRelease(s unsafe.Pointer, pos uint64) {
	faultinject.At(faultinject.AfterConsume)
	storeRelease64(slotSeq(s), seqWord(pos+r.capacity, tagFree)) // after the copy out
}

// mpmcTryPushEntry and mpmcTryPopEntry are TryPush and TryPop on an MPMC
// ring, announced for Close.
func (r *Ring) mpmcTryPushEntry(msg []byte) error {
	if err := r.enter(); err != nil {
		return err
	}
	err := r.mpmcTryPush(msg)
	r.exit()
	return err
}

func (r *Ring) mpmcTryPopEntry(buf []byte, exact bool) (int, error) {
	if err := r.enter(); err != nil {
		return 0, err
	}
	n, err := r.mpmcTryPop(buf, exact)
	r.exit()
	return n, err
}

func (r *Ring) mpmcTryPop(buf []byte, exact bool) (int, error) {
	lane, err := r.lane()
	if err != nil {
		return 0, err
	}
	r.markRole(lane, roleConsumes)
	s, pos, n, err := r.mpmcClaimRead(lane, len(buf), exact)
	if err != nil {
		return n, err
	}
	r.readPayload(buf, s, n)
	r.mpmcRelease(s, pos)
	r.wakeProducers()
	return n, nil
}

// mpmcTryConsume hands fn up to max messages, each claimed before fn sees
// it. Claims are final in an MPMC ring (other consumers may already have
// claimed the positions after it), so a message fn refuses is pushed again,
// at the tail, if there is room: it changes places, but is not lost.
func (r *Ring) mpmcTryConsume(max int, fn visitor) (int, error) {
	lane, err := r.lane()
	if err != nil {
		return 0, err
	}
	r.markRole(lane, roleConsumes)
	n := 0
	var held unsafe.Pointer // a slot fn is looking at
	var heldPos uint64
	defer func() {
		if held != nil { // fn panicked: do not leave the slot claimed by a live process for ever
			r.inFn.Add(-1)
			r.mpmcRelease(held, heldPos)
		}
	}()
	for n < max {
		s, pos, l, cerr := r.mpmcClaimRead(lane, -1, false)
		if cerr != nil {
			err = cerr
			break
		}
		held, heldPos = s, pos
		r.inFn.Add(1)
		ferr := fn.call(r.payload(s, l))
		r.inFn.Add(-1)
		if ferr != nil {
			if perr := r.mpmcTryPush(r.payload(s, l)); perr != nil {
				ferr = fmt.Errorf("%w; and the %d-byte message it refused could not be queued again: %w", ferr, l, perr)
			}
		}
		r.mpmcRelease(s, pos)
		held = nil
		if ferr != nil {
			r.wakeProducers()
			err = ferr
			break
		}
		n++
		if atomic.LoadUint32(&r.life)&lifeClosing != 0 {
			break
		}
	}
	if n > 0 {
		r.wakeProducers()
	}
	if n > 0 && (err == ErrEmpty || err == io.EOF) {
		err = nil // the next call reports them
	}
	return n, err
}

// mpmcShutdown sets the closed bit in tail: no claim can follow it.
func (r *Ring) mpmcShutdown() {
	for {
		t := atomic.LoadUint64(r.tail())
		if t&idxClosed != 0 || atomic.CompareAndSwapUint64(r.tail(), t, t|idxClosed) {
			return
		}
	}
}
