//go:build !shmring_faults

package faultinject

// Enabled reports whether the fault points are compiled in: not in this
// build (the tag shmring_faults adds them).
const Enabled = false

// Arm does nothing in a build without fault points; callers check Enabled.
func Arm(Point, int64) {}

// At is empty in a build without fault points: the compiler removes the
// calls.
func At(Point) {}
