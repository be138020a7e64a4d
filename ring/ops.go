package ring

import (
	"context"
	"sync/atomic"
	"unsafe"

	"github.com/shmring/shmring/internal/faultinject"
)

// TryPush copies msg into the ring if a slot is free. It returns nil,
// ErrFull (nothing written), ErrTooLarge, or ErrClosed after Shutdown.
// On an SPSC ring the first push claims the producer role for this handle
// (ErrBusy if another live process or handle holds it).
func (r *Ring) TryPush(msg []byte) error { return r.push(msg, false, nil) }

// Push copies msg into the ring, waiting for a free slot until ctx is done.
// It returns ctx's error if ctx ends first, ErrPeerDead if the SPSC consumer
// process died while the ring was full, and otherwise what TryPush returns.
func (r *Ring) Push(ctx context.Context, msg []byte) error { return r.push(msg, true, ctx) }

// push is TryPush, and Push with wait. Both inline to a call of it, so that
// the SPSC fast path below runs with nothing saved to the stack: a producer
// whose store of tail waits for the consumer's core to give the line back
// can go on only while its store buffer has room, and every spilled
// register or return address takes a place in it (on this path, the stores
// are the payload, tail and the handle's busy word and position; the length
// only when it changes).
func (r *Ring) push(msg []byte, wait bool, ctx context.Context) error {
	// The fast paths of SPSC and SPSCBytes: the common case of spscPush
	// (spsc.go) and of sbReserve and sbPublish (bytes.go), in line. No call,
	// no read-modify-write. Everything else takes one way out, a call in
	// tail position (nothing to save around it).
	p := &r.p
	n := len(msg)
	pos := p.pos
	switch r.cfg.Kind {
	case SPSC:
		if !r.spscEnter(&p.busy) || !p.held || p.reserved || !inWords(n) || n > r.slotSize ||
			pos-p.head >= r.capacity || atomic.LoadUint32(r.closedWord()) != 0 {
			return r.pushSlow(msg, wait, ctx)
		}
		moveWords(unsafe.Add(r.slot(pos), r.hdr), unsafe.Pointer(unsafe.SliceData(msg)), n)
		faultinject.At(faultinject.AfterCopy)
		r.spscSetLen(pos, n)
		pos++
	case SPSCBytes:
		rec := uint64(bHeader+n+7) / 8
		off := pos & r.mask
		if !r.spscEnter(&p.busy) || !p.held || p.reserved || !inWords(n) || n > r.slotSize || off+rec > r.capacity ||
			pos+rec-p.head > r.capacity || atomic.LoadUint32(r.closedWord()) != 0 {
			return r.pushSlow(msg, wait, ctx)
		}
		dst := unsafe.Add(r.data, uintptr(off)*8)
		moveWords(unsafe.Add(dst, bHeader), unsafe.Pointer(unsafe.SliceData(msg)), n)
		faultinject.At(faultinject.AfterCopy)
		*(*uint64)(dst) = bWord(bMessage, uint32(n))
		pos += rec
	default:
		return r.pushSlow(msg, wait, ctx)
	}
	faultinject.At(faultinject.BeforePublish)
	p.pos = pos
	storeRelease64(r.tail(), pos) // publishes the message to the consumer
	r.wakeConsumers()
	storeRelease32(&p.busy, 0)
	return nil
}

// pushSlow is push's way out of its fast path, for every case: another
// kind, or an SPSC or SPSCBytes push (announced in r.p.busy) that is not
// the common one.
func (r *Ring) pushSlow(msg []byte, wait bool, ctx context.Context) error {
	var err error
	switch r.cfg.Kind {
	case SPSC, SPSCBytes:
		if l := atomic.LoadUint32(&r.life); l != 0 {
			r.exitSide(&r.p.busy)
			return r.lifeError(l)
		}
		if r.cfg.Kind == SPSC {
			err = r.spscPush(msg)
		} else {
			err = r.sbPush(msg)
		}
		r.exitSide(&r.p.busy)
	case MPSCBytes:
		err = r.bTryPushEntry(msg)
	default:
		err = r.mpmcTryPushEntry(msg)
	}
	if err != ErrFull || !wait {
		return err
	}
	return r.pushWait(ctx, msg)
}

