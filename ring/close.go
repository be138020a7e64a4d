package ring

// A handle's life: Close at any moment, from any goroutine, while others
// are inside any operation or asleep in one.
//
// Invariants:
//   - Every operation announces itself before it touches shared memory, and
//     then reads r.life: the SPSC producer and consumer in their busy words
//     (one goroutine per side, a plain store), everything else in r.ops (an
//     atomic add). An operation that finds life not 0 touches nothing and
//     returns an error matching os.ErrClosed (or the fault that broke the
//     handle).
//   - Close sets lifeClosing, then runs a process-wide memory barrier
//     (membarrier PRIVATE_EXPEDITED): every operation that announced itself
//     before the barrier is visible to Close, and every one after it sees
//     lifeClosing. The fast paths thus need no fence of their own: a plain
//     store and a load, as cheap as the operation's other handle-local
//     words. Where the kernel has no such barrier, the announcement is an
//     atomic store instead (a full barrier of its own).
//   - Close then wakes this handle's sleepers and waits until no operation
//     is in flight, except pops inside the caller's fn (which may be the
//     goroutine calling Close): those finish the close on their way out.
//     Whoever finds the handle quiet first moves life to lifeClosed (a CAS:
//     once), gives the roles and records back and unmaps the region. No
//     operation is in flight then, and none can start.

import (
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/shmring/shmring/shm"
)

// Bits of Ring.life.
const (
	lifeClosing = 1 << 0 // Close was called: no operation may start
	lifeBroken  = 1 << 1 // the memory under the handle went bad: r.fault says how
	lifeClosed  = 1 << 2 // released and unmapped
)

// errHandleClosed is returned by operations on a closed handle, and by those
// in flight when Close is called. It is not ErrClosed, which says that the
// ring was shut down: the ring may be going on fine in other processes.
var errHandleClosed = &sentinelError{msg: "ring: use of a closed ring handle", err: os.ErrClosed}

// handleLife is what the cleanup of a handle dropped without Close needs:
// nothing that refers to the handle itself.
type handleLife struct {
	region  *shm.Region
	records unsafe.Pointer // process record 0
	owner   uint64
	need    int64 // bytes the file must still have for the records to be there
	cleanup runtime.Cleanup
	// An MPMC reservation open on the handle (reserve.go): a handle dropped
	// with it open abandons the slot, or it would stay claimed by a record
	// the next handle takes without recovery.
	resOpen atomic.Bool
	resSlot unsafe.Pointer
	resPos  uint64
}

// watchDrop arranges that a handle that owns its region and is dropped
// without Close gives its records back when the garbage collector finds
// it. Without it a dropped producer would hold its role until its process
// exits. The region stays mapped: the program may still use its memory
// through Region().Bytes() or another handle attached to it, which the
// collector cannot see.
func (r *Ring) watchDrop() {
	h := &handleLife{region: r.region, records: unsafe.Add(r.base, offRecords), owner: r.owner, need: headerSize}
	r.lives = h
	h.cleanup = runtime.AddCleanup(r, func(h *handleLife) { h.release() }, h)
}

// release runs when the handle is unreachable: no goroutine can be inside
// one of its operations.
func (h *handleLife) release() {
	if !h.region.Writable() || h.region.Bytes() == nil {
		return // a read-only mapping holds no records of ours; or the program closed the region itself
	}
	if f := h.region.File(); f != nil && h.region.Path() != "" {
		if fi, err := f.Stat(); err != nil || fi.Size() < h.need {
			return // truncated under the mapping: the records' page would raise SIGBUS
		}
	}
	if h.resOpen.Load() {
		atomic.CompareAndSwapUint64(slotSeq(h.resSlot), seqWord(h.resPos, tagFree), seqWord(h.resPos, tagAbandoned))
	}
	for i := 0; i < numRecords; i++ {
		rec := (*record)(unsafe.Add(h.records, uintptr(i)*recordSize))
		atomic.CompareAndSwapUint64(&rec.owner, h.owner, 0)
	}
}

// lifeError is the error of an operation that found life not 0.
func (r *Ring) lifeError(life uint32) error {
	if life&(lifeClosing|lifeClosed) != 0 {
		return errHandleClosed
	}
	return r.faulted()
}

// enter announces an operation other than an SPSC push or pop; exit ends
// it.
func (r *Ring) enter() error {
	r.ops.Add(1) // a full barrier: Close sees it, or we see Close
	if l := atomic.LoadUint32(&r.life); l != 0 {
		r.exit()
		return r.lifeError(l)
	}
	return nil
}

func (r *Ring) exit() {
	r.ops.Add(-1)
	if atomic.LoadUint32(&r.life)&lifeClosing != 0 {
		r.finishClose()
	}
}

// enterSide announces an SPSC push (busy is r.p.busy) or pop (r.c.busy) on
// its slow path; the fast paths in ops.go do the same in line.
func (r *Ring) enterSide(busy *uint32) error {
	if !r.spscEnter(busy) {
		r.exitSide(busy)
		return r.lifeError(atomic.LoadUint32(&r.life))
	}
	return nil
}

