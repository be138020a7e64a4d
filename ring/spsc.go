package ring

// SPSC protocol: one producer, one consumer, no read-modify-write.
//
// Invariants:
//   - Positions only grow. The producer owns tail and slot writes; the
//     consumer owns head and released. Each keeps its position in
//     process-local state and stores it to the header after every message,
//     for Len and for a process that takes the role over after a crash;
//     nobody polls those two words.
//   - Slot pos&mask belongs to the producer while FULL(pos) is not in it and
//     pos-released < capacity; it belongs to the consumer from the moment
//     FULL(pos) is in it until released passes pos.
//   - The producer publishes a message by storing FULL(pos) into the slot's
//     sequence word (store-release, after length and payload). The consumer
//     reads that word, not tail: it polls the cache line it must read anyway,
//     and the producer's tail line never travels.
//   - The consumer gives slots back by storing released (store-release,
//     after copying out), lazily: once per releaseEvery messages and
//     whenever it finds the ring empty, so that a producer waiting for room
//     is never kept waiting by slots already read. The producer reads
//     released only when its cached copy says the ring is full.
//   - After publishing (producer) or releasing (consumer), each side loads
//     the other side's waiter count and makes a system call only if it is
//     not zero (see wait.go for why a plain load suffices).

import (
	"fmt"
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
	if err := r.claimRecord(recProducer, roleProduces, nil); err != nil {
		return fmt.Errorf("ring: producer role: %w", err)
	}
	// Continue where the ring stands: after the last published message, which
	// may be past tail (see spscTail).
	pos := r.spscTail()
	head := atomic.LoadUint64(r.released())
	if pos-head > r.capacity {
		r.releaseRecord(recProducer)
		return fmt.Errorf("ring: producer takeover: tail %d and head %d are %d apart, more than the capacity %d: %w",
			pos, head, pos-head, r.cfg.Capacity, ErrCorrupt)
	}
	storeRelease64(r.tail(), pos)
	r.p = producerState{held: true, pos: pos, head: head}
	return nil
}

// claimConsumer takes the SPSC consumer role and continues from head: a
// consumer that died after copying a message out but before storing head
// leaves that message to its successor. Slots its predecessor read but did
// not release are released now.
func (r *Ring) claimConsumer() error {
	if err := r.usable(); err != nil {
		return err
	}
	if err := r.claimRecord(recConsumer, roleConsumes, nil); err != nil {
		return fmt.Errorf("ring: consumer role: %w", err)
	}
	pos := atomic.LoadUint64(r.head())
	r.c = consumerState{held: true, pos: pos, released: pos - 1}
	r.spscRelease()
	return nil
}

// releaseEvery is how many messages the SPSC consumer reads between two
// stores of released: a quarter of the ring, at most 32.
func releaseEvery(capacity int) uint64 { return uint64(min(max(capacity/4, 1), 32)) }

// spscRelease gives every slot read so far back to the producer and wakes
// it if it sleeps.
func (r *Ring) spscRelease() {
	c := &r.c
	if c.released == c.pos {
		return
	}
	c.released = c.pos
	storeRelease64(r.released(), c.pos) // after the copies out: the producer may overwrite
	r.wakeProducers()
}

// spscPushSlow is TryPush on an SPSC ring for every case the fast path in
// TryPush leaves out: it takes the role, reports errors, reloads the
// consumer's released position when the cached one says the ring is full,
// and copies messages of any size.
func (r *Ring) spscPushSlow(msg []byte) error {
	p := &r.p
	if !p.held {
		if err := r.claimProducer(); err != nil {
			return err
		}
	}
	if len(msg) > r.slotSize {
		return r.tooLarge(len(msg))
	}
	if atomic.LoadUint32(r.closedWord()) != 0 {
		return ErrClosed
	}
	if p.pos-p.head >= r.capacity {
		p.head = atomic.LoadUint64(r.released()) // load-acquire: pairs with the consumer's release
		if p.pos-p.head >= r.capacity {
			return ErrFull
		}
	}
	s := r.slot(p.pos)
	copy(r.payload(s, len(msg)), msg)
	faultinject.At(faultinject.AfterCopy)
	*r.slotLen(s) = uint32(len(msg))
	faultinject.At(faultinject.BeforePublish)
	r.spscPublish(s)
	return nil
}

// spscPushCopy is TryPush's fast path for messages too large to copy in
// line: memmove, then publish.
func (r *Ring) spscPushCopy(s unsafe.Pointer, msg []byte) error {
	copy(r.payload(s, len(msg)), msg)
	*r.slotLen(s) = uint32(len(msg))
	r.spscPublish(s)
	return nil
}

// spscPopCopy is TryPop's fast path for messages too large to copy in
// line.
func (r *Ring) spscPopCopy(buf []byte, s unsafe.Pointer, n int) (int, error) {
	copy(buf, r.payload(s, n))
	return r.spscConsumed(n)
}

// spscPublish publishes the message written into slot s, at the producer's
// position, and wakes consumers if any sleep. TryPush has a copy of it in
// line.
func (r *Ring) spscPublish(s unsafe.Pointer) {
	p := &r.p
	pos := p.pos
	storeRelease32(slotSeq32(s), spscFull(pos)) // publishes the message to the consumer
	pos++
	p.pos = pos
	if pos&(r.relEvery-1) == 0 {
		storeRelease64(r.tail(), pos) // now and then: only Len and a successor read it
	}
	r.wakeConsumers()
}

