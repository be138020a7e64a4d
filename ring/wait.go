package ring

// Waiting: how Push waits for room and Pop for a message.
//
// A waiter spins (the other side is usually a few hundred nanoseconds
// away), then yields the CPU to other threads of any process, then sleeps in
// the kernel on a futex word of the header.
//
// The handshake that makes sleeping safe without a fence per message:
//
//	publisher (every message)            sleeper (only before sleeping)
//	  store-release the slot / index       record count++; mask |= bit (atomic RMWs)
//	  if load(mask) != 0 {                 membarrier(GLOBAL_EXPEDITED)
//	      futex word++; FUTEX_WAKE         w := load(futex word)
//	  }                                    look at the ring again
//	                                       FUTEX_WAIT(futex word, w)
//	                                       record count--; last one: mask &^= bit
//
// (The count lives in the sleeper's process record and the bit is that
// record's, so a takeover of a dead sleeper's record puts both right: see
// record.go.) The publisher's store and its load of the mask may be reordered (x86
// lets a load pass an earlier store in the store buffer), which without
// more would lose a wake-up: the sleeper would miss the message and the
// publisher miss the sleeper. The sleeper's membarrier makes every CPU
// running a process that uses rings execute a full barrier: either the
// publisher's store was before that barrier, and the sleeper's second look
// finds the message, or its load of waiters comes after it, and sees the
// sleeper. The expensive half runs once per sleep, not once per message.
// Where membarrier is missing, or a live participant's process record says
// it could not register for it (its stores are then not covered), sleeps
// are cut into short slices, so that a missed wake-up costs at most one
// slice.

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/shmring/shmring/internal/faultinject"
)

const (
	spinTries   = 1024 // ~30-50 µs of polling (a PAUSE each) before yielding
	yieldTries  = 64
	sleepSlice  = 100 * time.Millisecond // longest sleep; bounds how late a dead peer is noticed
	unsafeSlice = time.Millisecond       // sleep slice when a wake-up can be missed
	peerEvery   = 100 * time.Millisecond // how often a spinning waiter asks whether its SPSC peer lives
)

// await calls try until it reports true, waiting between calls as the
// handle's options say. forRoom is true for a producer waiting for a free
// slot, false for a consumer waiting for a message. It returns ctx's error if
// ctx ends first, or ErrPeerDead.
func (r *Ring) await(ctx context.Context, forRoom bool, try func() bool) error {
	peer := recProducer
	if forRoom {
		peer = recConsumer
	}
	done := ctx.Done()
	for i := 0; ; i++ {
		if try() {
			return nil
		}
		if l := atomic.LoadUint32(&r.life); l != 0 {
			return r.lifeError(l) // closed meanwhile (Close wakes us), or broken
		}
		if done != nil && (i < spinTries && i&255 == 255 || i >= spinTries) {
			select {
			case <-done:
				return ctx.Err()
			default:
			}
		}
		if i < spinTries {
			cpuRelax() // and leave the line alone for a moment: the other side may fill more of it
			if i&255 == 255 {
				runtime.Gosched() // other goroutines of this process may be what we wait for
			}
			continue
		}
		if i < spinTries+yieldTries || r.opts.Wait == WaitSpin {
			runtime.Gosched() // first the goroutines of this process,
			osYield()         // then the other processes on this CPU
			if i&63 == 0 && r.peerCheckDue() {
				if finished, err := r.checkPeer(peer, try); finished || err != nil {
					return err
				}
			}
			continue
		}

		if finished, err := r.sleep(ctx, forRoom, try); finished || err != nil {
			return err
		}
		i = spinTries / 2 // woken: the other side is active, poll a little before sleeping again
	}
}

