package ring

// Process liveness: who may take over a role or undo a claim.
//
// A process record names its owner by pid, start time and pid namespace.
// Another process judges it dead only on proof, because a wrong "dead" lets
// two producers write one slot, while a wrong "alive" only delays recovery:
//
//   - kill(pid, 0) says ESRCH: no process has the pid;
//   - the process has exited and waits for its parent to reap it (a zombie:
//     kill succeeds on it), seen through a pidfd or in /proc/PID/stat;
//   - /proc/PID/stat shows a start time other than the one on record (both
//     known): the pid now belongs to another process.
//
// Everything else means alive: EPERM from kill (another user's process), a
// /proc entry that is hidden (hidepid=1 or 2) or missing, no /proc at all, a
// record from another pid namespace, or one whose namespace only one side
// knows.
//
// /proc is believed only when it shows this process as itself: when
// /proc/self/stat is readable and holds our pid. Otherwise (no /proc, an
// empty file system over it, the proc of another pid namespace) this process
// records no start time and judges others by kill and pidfd alone.
//
// What that leaves undetected, and so unrecovered until it changes:
//
//   - A reused pid, where /proc cannot show the start time: without a /proc
//     we believe, with hidepid for another user's processes, or for an owner
//     that recorded no start time. A dead owner whose pid now belongs to a
//     live process counts as alive until that process exits as well.
//   - A zombie on kernels before 5.3 (no pidfd) without a readable /proc
//     entry: it counts as alive until its parent reaps it.
//   - A record from another pid namespace, or from a process that could not
//     learn its namespace (no /proc, and a kernel before 6.11, which cannot
//     name the namespace of a pidfd), when the judge knows its own: the pid
//     means nothing certain here, so the owner counts as alive for as long
//     as the record stays. Two processes that both know no namespace judge
//     each other's pids as their own: they are assumed to share one.

import (
	"math"
	"sync"
	"sync/atomic"
)

// identity is what a process writes in a process record so that others can
// later tell whether it is still alive.
type identity struct {
	pid   uint32
	start uint64 // start time in clock ticks since boot (Linux); 0: unknown
	pidns uint64 // pid namespace inode (Linux); 0: unknown
	// proc: /proc shows this process as itself, so its entries for other
	// pids can be believed. Not recorded: it is about the judge, not the
	// judged.
	proc bool
}

var (
	selfOnce sync.Once
	selfID   identity
	tokens   atomic.Uint32 // handle tokens of this process
)

// self returns this process's identity, read once.
func self() identity {
	selfOnce.Do(func() { selfID = readSelf() })
	return selfID
}

// newOwner returns an owner word for a new handle: the pid and a token that
// tells this handle from the process's other handles.
func newOwner() uint64 {
	t := tokens.Add(1)
	if t == 0 {
		t = tokens.Add(1)
	}
	return uint64(self().pid)<<32 | uint64(t)
}

func ownerPID(owner uint64) int { return int(owner >> 32) }

// recordAlive reports whether the process that owns a record still runs:
// false only on proof that it does not (see the top of this file). start
// and pidns are the record's, 0 where the owner did not know them.
func recordAlive(owner, start, pidns uint64) bool {
	pid := ownerPID(owner)
	if pid <= 0 || pid > math.MaxInt32 {
		return false // no pid_t holds it: no process ever wrote it
	}
	if !sameNamespace(pidns, self().pidns) {
		return true // its pid means nothing certain in our namespace
	}
	return processAlive(pid, start)
}

// sameNamespace reports whether a record's pid namespace is known to be
// ours, or unknown to both sides alike. A namespace only one side knows may
// be another one: the side that knows none may be in a container without
// /proc that shares the ring's file, but not its pids, with us.
func sameNamespace(theirs, ours uint64) bool { return theirs == ours }
