package ring

// The process-record protocol: who holds a role or a lane, whether that
// process still lives, and what it left counted when it died.
//
// Invariants:
//   - A record's owner word is pid<<32 | handle token, or 0 when free. Only
//     a CAS from the value just read takes it (free, or held by a process
//     proved dead), and only its owner gives it back (CAS to 0).
//   - While the claimingBit is set, start and pidns may still be the
//     previous owner's: the record is judged by the pid alone.
//   - The sleepers word of a record counts its owner's waiters (consumers
//     in the low 16 bits, producers in the high 16), and bit i of a side's
//     waiter mask is set whenever record i counts waiters of that side. A
//     waiter counts itself in the record first and sets the bit second; the
//     last waiter to leave clears the bit and looks at its count again. So
//     the mask is never missing a bit while someone waits, and whoever takes
//     a dead owner's record over puts everything right by zeroing the count
//     and clearing the bit: nothing depends on where the owner was killed.
//   - roleUnfenced in the roles word says that the owner's stores are not
//     ordered by a sleeper's membarrier (see wait.go).

import (
	"math/bits"
	"sync/atomic"
)

// claimingBit marks an owner word whose record is being filled in: its
// start and pidns words may still be the previous owner's.
const claimingBit = 1 << 31

// claimRecord makes this handle the owner of process record i and returns
// 0. A free record is taken; a record whose owner has died is taken over; a
// record held by a live process is left alone, and its owner word returned.
// recoverLane, when not nil, runs on a dead owner's record before it
// becomes ours.
func (r *Ring) claimRecord(i int, role uint32, recoverLane func(lane int)) (heldBy uint64) {
	rec := r.record(i)
	me := self()
	if !fenceRegistered() {
		role |= roleUnfenced
	}
	for {
		cur, alive := ownerOf(rec)
		if alive {
			return cur
		}
		// claimingBit: the start time below is not ours yet.
		if !atomic.CompareAndSwapUint64(&rec.owner, cur, r.owner|claimingBit) {
			continue // someone else moved first; look again
		}
		if cur != 0 {
			r.takeSleepers(i)
			if recoverLane != nil {
				recoverLane(i)
			}
		}
		atomic.StoreUint64(&rec.start, me.start)
		atomic.StoreUint64(&rec.pidns, me.pidns)
		atomic.StoreUint32(&rec.roles, role)
		atomic.StoreUint64(&rec.owner, r.owner) // the record is complete
		return 0
	}
}

// busyError says who holds what (a role): another process, or another
// handle of this one.
func busyError(what string, owner uint64) error {
	if ownerPID(owner) == int(self().pid) {
		return wrap(ErrBusy, "%s is held by another handle in this process (pid %d)", what, ownerPID(owner))
	}
	return wrap(ErrBusy, "%s is held by pid %d", what, ownerPID(owner))
}

// ownerOf returns the owner word of rec (0: free) and whether that owner's
// process is alive. A record being filled in (claimingBit) has no start
// time of its owner yet: it is judged by the pid alone.
func ownerOf(rec *record) (owner uint64, alive bool) {
	owner = atomic.LoadUint64(&rec.owner)
	if owner == 0 {
		return 0, false
	}
	start, ns := atomic.LoadUint64(&rec.start), atomic.LoadUint64(&rec.pidns)
	if owner&claimingBit != 0 {
		start = 0
	}
	return owner, recordAlive(owner, start, ns)
}

// takeSleepers clears what the dead owner of record i left counted: its
// waiters, and its bits in the waiter masks. The caller holds the record in
// the claiming state, so the dead owner's count is no longer anyone's.
func (r *Ring) takeSleepers(i int) {
	atomic.StoreUint32(&r.record(i).sleepers, 0)
	bit := uint64(1) << uint(i&(numRecords-1))
	atomic.AndUint64(r.notEmptyWait(), ^bit)
	atomic.AndUint64(r.notFullWait(), ^bit)
}

// releaseRecord gives record i back if this handle still owns it.
func (r *Ring) releaseRecord(i int) {
	atomic.CompareAndSwapUint64(&r.record(i).owner, r.owner, 0)
}

// recordOwnerAlive reports whether record i has an owner, and whether that
// owner's process is alive.
func (r *Ring) recordOwnerAlive(i int) (owned, alive bool) {
	owner, alive := ownerOf(r.record(i))
	return owner != 0, alive
}

// sweepDead takes over the records of dead processes that still count
// waiters, gives their counts and their claimed slots back, and frees them.
func (r *Ring) sweepDead() {
	for i := 0; i < numRecords; i++ {
		bit := uint64(1) << uint(i)
		if atomic.LoadUint32(&r.record(i).sleepers) == 0 &&
			atomic.LoadUint64(r.notEmptyWait())&bit == 0 && atomic.LoadUint64(r.notFullWait())&bit == 0 {
			continue
		}
		if owned, alive := r.recordOwnerAlive(i); !owned || alive {
			continue
		}
		if r.claimRecord(i, 0, r.recoverLane) == 0 {
			r.releaseRecord(i)
		}
	}
}

// waiters counts the waiters of one side from the process records.
func (r *Ring) waiters(forRoom bool) int {
	n := 0
	mask := atomic.LoadUint64(r.notEmptyWait())
	if forRoom {
		mask = atomic.LoadUint64(r.notFullWait())
	}
	for mask != 0 {
		i := bits.TrailingZeros64(mask)
		mask &= mask - 1
		c := atomic.LoadUint32(&r.record(i).sleepers)
		if forRoom {
			n += int(c >> 16)
		} else {
			n += int(c & 0xffff)
		}
	}
	return n
}

// unfencedPeer reports whether a live process that may publish to this
// side's sleepers is not registered for expedited membarriers: its stores
// are then not ordered by our membarrier, and a wake-up can be missed.
func (r *Ring) unfencedPeer() bool {
	for i := 0; i < numRecords; i++ {
		rec := r.record(i)
		if atomic.LoadUint32(&rec.roles)&roleUnfenced == 0 {
			continue
		}
		if _, alive := ownerOf(rec); alive {
			return true
		}
	}
	return false
}