// spscTail returns the producer's position. The producer stores tail only
// every relEvery messages on its fast path (nobody polls it), so the truth
// is tail plus the published slots after it.
func (r *Ring) spscTail() uint64 {
	t := atomic.LoadUint64(r.tail())
	for i := uint64(0); i < r.capacity && atomic.LoadUint32(slotSeq32(r.slot(t))) == spscFull(t); i++ {
		t++
	}
	return t
}

// spscTryPushBatch writes as many of msgs as fit and publishes tail and
// checks for sleepers once for all of them.
func (r *Ring) spscTryPushBatch(msgs [][]byte) (int, error) {
	p := &r.p
	if !p.held {
		if err := r.claimProducer(); err != nil {
			return 0, err
		}
	}
	if atomic.LoadUint32(r.closedWord()) != 0 {
		return 0, ErrClosed
	}
	var err error
	pos := p.pos
	n := 0
	for _, msg := range msgs {
		if len(msg) > r.slotSize {
			err = r.tooLarge(len(msg))
			break
		}
		if pos-p.head >= r.capacity {
			p.head = atomic.LoadUint64(r.released())
			if pos-p.head >= r.capacity {
				err = ErrFull
				break
			}
		}
		s := r.slot(pos)
		r.writePayload(s, msg)
		faultinject.At(faultinject.AfterCopy)
		*r.slotLen(s) = uint32(len(msg))
		faultinject.At(faultinject.BeforePublish)
		storeRelease32(slotSeq32(s), spscFull(pos)) // publishes this message
		pos++
		n++
	}
	if n > 0 {
		p.pos = pos
		storeRelease64(r.tail(), pos)
		r.wakeConsumers()
	}
	return n, err
}

// spscPopSlow is TryPop on an SPSC ring for every case the fast path in
// TryPop leaves out (no role yet, empty, a large or corrupt message, a short
// buffer, a typed view). With exact, a message whose length is not len(buf)
// is left in the ring and reported.
func (r *Ring) spscPopSlow(buf []byte, exact bool) (int, error) {
	c := &r.c
	if !c.held {
		if err := r.claimConsumer(); err != nil {
			return 0, err
		}
	}
	pos := c.pos
	s := r.slot(pos)
	if atomic.LoadUint32(slotSeq32(s)) != spscFull(pos) { // load-acquire: pairs with the producer's publish
		if err := r.spscEmpty(s, pos); err != nil {
			return 0, err
		}
	}
	n := int(*r.slotLen(s))
	if n > r.slotSize {
		return 0, r.badLength(pos, n)
	}
	if n > len(buf) || exact && n != len(buf) {
		return n, r.sizeMismatch(n, len(buf), exact)
	}
	copy(buf, r.payload(s, n))
	faultinject.At(faultinject.AfterConsume)
	return r.spscConsumed(n)
}

// spscConsumed moves the consumer past the message it has copied out, and
// gives slots back to the producer every relEvery messages. TryPop has a
// copy of it in line.
func (r *Ring) spscConsumed(n int) (int, error) {
	c := &r.c
	c.pos++
	storeRelease64(r.head(), c.pos) // consumed: for Len and for a successor
	if c.pos-c.released >= r.relEvery {
		r.spscRelease()
	}
	return n, nil
}

// spscReleased is the tail of TryPop's fast path when it is time to give
// slots back: a call in tail position, so nothing is saved around it.
func (r *Ring) spscReleased(n int) (int, error) {
	r.spscRelease()
	return n, nil
}

// spscEmpty decides what an empty-looking slot means: ErrEmpty, io.EOF after
// Shutdown, or nil when the message arrived after all.
func (r *Ring) spscEmpty(s unsafe.Pointer, pos uint64) error {
	r.spscRelease() // about to wait, or to return: do not keep slots from the producer
	if atomic.LoadUint32(r.closedWord()) == 0 {
		return ErrEmpty
	}
	// Shut down. A producer's last publish happens before its Shutdown,
	// so one more look at the slot settles it.
	if atomic.LoadUint32(slotSeq32(s)) == spscFull(pos) {
		return nil
	}
	return io.EOF
}

// spscTryPopFunc hands fn up to max queued messages as views into their
// slots, then releases them all with one store of head.
func (r *Ring) spscTryPopFunc(max int, fn func(msg []byte)) (int, error) {
	c := &r.c
	if !c.held {
		if err := r.claimConsumer(); err != nil {
			return 0, err
		}
	}
	pos := c.pos
	n := 0
	var err error
	for n < max {
		s := r.slot(pos)
		if atomic.LoadUint32(slotSeq32(s)) != spscFull(pos) {
			if n == 0 {
				err = r.spscEmpty(s, pos)
				if err == nil {
					continue
				}
			}
			break
		}
		l := int(*r.slotLen(s))
		if l > r.slotSize {
			err = r.badLength(pos, l)
			break
		}
		fn(r.payload(s, l))
		pos++
		n++
	}
	if n > 0 {
		faultinject.At(faultinject.AfterConsume)
		c.pos = pos
		storeRelease64(r.head(), pos)
		r.spscRelease() // every slot fn has seen, together
		return n, nil
	}
	return 0, err
}

func (r *Ring) tooLarge(n int) error {
	return fmt.Errorf("ring: message of %d bytes, slot size %d: %w", n, r.slotSize, ErrTooLarge)
}

func (r *Ring) badLength(pos uint64, n int) error {
	return fmt.Errorf("ring: message at position %d has length %d, above the slot size %d: %w",
		pos, n, r.slotSize, ErrCorrupt)
}

func (r *Ring) sizeMismatch(n, have int, exact bool) error {
	if exact && n != have {
		return fmt.Errorf("ring: next message is %d bytes, not the %d of the typed view (left in the ring): %w",
			n, have, ErrIncompatible)
	}
	return io.ErrShortBuffer
}