// sleep announces this waiter and sleeps on the futex word of its side
// until the other side bumps it, try succeeds (done), ctx ends, the peer dies
// or the file shrinks (err). It stays announced across timed-out sleeps, so
// it fences once.
func (r *Ring) sleep(ctx context.Context, forRoom bool, try func() bool) (done bool, err error) {
	word, peer := r.notEmptySeq(), recProducer
	if forRoom {
		word, peer = r.notFullSeq(), recConsumer
	}
	a := r.announce(forRoom) // from here the other side wakes us
	// try may run a caller's fn (PopFunc, Consume), and fn may panic: then
	// this waiter leaves too, or it would stay counted in shared memory and
	// make every publication a system call.
	inTry := false
	defer func() {
		if inTry {
			a.leave()
		}
	}()
	try0 := try
	try = func() bool {
		inTry = true
		ok := try0()
		inTry = false
		return ok
	}
	fenced := remoteFence()
	for {
		w := atomic.LoadUint32(word)
		k0, n0, _ := r.m.stuck.get()
		if try() {
			a.leave()
			return true, nil
		}
		// Did an MPMC claim stand in the way (try counted a sighting)? Its
		// claimer may be dead, and then nobody will wake us: sleep in short
		// slices and skip the polls that usually precede a closer look.
		k1, n1, _ := r.m.stuck.get()
		claimInWay := r.cfg.Kind.lanes() && (k1 != k0 || n1 != n0)
		if claimInWay && n1 < stuckPolls {
			storeRelease64(&r.m.stuck.polls, stuckPolls)
		}
		err = ctx.Err()
		if l := atomic.LoadUint32(&r.life); err == nil && l != 0 {
			err = r.lifeError(l) // after loading w: Close bumps the word after setting life
		}
		if err == nil && r.peerCheckDue() {
			var finished bool
			if finished, err = r.checkPeer(peer, try); finished {
				a.leave()
				return true, nil
			}
		}
		if err == nil {
			if err = r.checkTruncated(); err != nil {
				return false, r.broken(err) // and touch nothing more: the pages may be gone
			}
		}
		if err != nil {
			a.leave()
			return false, err
		}
		slice := sleepSlice
		if claimInWay {
			slice = r.opts.Grace
		}
		if !fenced || r.unfencedPeer() {
			slice = unsafeSlice // our membarrier does not order some publisher's stores
		}
		if dl, ok := ctx.Deadline(); ok {
			slice = min(slice, time.Until(dl)+time.Millisecond)
		}
		sleepCtx(ctx, word, w, slice)
		if err := r.checkTruncated(); err != nil {
			return false, r.broken(err)
		}
		if atomic.LoadUint32(word) != w {
			a.leave()
			return false, nil // woken: back to polling
		}
		// Timed out (or a spurious wake-up): look once more and sleep again,
		// without spinning: an idle waiter should cost nothing.
	}
}

// announcement is a waiter counted in the header: in the sleepers word of
// its process record, and by the record's bit in the waiter mask of its
// side, which publishers read (see record.go).
type announcement struct {
	r        *Ring
	mask     *uint64 // the side's waiter mask
	bit      uint64  // the record's bit in it
	sleepers *uint32 // the process record's sleeper counts
	unit     uint32  // 1: a consumer waiting for messages; 1<<16: a producer waiting for room
}

// announce counts this goroutine as a waiter of one side. The record is that
// of the handle's role (SPSC) or lane (MPMC): a handle waits only after an
// operation that took it. The count first, the bit second: whoever takes a
// dead owner's record over zeroes the one and clears the other, so a
// process killed in between leaves nothing behind.
func (r *Ring) announce(forRoom bool) announcement {
	a := announcement{r: r, mask: r.notEmptyWait(), unit: sleeperConsumer}
	rec := recConsumer
	if forRoom {
		a.mask, a.unit, rec = r.notFullWait(), sleeperProducer, recProducer
	}
	if r.cfg.Kind == MPMC || forRoom && r.cfg.Kind == MPSCBytes {
		rec = int(r.m.lane.Load())
	}
	a.bit = uint64(1) << uint(rec&(numRecords-1))
	a.sleepers = &r.record(rec).sleepers
	atomic.AddUint32(a.sleepers, a.unit)
	faultinject.At(faultinject.InAnnounce)
	atomic.OrUint64(a.mask, a.bit) // from here publishers wake us
	return a
}

// leave takes the waiter back out. The last waiter of the record on its
// side clears the record's bit, then looks at the count again: a waiter of
// the same record that announced meanwhile may have found its bit already
// set and not set it again.
func (a announcement) leave() {
	side := uint32(0xffff)
	if a.unit == sleeperProducer {
		side = 0xffff << 16
	}
	if atomic.AddUint32(a.sleepers, -a.unit)&side != 0 {
		return
	}
	atomic.AndUint64(a.mask, ^a.bit)
	if atomic.LoadUint32(a.sleepers)&side != 0 {
		// A waiter of this record announced meanwhile and found the bit
		// set; a publisher may have found it clear since, and woken
		// nobody: set it again, and wake that waiter ourselves.
		atomic.OrUint64(a.mask, a.bit)
		word := a.r.notEmptySeq()
		if a.unit == sleeperProducer {
			word = a.r.notFullSeq()
		}
		a.r.wake(word)
	}
}

// wakeConsumers wakes consumers asleep waiting for messages, if any: a load
// of a mask nobody writes while nobody sleeps, and no system call.
func (r *Ring) wakeConsumers() {
	if atomic.LoadUint64(r.notEmptyWait()) != 0 {
		r.wakeAt(offNotEmptySeq)
	}
}

// wakeProducers wakes producers asleep waiting for room, if any.
func (r *Ring) wakeProducers() {
	if atomic.LoadUint64(r.notFullWait()) != 0 {
		r.wakeAt(offNotFullSeq)
	}
}