// spscEnter announces an SPSC push or pop in busy (for Close, close.go)
// and reports whether the handle is open.
func (r *Ring) spscEnter(busy *uint32) bool {
	announceBusy(busy)
	return atomic.LoadUint32(&r.life) == 0
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
func (r *Ring) TryPop(buf []byte) (int, error) { return r.pop(buf, false, nil) }

// Pop copies the next message into buf, waiting for one until ctx is done.
// Besides what TryPop returns, it returns ctx's error, or ErrPeerDead if the
// SPSC producer process died and left the ring empty.
func (r *Ring) Pop(ctx context.Context, buf []byte) (int, error) { return r.pop(buf, true, ctx) }

// pop is TryPop, and Pop with wait; like push, with its SPSC fast path in
// line and one way out.
func (r *Ring) pop(buf []byte, wait bool, ctx context.Context) (int, error) {
	// The fast paths of SPSC and SPSCBytes: the common case of spscPop
	// (spsc.go) and of bNext and bPop (bytes.go). The load of tail only
	// when the cached copy says empty, the copy, one store of head, and no
	// call.
	c := &r.c
	kind := r.cfg.Kind
	if kind != SPSC && kind != SPSCBytes || !r.spscEnter(&c.busy) || !c.held {
		return r.popSlow(buf, wait, ctx)
	}
	pos := c.pos
	if pos == c.tail {
		c.tail = atomic.LoadUint64(r.tail()) // load-acquire: pairs with the producer's publish
		if pos == c.tail {
			if wait || atomic.LoadUint32(r.closedWord()) != 0 {
				return r.popSlow(buf, wait, ctx) // wait, or the end of the stream?
			}
			storeRelease32(&c.busy, 0)
			return 0, ErrEmpty // a consumer polling with TryPop comes here: keep it cheap
		}
	}
	var n int
	if kind == SPSC {
		n = int(*r.spscLen(pos)) // below tail: this message's length
		if !inWords(n) || n > len(buf) || n > r.slotSize || c.tail-pos > r.capacity {
			return r.popSlow(buf, wait, ctx)
		}
		moveWords(unsafe.Pointer(unsafe.SliceData(buf)), unsafe.Add(r.slot(pos), r.hdr), n)
		pos++
	} else {
		off := pos & r.mask
		src := unsafe.Add(r.data, uintptr(off)*8)
		h := *(*uint64)(src) // below tail: ordered by its load-acquire
		n = int(bLen(h))
		rec := uint64(bHeader+n+7) / 8
		if bState(h) != bMessage || !inWords(n) || n > len(buf) || n > r.slotSize || off+rec > r.capacity ||
			c.tail-pos < rec || c.tail-pos > r.capacity {
			return r.popSlow(buf, wait, ctx) // padding, a short buffer, or something to report
		}
		moveWords(unsafe.Pointer(unsafe.SliceData(buf)), unsafe.Add(src, bHeader), n)
		pos += rec
	}
	faultinject.At(faultinject.AfterConsume)
	c.pos = pos
	storeRelease64(r.head(), pos) // frees the room for the producer at once
	r.wakeProducers()
	storeRelease32(&c.busy, 0)
	return n, nil
}

// popSlow is pop's way out of its fast path, for every case: another kind,
// or an SPSC or SPSCBytes pop (announced in r.c.busy) that is not the
// common one.
func (r *Ring) popSlow(buf []byte, wait bool, ctx context.Context) (int, error) {
	var n int
	var err error
	switch r.cfg.Kind {
	case SPSC, SPSCBytes:
		if l := atomic.LoadUint32(&r.life); l != 0 {
			r.exitSide(&r.c.busy)
			return 0, r.lifeError(l)
		}
		if r.cfg.Kind == SPSC {
			n, err = r.spscPop(buf, false)
		} else {
			n, err = r.bPop(buf, false)
		}
		r.exitSide(&r.c.busy)
	case MPSCBytes:
		n, err = r.bTryPopEntry(buf, false)
	default:
		n, err = r.mpmcTryPopEntry(buf, false)
	}
	if err != ErrEmpty || !wait {
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
	return r.tryConsumeEntry(max, visitor{fn: fn})
}

// PopFunc is TryPopFunc that waits, until ctx is done, for at least one
// message.
func (r *Ring) PopFunc(ctx context.Context, max int, fn func(msg []byte)) (int, error) {
	return r.consume(ctx, max, visitor{fn: fn})
}

// visitor is the fn of TryPopFunc and PopFunc, or of TryConsume and
// Consume: one call per message, not a closure around the other.
type visitor struct {
	fn  func(msg []byte)
	ref func(msg []byte) error
}

func (v visitor) call(msg []byte) error {
	if v.fn != nil {
		v.fn(msg)
		return nil
	}
	return v.ref(msg)
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
	return r.tryConsumeEntry(max, visitor{ref: fn})
}

func (r *Ring) tryConsumeEntry(max int, fn visitor) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	if err := r.enterPop(); err != nil {
		return 0, err
	}
	defer r.exitPop()
	return r.tryConsume(max, fn)
}

func (r *Ring) tryConsume(max int, fn visitor) (int, error) {
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
	return r.consume(ctx, max, visitor{ref: fn})
}

func (r *Ring) consume(ctx context.Context, max int, fn visitor) (int, error) {
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
