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
//	  store-release the slot / index       waiters++            (atomic RMW)
//	  if load(waiters) != 0 {              membarrier(GLOBAL_EXPEDITED)
//	      futex word++; FUTEX_WAKE         w := load(futex word)
//	  }                                    look at the ring again
//	                                       FUTEX_WAIT(futex word, w)
//	                                       waiters--
//
// The publisher's store and its load of waiters may be reordered (x86
// lets a load pass an earlier store in the store buffer), which without
// more would lose a wake-up: the sleeper would miss the message and the
// publisher miss the sleeper. The sleeper's membarrier makes every CPU
// running a process that uses rings execute a full barrier: either the
// publisher's store was before that barrier, and the sleeper's second look
// finds the message, or its load of waiters comes after it, and sees the
// sleeper. The expensive half runs once per sleep, not once per message.
// Where membarrier is missing, sleeps are cut into short slices, so that a
// missed wake-up costs at most one slice.

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
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
	var lastPeerCheck int64
	for i := 0; ; i++ {
		if try() {
			return nil
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
			continue
		}
		if i < spinTries+yieldTries || r.opts.Wait == WaitSpin {
			osYield()
			if i&63 == 0 {
				if now := monotime(); now-lastPeerCheck >= int64(peerEvery) {
					lastPeerCheck = now
					if finished, err := r.checkPeer(peer, try); finished || err != nil {
						return err
					}
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
		claimInWay := r.cfg.Kind == MPMC && (k1 != k0 || n1 != n0)
		if claimInWay && n1 < stuckPolls {
			storeRelease64(&r.m.stuck.polls, stuckPolls)
		}
		err = ctx.Err()
		if err == nil {
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
		if !fenced {
			slice = unsafeSlice
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

// announcement is a waiter counted in the header: in the waiter count of
// its side, which publishers read, and in the sleeper count of its process
// record, so that the count can be taken back if the process dies asleep
// (see takeSleepers). Otherwise every publication on that side would make a
// system call for ever after.
type announcement struct {
	waiters  *uint32 // the side's waiter count
	sleepers *uint32 // the process record's sleeper counts
	unit     uint32  // 1: a consumer waiting for messages; 1<<16: a producer waiting for room
}

// announce counts this process as a waiter of one side. The record is that
// of the handle's role (SPSC) or lane (MPMC): a handle waits only after an
// operation that took it.
func (r *Ring) announce(forRoom bool) announcement {
	a := announcement{waiters: r.notEmptyWait(), unit: sleeperConsumer}
	rec := recConsumer
	if forRoom {
		a.waiters, a.unit, rec = r.notFullWait(), sleeperProducer, recProducer
	}
	if r.cfg.Kind == MPMC {
		rec = int(r.m.lane.Load())
	}
	a.sleepers = &r.record(rec).sleepers
	// The side's count first and the record's second, and the other way
	// round when leaving: a process killed in between leaves the side's
	// count too high (a wasted FUTEX_WAKE per publication until someone
	// takes the record over), never too low (a missed wake-up).
	atomic.AddUint32(a.waiters, 1)
	atomic.AddUint32(a.sleepers, a.unit)
	return a
}

func (a announcement) leave() {
	atomic.AddUint32(a.sleepers, -a.unit)
	atomic.AddUint32(a.waiters, ^uint32(0))
}

// checkPeer returns ErrPeerDead when this is an SPSC ring whose peer role
// is held by a dead process and the ring still cannot make progress. A role
// never taken, or given up with Close, is not a dead peer: a producer may
// not have started yet. Before it gives up it tries once more; done reports
// that this last try succeeded: the caller's operation has taken place and
// must not be tried again.
func (r *Ring) checkPeer(peer int, try func() bool) (done bool, err error) {
	if r.cfg.Kind != SPSC || r.opts.WaitForPeer {
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
	return false, fmt.Errorf("ring: %s (pid %d) died: %w", role, ownerPID(owner), ErrPeerDead)
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
		return fmt.Errorf("ring: %s was truncated to %d bytes under the mapping; the ring needs %d: %w",
			r.region.Path(), fi.Size(), need, ErrCorrupt)
	}
	return nil
}