// exitSide ends an SPSC push or pop. When Close has been called meanwhile
// it may be waiting for us, or may have left the rest to us.
//
// A pop that finds the consumer inside a caller's fn (c.inFn) is nested in
// that consume, or a second goroutine's: the consume holds c.busy and ends
// it, and the mapping stays until it does (a pop from fn after fn called
// Close returns the closed error and unmaps nothing under fn's view).
func (r *Ring) exitSide(busy *uint32) {
	if busy == &r.c.busy && atomic.LoadUint32(&r.c.inFn) != 0 {
		return
	}
	storeRelease32(busy, 0)
	if atomic.LoadUint32(&r.life)&lifeClosing != 0 {
		atomic.StoreUint32(busy, 0) // a full barrier before we look at the others
		r.finishClose()
	}
}

// clearInFn ends a consume's time in the caller's fn. Close reads c.inFn
// after its barrier, and the consume reads life after this store: where
// there is no process-wide barrier (plainBusy false), the store must be a
// full barrier itself, or both could miss each other and neither finish
// the close.
func (r *Ring) clearInFn() {
	if plainBusy {
		storeRelease32(&r.c.inFn, 0)
		return
	}
	atomic.StoreUint32(&r.c.inFn, 0)
}

// Close releases this handle: it gives up the SPSC roles or the MPMC
// process record it holds (so another process may take them at once) and
// unmaps the region if the handle owns one. It does not shut the ring down.
//
// Close may be called at any moment from any goroutine. Operations in
// flight on the handle, asleep or not, return promptly with an error
// matching os.ErrClosed, and Close waits for them before it unmaps; a
// PopFunc or Consume whose fn is running (fn may itself call Close) is not
// waited for: it stops after that fn (on an SPSC ring, between two calls
// of fn, one more call may begin), gives back what fn did not accept, and
// finishes the close when it returns, so memory given to Attach stays in
// use until then. Every later operation returns that error too. A second
// Close returns nil.
func (r *Ring) Close() error {
	r.ops.Add(1) // Close is in flight too: nobody finishes the close under it
	for {
		l := atomic.LoadUint32(&r.life)
		if l&lifeClosing != 0 {
			r.exit()
			return nil
		}
		if atomic.CompareAndSwapUint32(&r.life, l, l|lifeClosing) {
			break
		}
	}
	processFence() // from here every operation in flight is visible, and every new one sees lifeClosing
	if atomic.LoadUint32(&r.life)&lifeBroken == 0 && !r.readOnly {
		// Our sleepers sleep on the shared futex words: bump them and wake
		// everyone (others look and sleep again).
		r.wake(r.notEmptySeq())
		r.wake(r.notFullSeq())
	}
	r.ops.Add(-1)
	for !r.quiet(true) {
		osYield()
	}
	return r.finishClose()
}

// quiet reports whether no operation is in flight on the handle; with
// inFn, operations inside a caller's fn do not count.
func (r *Ring) quiet(inFn bool) bool {
	if atomic.LoadUint32(&r.p.busy) != 0 {
		return false
	}
	if atomic.LoadUint32(&r.c.busy) != 0 && !(inFn && atomic.LoadUint32(&r.c.inFn) != 0) {
		return false
	}
	ops := r.ops.Load()
	if inFn {
		ops -= r.inFn.Load() + r.reserving.Load() // both finish the close on their way out
	}
	return ops <= 0
}

// finishClose gives the handle's roles and records back and unmaps its
// region, once, when no operation is in flight.
func (r *Ring) finishClose() error {
	if !r.quiet(false) {
		return nil
	}
	l := atomic.LoadUint32(&r.life)
	if l&lifeClosed != 0 || !atomic.CompareAndSwapUint32(&r.life, l, l|lifeClosed) {
		return nil
	}
	if r.lives != nil {
		r.lives.cleanup.Stop()
	}
	if l&lifeBroken == 0 && r.checkTruncated() == nil { // else the header may be gone: give nothing back, just unmap
		r.releaseAll()
	}
	if r.region != nil {
		return r.region.Close()
	}
	return nil
}

// releaseAll gives back the roles and the lane this handle holds.
func (r *Ring) releaseAll() {
	if r.p.held {
		r.releaseRecord(recProducer)
	}
	if r.c.held {
		r.releaseRecord(recConsumer)
	}
	if lane := r.m.lane.Load(); lane >= 0 {
		r.releaseRecord(int(lane))
	}
	r.p.held, r.c.held = false, false
	r.m.lane.Store(-1)
}

// broken records that the memory under the handle went bad and makes every
// later call on the handle return err instead of touching it.
func (r *Ring) broken(err error) error {
	r.fault.CompareAndSwap(nil, &err)
	for {
		l := atomic.LoadUint32(&r.life)
		if l&lifeBroken != 0 || atomic.CompareAndSwapUint32(&r.life, l, l|lifeBroken) {
			break
		}
	}
	return *r.fault.Load()
}

// faulted returns the fault that broke the handle, or nil.
func (r *Ring) faulted() error {
	if f := r.fault.Load(); f != nil {
		return *f
	}
	return nil
}
