//go:build !linux

package ring

import (
	"runtime"
	"time"
)

// Without futex the sleeper polls: futexSleep sleeps a bounded slice and the
// caller re-checks. pollSlice keeps the wake-up latency of an idle ring near
// a millisecond at a few hundred wake-ups a second.
const pollSlice = time.Millisecond

func futexSleep(_ *uint32, _ uint32, d time.Duration) {
	time.Sleep(min(d, pollSlice))
}

// futexWakeAll cannot tell whom it woke: pollers wake by themselves.
func futexWakeAll(*uint32) int { return -1 }

func osYield() { runtime.Gosched() }

func registerFence() {}

// fenceRegistered: no process here is covered by a remote barrier.
func fenceRegistered() bool { return false }

// processFence: announceBusy is an atomic store here (plainBusy is false).
func processFence() {}

// remoteFence: there is no cross-process barrier here, so sleeps stay short
// (pollSlice) and a missed wake-up costs at most one slice.
func remoteFence() bool { return false }
