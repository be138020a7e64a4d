package ring

import (
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex operations without FUTEX_PRIVATE_FLAG: the word lives in a shared
// mapping and the kernel must key the wait queue on the page, not on this
// process's address space.
const (
	futexWaitOp = 0 // FUTEX_WAIT
	futexWakeOp = 1 // FUTEX_WAKE
)

// futexSleep sleeps while *addr == val, at most d. Spurious returns are fine:
// the caller re-checks its condition.
func futexSleep(addr *uint32, val uint32, d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	// EAGAIN (the word changed), EINTR and ETIMEDOUT all mean "look again".
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWakeAll wakes every process sleeping on addr and returns how many
// it woke.
func futexWakeAll(addr *uint32) int {
	n, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp, uintptr(1<<31-1), 0, 0, 0)
	if errno != 0 {
		return -1
	}
	return int(n)
}

// osYield gives the CPU to another thread, of any process. runtime.Gosched
// would only let this process's goroutines run, and on a machine with fewer
// cores than spinning processes the one we wait for is elsewhere.
func osYield() { _, _, _ = unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// membarrier(2) commands.
const (
	membarrierQuery                    = 0
	membarrierGlobal                   = 1 << 0
	membarrierGlobalExpedited          = 1 << 1
	membarrierRegisterGlobalExpedited  = 1 << 2
	membarrierPrivateExpedited         = 1 << 3
	membarrierRegisterPrivateExpedited = 1 << 4
)

var (
	fenceOnce  sync.Once
	fenceCmd   uintptr // 0 when membarrier is unavailable
	registered bool    // this process is registered for expedited global membarriers
	privateCmd uintptr // the barrier over this process's threads; 0 when unavailable
)

// registerFence registers this process for expedited global membarriers, so
// that a sleeper in another process can make our earlier stores visible, and
// for private ones, which Close uses (see close.go). Every process that uses
// a ring calls it once, at attach. A registration refused (an old kernel, a
// seccomp filter) is recorded in our process records (roleUnfenced), so
// that sleepers know their membarrier does not cover us.
func registerFence() {
	fenceOnce.Do(func() {
		mask, _, errno := unix.RawSyscall(unix.SYS_MEMBARRIER, membarrierQuery, 0, 0)
		if errno != 0 {
			return
		}
		if mask&membarrierGlobalExpedited != 0 {
			if _, _, errno := unix.RawSyscall(unix.SYS_MEMBARRIER, membarrierRegisterGlobalExpedited, 0, 0); errno == 0 {
				fenceCmd, registered = membarrierGlobalExpedited, true
			}
		}
		if fenceCmd == 0 && mask&membarrierGlobal != 0 {
			fenceCmd = membarrierGlobal
		}
		if mask&membarrierPrivateExpedited != 0 {
			if _, _, errno := unix.RawSyscall(unix.SYS_MEMBARRIER, membarrierRegisterPrivateExpedited, 0, 0); errno == 0 {
				privateCmd = membarrierPrivateExpedited
				plainBusy = true
			}
		}
	})
}

// fenceRegistered reports whether another process's membarrier orders this
// process's stores.
func fenceRegistered() bool {
	registerFence()
	return registered
}

// processFence makes every thread of this process run a full memory
// barrier. Without the private command announceBusy is a full barrier of
// its own, and nothing is needed here.
func processFence() {
	if privateCmd != 0 {
		_, _, _ = unix.Syscall(unix.SYS_MEMBARRIER, privateCmd, 0, 0)
	}
}

// remoteFence makes every store that any registered process performed
// before this call visible to this process's later loads, and every load
// those processes perform after it see this process's earlier stores. It is
// the heavy half of an asymmetric Dekker handshake: the light half is the
// plain publish-then-check-waiters of the fast path, which needs no fence.
// It reports false when the kernel offers no such barrier; the caller must
// then sleep in short slices, because a wake-up can be missed.
func remoteFence() bool {
	if fenceCmd == 0 {
		return false
	}
	_, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, fenceCmd, 0, 0)
	return errno == 0
}
