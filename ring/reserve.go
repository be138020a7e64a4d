package ring

// In-place writes: Reserve hands out a writable view of room in the ring,
// Commit publishes what was written there, Abort gives the room back.
//
// A reservation is an operation in flight that lasts from Reserve to Commit
// or Abort: it counts in r.ops, so Close never unmaps the memory under a
// view being written; Close does not wait for it either (the writer may be
// the goroutine calling Close): the Commit or Abort that ends it finishes
// the close, and gives the room back instead of publishing.
//
// What a reservation holds, by kind:
//   - SPSC: the slot at the producer's position; the producer makes no other
//     push meanwhile (ErrReserved). Abort: nothing was visible.
//   - MPMC: a claimed slot (on record, like a push's); Abort marks it
//     ABANDONED, which consumers skip. Other goroutines push meanwhile.
//   - SPSCBytes: room for the record at the producer's position; Commit
//     shorter than reserved makes a shorter record. Abort: nothing visible.
//   - MPSCBytes: a claimed record (bytes.go); Commit shorter pads the rest,
//     Abort turns it all into padding.

import (
	"context"
	"errors"
	"sync/atomic"
	"unsafe"
)

var (
	// ErrReserved: Reserve while this handle has a reservation open, or, on
	// a one-producer kind, a push while it has.
	ErrReserved = errors.New("ring: a reservation is open on this handle: Commit or Abort it first")
	// ErrNotReserved: Commit or Abort without a reservation open.
	ErrNotReserved = errors.New("ring: no reservation is open on this handle")
)

// Reservation states.
const (
	resNone = iota
	resBusy // being made, committed or aborted
	resOpen
)

// reservation is the in-place write a handle has open.
type reservation struct {
	state atomic.Uint32
	n     int            // bytes reserved
	pos   uint64         // fixed kinds: the slot's position; byte kinds: where the record goes
	start uint64         // MPSCBytes: where the claim starts
	need  uint64         // MPSCBytes: units it takes
	slot  unsafe.Pointer // MPMC: the claimed slot
}

// TryReserve returns a writable view of n bytes of room in the ring, for
// the caller to fill in place and publish with Commit (or give back with
// Abort). It fails like TryPush: ErrFull (nothing reserved), ErrTooLarge,
// ErrClosed; and ErrReserved if this handle has a reservation open already.
// The view is valid until Commit or Abort; nothing of it is visible to
// consumers before Commit.
func (r *Ring) TryReserve(n int) ([]byte, error) {
	if err := r.enterPush(); err != nil {
		return nil, err
	}
	view, err := r.tryReserve(n)
	r.exitPush()
	return view, err
}

// Reserve is TryReserve that waits for room until ctx is done, like Push.
func (r *Ring) Reserve(ctx context.Context, n int) ([]byte, error) {
	if err := r.enterPush(); err != nil {
		return nil, err
	}
	defer r.exitPush()
	view, err := r.tryReserve(n)
	if err != ErrFull {
		return view, err
	}
	if werr := r.await(ctx, true, func() bool {
		view, err = r.tryReserve(n)
		return err != ErrFull
	}); werr != nil {
		return nil, werr
	}
	return view, err
}

// tryReserve is TryReserve once announced.
func (r *Ring) tryReserve(n int) ([]byte, error) {
	res := &r.res
	if !res.state.CompareAndSwap(resNone, resBusy) {
		return nil, ErrReserved
	}
	view, err := r.reserve(n)
	if err != nil {
		res.state.Store(resNone)
		return nil, err
	}
	r.ops.Add(1) // the reservation is in flight until Commit or Abort
	r.reserving.Add(1)
	if r.cfg.Kind.oneProducer() {
		r.p.reserved = true
	}
	res.state.Store(resOpen)
	return view, nil
}