// wakeAt wakes the processes asleep on the futex word at offset off.
// Callers check the matching waiter mask first, so that nobody makes a
// system call per message when nobody sleeps. It is kept out of line so that
// the checks, which run once per message, inline into the fast paths.
//
//go:noinline
func (r *Ring) wakeAt(off uintptr) { r.wake(r.u32(off)) }

// wake bumps futex word w and wakes every process asleep on it.
func (r *Ring) wake(w *uint32) {
	atomic.AddUint32(w, 1) // a sleeper about to sleep sees the change and does not
	if futexWakeAll(w) == 0 && r.cfg.Kind.lanes() {
		r.missedWake()
	}
}

// missedWake is called when a wake-up found nobody asleep although a waiter
// mask said someone was: usually a waiter between its announcement and its
// sleep, but if it goes on, a process that died asleep and left its count.
// Then, at most once a second, the records of dead processes that still
// count waiters are swept.
func (r *Ring) missedWake() {
	if r.m.missedWakes.Add(1) < 64 {
		return
	}
	now := monotime()
	if last := r.m.lastSweep.Load(); last != 0 && now-last < int64(time.Second) || !r.m.lastSweep.CompareAndSwap(last, now) {
		return
	}
	r.m.missedWakes.Store(0)
	r.sweepDead()
}

// peerCheckDue reports whether this handle's waiters should ask again
// whether the SPSC peer lives: at most once per peerEvery, as asking reads
// /proc or makes a pidfd, a few system calls. A dead peer is then noticed
// within peerEvery plus a sleep slice.
func (r *Ring) peerCheckDue() bool {
	now := monotime()
	last := r.m.peerChecked.Load()
	return now-last >= int64(peerEvery) && r.m.peerChecked.CompareAndSwap(last, now)
}

// checkPeer returns ErrPeerDead when this is an SPSC ring whose peer role
// is held by a dead process and the ring still cannot make progress. A role
// never taken, or given up with Close, is not a dead peer: a producer may
// not have started yet. Before it gives up it tries once more; done reports
// that this last try succeeded: the caller's operation has taken place and
// must not be tried again.
func (r *Ring) checkPeer(peer int, try func() bool) (done bool, err error) {
	if r.opts.WaitForPeer || !(r.cfg.Kind.oneProducer() || peer == recConsumer && r.cfg.Kind.oneConsumer()) {
		return false, nil
	}
	rec := r.record(peer)
	owner, alive := ownerOf(rec)
	if owner == 0 || alive {
		return false, nil
	}
	// The dead process cannot publish any more: one last look decides.
	if try() {
		return true, nil
	}
	// The verdict is about the record as read above. A peer that gave the
	// role up with Close and then exited may have been read before its
	// Close and looked for after its exit; a successor may have taken the
	// role over since. Only a record that still names the same owner holds
	// a dead peer.
	if atomic.LoadUint64(&rec.owner) != owner {
		return false, nil
	}
	role := "producer"
	if peer == recConsumer {
		role = "consumer"
	}
	return false, wrap(ErrPeerDead, "%s (pid %d) died", role, ownerPID(owner))
}

// sleepCtx sleeps on word while it holds w, for at most d, and wakes early
// when ctx is done.
func sleepCtx(ctx context.Context, word *uint32, w uint32, d time.Duration) {
	if d <= 0 {
		return
	}
	if ctx.Done() == nil {
		futexSleep(word, w, d)
		return
	}
	// The canceller bumps the word and wakes its sleepers (other processes'
	// too, who look and sleep again). The state keeps it from touching the
	// word after sleepCtx returned: the mapping may be gone by then.
	const (
		sleeping = iota
		waking
		finished
	)
	var state atomic.Uint32
	stop := context.AfterFunc(ctx, func() {
		if state.CompareAndSwap(sleeping, waking) {
			atomic.AddUint32(word, 1)
			_ = futexWakeAll(word)
			state.Store(finished)
		}
	})
	futexSleep(word, w, d)
	if !stop() && !state.CompareAndSwap(sleeping, finished) {
		for state.Load() != finished {
			osYield()
		}
	}
}

// checkTruncated returns ErrCorrupt when the file under a file-backed ring
// has shrunk below the ring since it was mapped: touching the missing pages
// would kill the process with SIGBUS. A waiter checks before and after every
// sleep, so a process asleep on a ring that someone truncates gets an error
// instead. (Anonymous regions are sealed; they cannot shrink.)
func (r *Ring) checkTruncated() error {
	if r.region == nil || r.region.Path() == "" {
		return nil
	}
	f := r.region.File()
	if f == nil {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	if need := int64(totalSize(r.cfg)); fi.Size() < need {
		return wrap(ErrCorrupt, "%s was truncated to %d bytes under the mapping; the ring needs %d", r.region.Path(), fi.Size(), need)
	}
	return nil
}
