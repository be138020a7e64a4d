package ring

import (
	"context"
	"sync/atomic"

	"github.com/shmring/shmring/internal/faultinject"
)

// TryPush copies msg into the ring if a slot is free. It returns nil,
// ErrFull (nothing written), ErrTooLarge, or ErrClosed after Shutdown.
// On an SPSC ring the first push claims the producer role for this handle
// (ErrBusy if another live process or handle holds it).
func (r *Ring) TryPush(msg []byte) error {
	// The SPSC fast path, in line for small messages: no call (so nothing
	// saved to the stack: a producer waiting for cache lines is limited by
	// how many stores it has in flight), no read-modify-write, stores to
	// shared memory only for the payload and length and the sequence word
	// that publishes them. See spsc.go.
	p := &r.p
	n := len(msg)
	if r.cfg.Kind != SPSC {
		return r.mpmcTryPush(msg)
	}
	if !p.held || n > r.slotSize || p.pos-p.head >= r.capacity ||
		faultinject.Armed() || atomic.LoadUint32(r.closedWord()) != 0 {
		return r.spscPushSlow(msg)
	}
	pos := p.pos
	s := r.slot(pos)
	if n > smallPayload {
		return r.spscPushCopy(s, msg) // a call in tail position: nothing to save around it
	}
	r.writeSmall(s, msg)
	*r.slotLen(s) = uint32(n)
	storeRelease32(slotSeq32(s), spscFull(pos)) // publishes the message to the consumer
	pos++
	p.pos = pos
	if pos&(r.relEvery-1) == 0 {
		storeRelease64(r.tail(), pos) // now and then: only Len and a successor read it
	}
	r.wakeConsumers()
	return nil
}

// Push copies msg into the ring, waiting for a free slot until ctx is done.
// It returns ctx's error if ctx ends first, ErrPeerDead if the SPSC consumer
// process died while the ring was full, and otherwise what TryPush returns.
func (r *Ring) Push(ctx context.Context, msg []byte) error {
	if err := r.TryPush(msg); err != ErrFull {
		return err
	}
	return r.pushWait(ctx, msg)
}

func (r *Ring) pushWait(ctx context.Context, msg []byte) error {
	var err error
	if werr := r.await(ctx, true, func() bool {
		err = r.TryPush(msg)
		return err != ErrFull
	}); werr != nil {
		return werr
	}
	return err
}

// TryPop copies the next message into buf and returns its length. It
// returns ErrEmpty when no message is queued, io.EOF when the ring was shut
// down and every message has been delivered, and io.ErrShortBuffer, with the
// message's length, when buf is too small: that message stays in the ring.
// On an SPSC ring the first pop claims the consumer role for this handle.
func (r *Ring) TryPop(buf []byte) (int, error) {
	// The SPSC fast path, in line for small messages: one load-acquire of
	// the slot it must read anyway, the copy, one store of head, and no
	// call but the occasional release. See spsc.go.
	if r.cfg.Kind != SPSC {
		return r.mpmcTryPop(buf, false)
	}
	c := &r.c
	if !c.held || faultinject.Armed() {
		return r.spscPopSlow(buf, false)
	}
	pos := c.pos
	s := r.slot(pos)
	if atomic.LoadUint32(slotSeq32(s)) != spscFull(pos) { // load-acquire: pairs with the producer's publish
		if c.released != pos || atomic.LoadUint32(r.closedWord()) != 0 {
			return r.spscPopSlow(buf, false) // slots to give back first, or the end of the stream
		}
		return 0, ErrEmpty // a waiting consumer polls here: keep it cheap
	}
	n := int(*r.slotLen(s)) // after the sequence word: this message's length
	if n > len(buf) || n > r.slotSize {
		return r.spscPopSlow(buf, false)
	}
	if n > smallPayload {
		return r.spscPopCopy(buf, s, n) // a call in tail position
	}
	r.readSmall(buf, s, n)
	pos++
	c.pos = pos
	storeRelease64(r.head(), pos) // consumed: for Len and for a successor
	if pos-c.released >= r.relEvery {
		return r.spscReleased(n)
	}
	return n, nil
}

// Pop copies the next message into buf, waiting for one until ctx is done.
// Besides what TryPop returns, it returns ctx's error, or ErrPeerDead if the
// SPSC producer process died and left the ring empty.
func (r *Ring) Pop(ctx context.Context, buf []byte) (int, error) {
	n, err := r.TryPop(buf)
	if err != ErrEmpty {
		return n, err
	}
	return r.popWait(ctx, buf, false)
}

func (r *Ring) popWait(ctx context.Context, buf []byte, exact bool) (n int, err error) {
	try := func() bool {
		if r.cfg.Kind == SPSC {
			n, err = r.spscPopSlow(buf, exact)
		} else {
			n, err = r.mpmcTryPop(buf, exact)
		}
		return err != ErrEmpty
	}
	if werr := r.await(ctx, false, try); werr != nil {
		return 0, werr
	}
	return n, err
}

// TryPushBatch copies as many of msgs, in order, as there are free slots
// for, and returns how many it wrote. It publishes them together: on an SPSC
// ring the tail and the check for sleeping consumers happen once per batch,
// not once per message. The error tells why it stopped early: ErrFull,
// ErrTooLarge (msgs[n] does not fit a slot), ErrClosed.
func (r *Ring) TryPushBatch(msgs [][]byte) (int, error) {
	if r.cfg.Kind == SPSC {
		return r.spscTryPushBatch(msgs)
	}
	return r.mpmcTryPushBatch(msgs)
}

// PushBatch copies all of msgs into the ring, in order, waiting for room
// as needed, until ctx is done. It returns how many it wrote.
func (r *Ring) PushBatch(ctx context.Context, msgs [][]byte) (int, error) {
	done := 0
	var err error
	try := func() bool {
		var n int
		n, err = r.TryPushBatch(msgs[done:])
		done += n
		return err != ErrFull || done == len(msgs)
	}
	if !try() {
		if werr := r.await(ctx, true, try); werr != nil {
			return done, werr
		}
	}
	return done, err
}

// TryPopFunc calls fn with up to max queued messages, in order, and returns
// how many. fn gets a view into the ring's memory: zero copies, valid only
// until fn returns (copy what you keep). On an SPSC ring the slots are
// released to the producer together, after the last call. If no message is
// queued it returns ErrEmpty, or io.EOF after Shutdown.
func (r *Ring) TryPopFunc(max int, fn func(msg []byte)) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	if r.cfg.Kind == SPSC {
		return r.spscTryPopFunc(max, fn)
	}
	return r.mpmcTryPopFunc(max, fn)
}

// PopFunc is TryPopFunc that waits, until ctx is done, for at least one
// message.
func (r *Ring) PopFunc(ctx context.Context, max int, fn func(msg []byte)) (int, error) {
	n, err := r.TryPopFunc(max, fn)
	if err != ErrEmpty {
		return n, err
	}
	if werr := r.await(ctx, false, func() bool {
		n, err = r.TryPopFunc(max, fn)
		return err != ErrEmpty
	}); werr != nil {
		return 0, werr
	}
	return n, err
}
