//go:build unix && !linux

package ring

import (
	"os"

	"golang.org/x/sys/unix"
)

// processAlive asks the kernel with kill(pid, 0): ESRCH is the only proof
// of death here. Without /proc there is no start time, so a reused pid
// looks alive (recovery then waits for the new process with that pid to
// exit), and neither is there a zombie's state, so a zombie looks alive
// until its parent reaps it.
func processAlive(pid int, _ uint64) bool {
	return unix.Kill(pid, 0) != unix.ESRCH
}

func readSelf() identity { return identity{pid: uint32(os.Getpid())} }
