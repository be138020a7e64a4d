// Package faultinject lets a test process kill itself at a named point of
// the ring protocol, to prove that the other processes survive it.
//
// The ring calls At on its protocol steps, in the very functions that run in
// production, fast paths included. Built without the tag shmring_faults, At
// is an empty function that the compiler removes, and Enabled is false; with
// it, At kills the process at the armed point. The crash tests build their
// child processes with the tag (see the root package's crash tests).
package faultinject

import (
	"fmt"
	"strings"
)

// Point names a step of the protocol.
type Point uint8

const (
	None Point = iota
	// AfterClaimCAS: an MPMC producer has moved the tail past its position
	// and not yet put its claim on record.
	AfterClaimCAS
	// AfterClaim: a producer has claimed a slot (MPMC: on record) and written nothing.
	AfterClaim
	// AfterCopy: a producer has copied the payload, not yet set the length.
	AfterCopy
	// BeforePublish: a producer has written the whole message, not yet published it.
	BeforePublish
	// AfterReadCAS: an MPMC consumer has moved the head past its position
	// and not yet put its claim on record.
	AfterReadCAS
	// AfterRead: a consumer has claimed a message (MPMC: on record), not yet copied it;
	// MPSCBytes: delivered it and marked it consumed, not yet wiped its record.
	AfterRead
	// AfterConsume: a consumer has copied the message out, not yet released the slot.
	AfterConsume
	// InAnnounce: a waiter has counted itself in its process record and not
	// yet set its bit in the waiter mask.
	InAnnounce
	numPoints
)

var names = [numPoints]string{"none", "after-claim-cas", "after-claim", "after-copy", "before-publish",
	"after-read-cas", "after-read", "after-consume", "in-announce"}

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
	for p := AfterClaimCAS; p < numPoints; p++ {
		ps = append(ps, p)
	}
	return ps
}
