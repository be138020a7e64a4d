package ring

import (
	"os"
	"sync"
	"sync/atomic"
)

// identity is what a process writes in a process record so that others can
// later tell whether it is still alive.
type identity struct {
	pid   uint32
	start uint64 // start time in clock ticks since boot (Linux); 0 elsewhere
	pidns uint64 // pid namespace inode (Linux); 0 elsewhere
}

var (
	selfOnce sync.Once
	selfID   identity
	tokens   atomic.Uint32 // handle tokens of this process
)

// self returns this process's identity, read once.
func self() identity {
	selfOnce.Do(func() {
		pid := os.Getpid()
		selfID = identity{pid: uint32(pid), start: startTime(pid), pidns: pidNamespace()}
	})
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

// recordAlive reports whether the process that owns a record still runs.
// When it cannot tell (another pid namespace, no /proc, a permission
// error) it answers true: treating a live process as dead would let another
// process overwrite a slot it is still writing, while treating a dead one
// as alive only delays recovery.
func recordAlive(owner, start, pidns uint64) bool {
	pid := ownerPID(owner)
	if pid <= 0 {
		return false
	}
	if me := self(); pidns != 0 && me.pidns != 0 && pidns != me.pidns {
		return true // its pid means nothing in our namespace
	}
	return processAlive(pid, start)
}
