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
	if r.cfg.Kind != SPSC {
		if r.cfg.Kind == SPSCBytes {
			return r.sbTryPush(msg)
		}
		if r.cfg.Kind.bytes() {
			return r.bTryPushEntry(msg)
		}
		return r.mpmcTryPushEntry(msg)
	}
	// The SPSC fast path, in line for small messages: a copy of spscPush's
	// common case (spsc.go). No call (so nothing saved to the stack: a
	// producer waiting for cache lines is limited by how many stores it has
	// in flight), no read-modify-write; the stores to shared memory are the
	// payload, its length and tail.
	p := &r.p
	n := len(msg)
	announceBusy(&p.busy) // for Close (close.go)
	if atomic.LoadUint32(&r.life) != 0 || !p.held || p.reserved || n > r.slotSize || p.pos-p.head >= r.capacity ||
		atomic.LoadUint32(r.closedWord()) != 0 {
		return r.spscPushSlow(msg)
	}
	pos := p.pos
	s := r.slot(pos)
	if n > smallPayload {
		return r.spscPushCopy(s, msg) // a call in tail position: nothing to save around it
	}
	r.writeSmall(s, msg)
	faultinject.At(faultinject.AfterCopy)
	*r.spscLen(pos) = uint32(n)
	faultinject.At(faultinject.BeforePublish)
	pos++
	p.pos = pos
	storeRelease64(r.tail(), pos) // publishes the message to the consumer
	r.wakeConsumers()
	storeRelease32(&p.busy, 0)
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
	if err := r.enterPush(); err != nil {
		return err
	}
	defer r.exitPush()
	var err error
	if werr := r.await(ctx, true, func() bool {
		switch {
		case r.cfg.Kind == SPSC:
			err = r.spscPush(msg)
		case r.cfg.Kind.bytes():
			err = r.bTryPush(msg)
		default:
			err = r.mpmcTryPush(msg)
		}
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
	if r.cfg.Kind != SPSC {
		if r.cfg.Kind == SPSCBytes {
			return r.sbTryPop(buf)
		}
		if r.cfg.Kind.bytes() {
			return r.bTryPopEntry(buf, false)
		}
		return r.mpmcTryPopEntry(buf, false)
	}
	// The SPSC fast path, in line for small messages: a copy of spscPop's
	// common case (spsc.go). The load of tail only when the cached copy says
	// empty, the copy, one store of head, and no call.
	c := &r.c
	announceBusy(&c.busy) // for Close (close.go)
	if atomic.LoadUint32(&r.life) != 0 || !c.held {
		return r.spscPopSlow(buf, false)
	}
	pos := c.pos
	if pos == c.tail {
		c.tail = atomic.LoadUint64(r.tail()) // load-acquire: pairs with the producer's publish
		if pos == c.tail {
			if atomic.LoadUint32(r.closedWord()) != 0 {
				return r.spscPopSlow(buf, false) // the end of the stream?
			}
			storeRelease32(&c.busy, 0)
			return 0, ErrEmpty // a waiting consumer polls here: keep it cheap
		}
	}
	n := int(*r.spscLen(pos)) // below tail: this message's length
	if n > len(buf) || n > r.slotSize || c.tail-pos > r.capacity {
		return r.spscPopSlow(buf, false)
	}
	s := r.slot(pos)
	if n > smallPayload {
		return r.spscPopCopy(buf, s, n) // a call in tail position
	}
	r.readSmall(buf, s, n)
	faultinject.At(faultinject.AfterConsume)
	pos++
	c.pos = pos
	storeRelease64(r.head(), pos) // frees the slot for the producer at once
	r.wakeProducers()
	storeRelease32(&c.busy, 0)
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

// tryPopExact is TryPop for the typed view: a message whose length is not
// len(buf) stays in the ring.
func (r *Ring) tryPopExact(buf []byte) error {
	if r.cfg.Kind.bytes() {
		_, err := r.bTryPopEntry(buf, true)
		return err
	}
	if r.cfg.Kind != SPSC {
		_, err := r.mpmcTryPopEntry(buf, true)
		return err
	}
	if err := r.enterSide(&r.c.busy); err != nil {
		return err
	}
	defer r.exitSide(&r.c.busy)
	_, err := r.spscPop(buf, true)
	return err
}

func (r *Ring) popWait(ctx context.Context, buf []byte, exact bool) (n int, err error) {
	if err := r.enterPop(); err != nil {
		return 0, err
	}
	defer r.exitPop()
	try := func() bool {
		switch {
		case r.cfg.Kind == SPSC:
			n, err = r.spscPop(buf, exact)
		case r.cfg.Kind.bytes():
			n, err = r.bPop(buf, exact)
		default:
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
	if err := r.enterPush(); err != nil {
		return 0, err
	}
	defer r.exitPush()
	return r.tryPushBatch(msgs)
}

func (r *Ring) tryPushBatch(msgs [][]byte) (int, error) {
	if r.cfg.Kind == SPSC {
		return r.spscTryPushBatch(msgs)
	}
	if r.cfg.Kind.bytes() {
		return r.bTryPushBatch(msgs)
	}
	return r.mpmcTryPushBatch(msgs)
}

// PushBatch copies all of msgs into the ring, in order, waiting for room
// as needed, until ctx is done. It returns how many it wrote.
func (r *Ring) PushBatch(ctx context.Context, msgs [][]byte) (int, error) {
	if err := r.enterPush(); err != nil {
		return 0, err
	}
	defer r.exitPush()
	done := 0
	var err error
	try := func() bool {
		var n int
		n, err = r.tryPushBatch(msgs[done:])
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
	return r.TryConsume(max, func(msg []byte) error { fn(msg); return nil })
}

// PopFunc is TryPopFunc that waits, until ctx is done, for at least one
// message.
func (r *Ring) PopFunc(ctx context.Context, max int, fn func(msg []byte)) (int, error) {
	return r.Consume(ctx, max, func(msg []byte) error { fn(msg); return nil })
}

// TryConsume is TryPopFunc whose fn may refuse a message: TryConsume stops
// at the first message for which fn returns an error and returns the
// messages accepted before it with fn's error. On an SPSC ring the refused
// message stays in the ring, first in line: a program that writes each
// message somewhere (a file, a socket) loses none when that write fails.
// On an MPMC ring claims are final (other consumers may have claimed the
// messages after it), so the refused message is pushed again at the tail:
// it changes places; on a full ring, or one shut down, it cannot be, and
// the error says that it was lost.
func (r *Ring) TryConsume(max int, fn func(msg []byte) error) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	if err := r.enterPop(); err != nil {
		return 0, err
	}
	defer r.exitPop()
	return r.tryConsume(max, fn)
}

func (r *Ring) tryConsume(max int, fn func(msg []byte) error) (int, error) {
	if r.cfg.Kind == SPSC {
		return r.spscTryConsume(max, fn)
	}
	if r.cfg.Kind.bytes() {
		return r.bTryConsume(max, fn)
	}
	return r.mpmcTryConsume(max, fn)
}

// Consume is TryConsume that waits, until ctx is done, for at least one
// message.
func (r *Ring) Consume(ctx context.Context, max int, fn func(msg []byte) error) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	if err := r.enterPop(); err != nil {
		return 0, err
	}
	defer r.exitPop()
	n, err := r.tryConsume(max, fn)
	if err != ErrEmpty {
		return n, err
	}
	if werr := r.await(ctx, false, func() bool {
		n, err = r.tryConsume(max, fn)
		return err != ErrEmpty
	}); werr != nil {
		return 0, werr
	}
	return n, err
}

// enterPush and enterPop announce an operation of one side (see
// close.go); exitPush and exitPop end it.
func (r *Ring) enterPush() error {
	if r.cfg.Kind.oneProducer() {
		return r.enterSide(&r.p.busy)
	}
	return r.enter()
}

func (r *Ring) exitPush() {
	if r.cfg.Kind.oneProducer() {
		r.exitSide(&r.p.busy)
		return
	}
	r.exit()
}

func (r *Ring) enterPop() error {
	if r.cfg.Kind.oneConsumer() {
		return r.enterSide(&r.c.busy)
	}
	return r.enter()
}

func (r *Ring) exitPop() {
	if r.cfg.Kind.oneConsumer() {
		r.exitSide(&r.c.busy)
		return
	}
	r.exit()
}