func (r *Ring) reserve(n int) ([]byte, error) {
	if n < 0 {
		return nil, wrap(ErrInvalidConfig, "reservation of %d bytes", n)
	}
	res := &r.res
	res.n = n
	switch r.cfg.Kind {
	case SPSC:
		p := &r.p
		if !p.held {
			if err := r.claimProducer(); err != nil {
				return nil, err
			}
		}
		if n > r.slotSize {
			return nil, r.tooLarge(n)
		}
		if atomic.LoadUint32(r.closedWord()) != 0 {
			return nil, ErrClosed
		}
		if err := r.spscRoom(); err != nil {
			return nil, err
		}
		res.pos = p.pos
		return r.payload(r.slot(p.pos), n), nil
	case MPMC:
		lane, err := r.lane()
		if err != nil {
			return nil, err
		}
		if n > r.slotSize {
			return nil, r.tooLarge(n)
		}
		r.markRole(lane, roleProduces)
		s, pos, err := r.mpmcClaimWrite(lane)
		if err != nil {
			return nil, err
		}
		res.slot, res.pos = s, pos
		if h := r.lives; h != nil { // a handle dropped with the reservation open abandons the slot
			h.resSlot, h.resPos = s, pos
			h.resOpen.Store(true)
		}
		return r.payload(s, n), nil
	case SPSCBytes:
		at, err := r.sbReserve(n)
		if err != nil {
			return nil, err
		}
		res.pos = at
		return r.bPayload(at, n), nil
	default:
		at, start, need, err := r.mbClaim(n)
		if err != nil {
			return nil, err
		}
		res.pos, res.start, res.need = at, start, need
		return r.bPayload(at, n), nil
	}
}

// Commit publishes the first n bytes of the open reservation as a message
// (n may be less than reserved) and ends the reservation. If the handle was
// closed meanwhile the room is given back instead, and Commit returns an
// error matching os.ErrClosed.
func (r *Ring) Commit(n int) error {
	res := &r.res
	if !res.state.CompareAndSwap(resOpen, resBusy) {
		return ErrNotReserved
	}
	if n < 0 || n > res.n {
		res.state.Store(resOpen)
		return wrap(ErrTooLarge, "commit of %d bytes of a %d-byte reservation", n, res.n)
	}
	if l := atomic.LoadUint32(&r.life); l != 0 {
		if l&lifeBroken == 0 { // a broken handle touches nothing: its memory may be gone
			r.abort()
		}
		r.endReservation()
		return r.lifeError(l)
	}
	if r.cfg.Kind.oneProducer() && atomic.LoadUint32(r.closedWord()) != 0 {
		// Shut down while the reservation was open: consumers may have
		// seen the end of the stream already; nothing follows it.
		r.endReservation()
		return ErrClosed
	}
	switch r.cfg.Kind {
	case SPSC:
		r.spscSetLen(res.pos, n)
		r.spscPublish(res.pos + 1)
	case MPMC:
		storeRelease32(slotLen(res.slot), uint32(n))
		storeRelease64(slotSeq(res.slot), seqWord(res.pos, tagFull)) // publishes the message
		r.wakeConsumers()
	case SPSCBytes:
		r.sbPublish(res.pos, n)
	default:
		r.mbCommit(res.pos, res.start, res.need, n)
	}
	r.endReservation()
	return nil
}

// Abort gives the open reservation back: nothing of it is delivered.
func (r *Ring) Abort() error {
	res := &r.res
	if !res.state.CompareAndSwap(resOpen, resBusy) {
		return ErrNotReserved
	}
	if atomic.LoadUint32(&r.life)&lifeBroken == 0 {
		r.abort()
	}
	r.endReservation()
	return nil
}

// abort undoes the open reservation (state resBusy).
func (r *Ring) abort() {
	res := &r.res
	switch r.cfg.Kind {
	case MPMC:
		storeRelease64(slotSeq(res.slot), seqWord(res.pos, tagAbandoned)) // consumers skip it
		r.wakeConsumers()
	case MPSCBytes:
		r.mbAbort(res.start, res.need)
	}
	// SPSC kinds: nothing was published; the producer's position is unchanged.
}

func (r *Ring) endReservation() {
	if r.cfg.Kind.oneProducer() {
		r.p.reserved = false
	}
	if h := r.lives; h != nil {
		h.resOpen.Store(false)
	}
	r.res.slot = nil
	r.res.state.Store(resNone)
	r.reserving.Add(-1)
	r.exit()
}
