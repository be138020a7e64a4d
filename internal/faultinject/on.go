//go:build shmring_faults

package faultinject

import (
	"os"
	"sync/atomic"
)

// Enabled reports whether the fault points are compiled in.
const Enabled = true

var (
	armed     bool // set by Arm before the process starts using rings
	target    Point
	remaining atomic.Int64
)

// Arm makes the process kill itself with SIGKILL the n-th time it reaches
// point p (n >= 1). Call it before the process uses any ring, from one
// goroutine.
func Arm(p Point, n int64) {
	target = p
	remaining.Store(n)
	armed = p != None
}

// At is called by the ring at point p.
func At(p Point) {
	if armed && p == target {
		hit()
	}
}

func hit() {
	if remaining.Add(-1) == 0 {
		// SIGKILL on unix: no deferred function, no exit handler, like a
		// crash or the OOM killer.
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Kill()
		}
		select {} // the signal is on its way
	}
}
