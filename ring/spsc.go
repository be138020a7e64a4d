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
	if _, err := r.claimRecord(recProducer, roleProduces, nil); err != nil {
		return fmt.Errorf("ring: producer role: %w", err)
	}
	// Continue where the ring stands. A producer that died between
	// publishing a slot and storing tail left FULL(tail) behind: step over it.
	pos := atomic.LoadUint64(r.tail())
	head := atomic.LoadUint64(r.released())
	for i := 0; i < r.cfg.Capacity && atomic.LoadUint64(slotSeq(r.slot(pos))) == seqWord(pos, tagFull); i++ {
		pos++
	}
	if pos-head > uint64(r.cfg.Capacity) {
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
	if _, err := r.claimRecord(recConsumer, roleConsumes, nil); err != nil {
		return fmt.Errorf("ring: consumer role: %w", err)
	}
	pos := atomic.LoadUint64(r.head())
	r.c = consumerState{held: true, pos: pos, released: pos - 1}
	r.spscRelease()
	return nil
}

// releaseEvery is how many messages the SPSC consumer reads between two
// stores of released: a quarter of the ring, at most 32.
func (r *Ring) releaseEvery() uint64 { return uint64(min(max(r.cfg.Capacity/4, 1), 32)) }

// spscRelease gives every slot read so far back to the producer and wakes
// it if it sleeps.
func (r *Ring) spscRelease() {
	c := &r.c
	if c.released == c.pos {
		return
	}
	c.released = c.pos
	storeRelease64(r.released(), c.pos) // after the copies out: the producer may overwrite
	if atomic.LoadUint32(r.notFullWait()) != 0 {
		r.wake(r.notFullSeq())
	}
}

// spscRoom reports whether the producer may write n more slots from its
// position, reloading head when the cached copy says no.
func (r *Ring) spscRoom(n uint64) bool {
	p := &r.p
	capacity := uint64(r.cfg.Capacity)
	if p.pos+n-p.head <= capacity {
		return true
	}
	p.head = atomic.LoadUint64(r.released()) // load-acquire: pairs with the consumer's release
	return p.pos+n-p.head <= capacity
}

func (r *Ring) spscTryPush(msg []byte) error {
	p := &r.p
	if !p.held {
		if err := r.claimProducer(); err != nil {
			return err
		}
	}
	if len(msg) > r.cfg.SlotSize {
		return r.tooLarge(len(msg))
	}
	if atomic.LoadUint32(r.closedWord()) != 0 {
		return ErrClosed
	}
	if !r.spscRoom(1) {
		return ErrFull
	}
	pos := p.pos
	s := r.slot(pos)
	copy(slotPayload(s, len(msg)), msg)
	faultinject.At(faultinject.AfterCopy)
	*slotLen(s) = uint32(len(msg))
	faultinject.At(faultinject.BeforePublish)
	storeRelease64(slotSeq(s), seqWord(pos, tagFull)) // publishes the message to the consumer
	p.pos = pos + 1
	storeRelease64(r.tail(), pos+1) // for Len and for a successor; nobody polls it
	if atomic.LoadUint32(r.notEmptyWait()) != 0 {
		r.wake(r.notEmptySeq())
	}
	return nil
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
		if len(msg) > r.cfg.SlotSize {
			err = r.tooLarge(len(msg))
			break
		}
		if pos-p.head >= uint64(r.cfg.Capacity) {
			p.head = atomic.LoadUint64(r.released())
			if pos-p.head >= uint64(r.cfg.Capacity) {
				err = ErrFull
				break
			}
		}
		s := r.slot(pos)
		copy(slotPayload(s, len(msg)), msg)
		*slotLen(s) = uint32(len(msg))
		faultinject.At(faultinject.BeforePublish)
		storeRelease64(slotSeq(s), seqWord(pos, tagFull)) // publishes this message
		pos++
		n++
	}
	if n > 0 {
		p.pos = pos
		storeRelease64(r.tail(), pos)
		if atomic.LoadUint32(r.notEmptyWait()) != 0 {
			r.wake(r.notEmptySeq())
		}
	}
	return n, err
}

// spscTryPop copies the next message into buf. With exact, a message whose
// length is not len(buf) is left in the ring and reported (Typed views).
func (r *Ring) spscTryPop(buf []byte, exact bool) (int, error) {
	c := &r.c
	if !c.held {
		if err := r.claimConsumer(); err != nil {
			return 0, err
		}
	}
	pos := c.pos
	s := r.slot(pos)
	if atomic.LoadUint64(slotSeq(s)) != seqWord(pos, tagFull) { // load-acquire: pairs with the producer's publish
		if err := r.spscEmpty(s, pos); err != nil {
			return 0, err
		}
	}
	n := int(*slotLen(s))
	if n > r.cfg.SlotSize {
		return 0, r.badLength(pos, n)
	}
	if n > len(buf) || exact && n != len(buf) {
		return n, r.sizeMismatch(n, len(buf), exact)
	}
	copy(buf, slotPayload(s, n))
	faultinject.At(faultinject.AfterConsume)
	c.pos = pos + 1
	storeRelease64(r.head(), pos+1) // consumed: for Len and for a successor
	if pos+1-c.released >= r.releaseEvery() {
		r.spscRelease()
	}
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
	if atomic.LoadUint64(slotSeq(s)) == seqWord(pos, tagFull) {
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
		if atomic.LoadUint64(slotSeq(s)) != seqWord(pos, tagFull) {
			if n == 0 {
				err = r.spscEmpty(s, pos)
				if err == nil {
					continue
				}
			}
			break
		}
		l := int(*slotLen(s))
		if l > r.cfg.SlotSize {
			err = r.badLength(pos, l)
			break
		}
		fn(slotPayload(s, l))
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
	return fmt.Errorf("ring: message of %d bytes, slot size %d: %w", n, r.cfg.SlotSize, ErrTooLarge)
}

func (r *Ring) badLength(pos uint64, n int) error {
	return fmt.Errorf("ring: message at position %d has length %d, above the slot size %d: %w",
		pos, n, r.cfg.SlotSize, ErrCorrupt)
}

func (r *Ring) sizeMismatch(n, have int, exact bool) error {
	if exact && n != have {
		return fmt.Errorf("ring: next message is %d bytes, not the %d of the typed view (left in the ring): %w",
			n, have, ErrIncompatible)
	}
	return io.ErrShortBuffer
}
