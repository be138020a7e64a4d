// Package faultinject lets a test process kill itself at a named point of
// the ring protocol, to prove that the other processes survive it.
//
// Production code calls At on its protocol steps; it costs one load of a
// boolean that only Arm sets. Only tests call Arm (the multiprocess tests arm
// their child processes), so a program that does not import a test never
// stops here.
package faultinject

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// Point names a step of the protocol.
type Point uint8

const (
	None Point = iota
	// AfterClaim: a producer has claimed a slot (MPMC: WRITING) and written nothing.
	AfterClaim
	// AfterCopy: a producer has copied the payload, not yet set the length.
	AfterCopy
	// BeforePublish: a producer has written the whole message, not yet published it.
	BeforePublish
	// AfterRead: a consumer has claimed a message (MPMC: READING), not yet copied it.
	AfterRead
	// AfterConsume: a consumer has copied the message out, not yet released the slot.
	AfterConsume
	numPoints
)

var names = [numPoints]string{"none", "after-claim", "after-copy", "before-publish", "after-read", "after-consume"}

func (p Point) String() string {
	if p < numPoints {
		return names[p]
	}
	return fmt.Sprintf("Point(%d)", uint8(p))
}

// Parse returns the point named s.
func Parse(s string) (Point, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return Point(i), nil
		}
	}
	return None, fmt.Errorf("faultinject: unknown point %q (want one of %s)", s, strings.Join(names[1:], ", "))
}

// Points lists every point a process can be killed at.
func Points() []Point {
	ps := make([]Point, 0, numPoints-1)
	for p := AfterClaim; p < numPoints; p++ {
		ps = append(ps, p)
	}
	return ps
}

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

// Armed reports whether any point is armed: the ring's fast paths, which
// have no fault points, step aside for its slow paths when it is.
func Armed() bool { return armed }

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
