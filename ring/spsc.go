package ring

// SPSC protocol: one producer, one consumer, no read-modify-write: an index
// ring. The fast paths of push and pop are copies of spscPush and
// spscPop kept in line in ops.go (a call would make them save registers on
// the stack); each names the other, and a change to one is a change to both.
//
// Invariants:
//   - Positions only grow. The producer owns tail and the slots in
//     [tail, head+capacity); the consumer owns head and the slots in
//     [head, tail). Each keeps its position and a cached copy of the
//     other's in process-local state.
//   - The producer publishes a message by storing tail = pos+1
//     (store-release), after its payload and its length. The consumer
//     reads tail only when its cached copy says the ring is empty, and then
//     reads every message below it without touching the tail line again.
//   - The consumer frees a slot by storing head = pos+1 (store-release)
//     after copying the message out, every message: capacity is exact, a
//     producer that finds the ring full finds room as soon as one pop
//     returns. The producer reads head only when its cached copy says the
//     ring is full.
//   - After publishing (producer) or freeing (consumer), each side loads the
//     other side's waiter mask and makes a system call only if it is not
//     zero (see wait.go for why a plain load suffices).
//   - A process that takes a role over continues from the word its
//     predecessor stored last: tail and head are exact. A producer killed
//     before its store of tail leaves nothing visible; a consumer killed
//     before its store of head leaves that message to its successor.

import (
	"io"
	"sync/atomic"
	"unsafe"

	"github.com/shmring/shmring/internal/faultinject"
)

// claimProducer takes the SPSC producer role for this handle and finds the
// position to continue from.
func (r *Ring) claimProducer() error {
	if err := r.usable(); err != nil {
		return err
	}
	if h := r.claimRecord(recProducer, roleProduces, nil); h != 0 {
		return busyError("producer role", h)
	}
	pos := atomic.LoadUint64(r.tail())
	head := atomic.LoadUint64(r.head())
	if pos-head > r.capacity {
		r.releaseRecord(recProducer)
		return wrap(ErrCorrupt, "producer takeover: tail %d and head %d are %d apart, more than the capacity %d",
			pos, head, pos-head, r.cfg.Capacity)
	}
	r.p.pos, r.p.head, r.p.held = pos, head, true
	return nil
}

// claimConsumer takes the SPSC consumer role and continues from head: a
// consumer that died after copying a message out but before storing head
// leaves that message to its successor.
func (r *Ring) claimConsumer() error {
	if err := r.usable(); err != nil {
		return err
	}
	if h := r.claimRecord(recConsumer, roleConsumes, nil); h != 0 {
		return busyError("consumer role", h)
	}
	pos := atomic.LoadUint64(r.head())
	r.c.pos, r.c.tail, r.c.held = pos, pos, true
	return nil
}

// spscPush is TryPush on an SPSC ring once announced, for every case: it
// takes the role, reports errors, reloads head when the cached one says the
// ring is full, and copies messages of any size. push (ops.go) has a copy
// of its common case in line: a change to one is a change to the other.
func (r *Ring) spscPush(msg []byte) error {
	p := &r.p
	if !p.held {
		if err := r.claimProducer(); err != nil {
			return err
		}
	}
	if p.reserved {
		return ErrReserved
	}
	if len(msg) > r.slotSize {
		return r.tooLarge(len(msg))
	}
	if atomic.LoadUint32(r.closedWord()) != 0 {
		return ErrClosed
	}
	if err := r.spscRoom(); err != nil {
		return err
	}
	pos := p.pos
	r.writePayload(r.slot(pos), msg)
	faultinject.At(faultinject.AfterCopy)
	r.spscSetLen(pos, len(msg))
	faultinject.At(faultinject.BeforePublish)
	r.spscPublish(pos + 1)
	return nil
}

// spscSetLen sets the length of the message at pos, the producer's own
// slot. It stores only when the length differs from the one already there
// (the last message of that slot, a lap ago): with messages of one size, as
// most streams are, the length lines stay shared in both cores' caches and
// never cross between them, and the producer makes one store less.
func (r *Ring) spscSetLen(pos uint64, n int) {
	if l := r.spscLen(pos); *l != uint32(n) {
		*l = uint32(n)
	}
}

// spscRoom makes sure the slot at the producer's position is free,
// reloading head when the cached copy says the ring is full.
func (r *Ring) spscRoom() error {
	p := &r.p
	if p.pos-p.head < r.capacity {
		return nil
	}
	head := atomic.LoadUint64(r.head()) // load-acquire: pairs with the consumer's store after its copy out
	if d := p.pos - head; int64(d) < 0 || d > r.capacity {
		return wrap(ErrCorrupt, "head %d is not within the capacity %d below the producer's position %d", head, r.cfg.Capacity, p.pos)
	}
	p.head = head
	if p.pos-head >= r.capacity {
		return ErrFull
	}
	return nil
}

// spscPublish makes the messages below pos visible and wakes consumers if
// any sleep.
func (r *Ring) spscPublish(pos uint64) {
	r.p.pos = pos
	storeRelease64(r.tail(), pos) // publishes every message below pos
	r.wakeConsumers()
}

