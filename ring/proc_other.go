//go:build !unix

package ring

import "os"

// processAlive cannot tell on this system; it errs on the side of alive.
func processAlive(int, uint64) bool { return true }

func readSelf() identity { return identity{pid: uint32(os.Getpid())} }