// spscTryPushBatch writes as many of msgs as fit and publishes them with
// one store of tail and one check for sleepers.
func (r *Ring) spscTryPushBatch(msgs [][]byte) (int, error) {
	p := &r.p
	if !p.held {
		if err := r.claimProducer(); err != nil {
			return 0, err
		}
	}
	if p.reserved {
		return 0, ErrReserved
	}
	if atomic.LoadUint32(r.closedWord()) != 0 {
		return 0, ErrClosed
	}
	var err error
	start := p.pos
	pos := start
	for _, msg := range msgs {
		n := len(msg)
		if n > r.slotSize {
			err = r.tooLarge(n)
			break
		}
		if pos-p.head >= r.capacity {
			p.pos = pos
			if err = r.spscRoom(); err != nil {
				break
			}
		}
		dst := unsafe.Add(r.slot(pos), r.hdr)
		if inWords(n) {
			moveWords(dst, unsafe.Pointer(unsafe.SliceData(msg)), n)
		} else {
			copy(unsafe.Slice((*byte)(dst), n), msg)
		}
		faultinject.At(faultinject.AfterCopy)
		r.spscSetLen(pos, n)
		faultinject.At(faultinject.BeforePublish)
		pos++
	}
	p.pos = pos
	if pos != start {
		r.spscPublish(pos)
	}
	return int(pos - start), err
}

// spscPop is TryPop on an SPSC ring once announced, for every case (no
// role yet, empty, a large or corrupt message, a short buffer, a typed
// view). With exact, a message whose length is not len(buf) is left in the
// ring and reported. pop (ops.go) has a copy of its common case in line.
func (r *Ring) spscPop(buf []byte, exact bool) (int, error) {
	c := &r.c
	if !c.held {
		if err := r.claimConsumer(); err != nil {
			return 0, err
		}
	}
	if err := r.spscAvailable(); err != nil {
		return 0, err
	}
	pos := c.pos
	n := int(*r.spscLen(pos))
	if n > r.slotSize {
		return 0, r.badLength(pos, n)
	}
	if n > len(buf) || exact && n != len(buf) {
		return n, r.sizeMismatch(n, len(buf), exact)
	}
	r.readPayload(buf, r.slot(pos), n)
	faultinject.At(faultinject.AfterConsume)
	r.spscFree(pos + 1)
	return n, nil
}

// spscAvailable makes sure a message is queued at the consumer's position,
// reloading tail when the cached copy says the ring is empty. It returns
// ErrEmpty, io.EOF after Shutdown, or ErrCorrupt for a tail that cannot be.
func (r *Ring) spscAvailable() error {
	c := &r.c
	if c.tail != c.pos && c.tail-c.pos <= r.capacity {
		return nil
	}
	for look := 0; ; look++ {
		tail := atomic.LoadUint64(r.tail()) // load-acquire: pairs with the producer's publish
		if d := tail - c.pos; int64(d) < 0 || d > r.capacity {
			c.tail = c.pos
			return wrap(ErrCorrupt, "tail %d is not within the capacity %d above the consumer's position %d", tail, r.cfg.Capacity, c.pos)
		}
		c.tail = tail
		if tail != c.pos {
			return nil
		}
		// Empty. A producer's last publish happens before its Shutdown, so
		// one more look after seeing the shut-down word settles it.
		if look > 0 {
			return io.EOF
		}
		if atomic.LoadUint32(r.closedWord()) == 0 {
			return ErrEmpty
		}
	}
}

// spscFree gives the slots below pos back to the producer and wakes it if
// it sleeps.
func (r *Ring) spscFree(pos uint64) {
	r.c.pos = pos
	storeRelease64(r.head(), pos) // after the copies out: the producer may overwrite
	r.wakeProducers()
}

// spscTryConsume hands fn up to max queued messages as views into their
// slots, and frees those fn accepted with one store of head. A message fn
// returns an error for stays in the ring, first in line.
func (r *Ring) spscTryConsume(max int, fn visitor) (int, error) {
	c := &r.c
	if !c.held {
		if err := r.claimConsumer(); err != nil {
			return 0, err
		}
	}
	if err := r.spscAvailable(); err != nil {
		return 0, err
	}
	start := c.pos
	pos := start
	var err error
	// inFn is 1 from the first call of fn to the last: Close, which fn may
	// call, then leaves the rest of the close to us (close.go).
	storeRelease32(&c.inFn, 1)
	returned := false
	defer func() {
		if !returned { // fn panicked: the messages it accepted before are consumed, the one it panicked on is not
			r.clearInFn()
			if pos != start {
				r.spscFree(pos)
			}
		}
	}()
	for pos-start < uint64(max) {
		if pos == c.tail && r.spscAvailableAt(pos) != nil {
			break
		}
		l := int(*r.spscLen(pos))
		if l > r.slotSize {
			err = r.badLength(pos, l)
			break
		}
		if ferr := fn.call(r.payload(r.slot(pos), l)); ferr != nil {
			err = ferr
			break
		}
		pos++
		if atomic.LoadUint32(&r.life)&lifeClosing != 0 {
			break // fn closed the handle, or someone did meanwhile: stop, keep what fn accepted
		}
	}
	returned = true
	r.clearInFn()
	n := int(pos - start)
	if n > 0 {
		faultinject.At(faultinject.AfterConsume)
		r.spscFree(pos)
	}
	return n, err
}

// spscAvailableAt reloads tail for a batch that has read up to pos.
func (r *Ring) spscAvailableAt(pos uint64) error {
	c := &r.c
	tail := atomic.LoadUint64(r.tail())
	if d := tail - pos; int64(d) < 0 || d > r.capacity || tail == pos {
		return ErrEmpty
	}
	c.tail = tail
	return nil
}

func (r *Ring) tooLarge(n int) error {
	return wrap(ErrTooLarge, "message of %d bytes exceeds the slot size %d", n, r.slotSize)
}

func (r *Ring) badLength(pos uint64, n int) error {
	return wrap(ErrCorrupt, "message at position %d has length %d, above the slot size %d", pos, n, r.slotSize)
}

func (r *Ring) sizeMismatch(n, have int, exact bool) error {
	if exact && n != have {
		return wrap(ErrIncompatible, "next message is %d bytes, not the %d of the typed view (left in the ring)", n, have)
	}
	return io.ErrShortBuffer
}
