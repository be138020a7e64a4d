package shm

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// memfdName is the name the kernel shows for an anonymous region in
// /proc/<pid>/fd and /proc/<pid>/maps ("/memfd:shmring (deleted)"); it names
// nothing in any file system.
const memfdName = "shmring"

// seals are the seals every anonymous region carries. Shrinking would make
// other processes' accesses past the new end raise SIGBUS, growing would
// change a size every process relies on, and F_SEAL_SEAL stops a process
// holding the descriptor from adding a seal such as F_SEAL_FUTURE_WRITE,
// which would forbid the others to map the region writable.
const seals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL

// Anonymous makes a region of size bytes with no name in any file system
// and maps it shared read-write: a memfd (memfd_create), with every page
// reserved, sealed against shrinking, growing and further seals. Other
// processes get it through [Region.Share]; the kernel frees it when the last
// process that maps it or holds its descriptor lets go, crash or not. A
// size larger than the memory there is room for (see "Sizes" in the package
// documentation) is refused with an error matching [ErrTooBig].
// Options: Populate, HugePages.
func Anonymous(size int, opts ...Option) (*Region, error) {
	const name = "memfd:" + memfdName
	o := collect(opts)
	if err := o.check(forAnonymous); err != nil {
		return nil, &os.PathError{Op: "anonymous", Path: name, Err: err}
	}
	if size <= 0 {
		return nil, &os.PathError{Op: "anonymous", Path: name, Err: invalid(fmt.Sprintf("size %d: a region needs at least one byte", size))}
	}
	// Reserving more than memory can hold would not fail: the kernel's OOM
	// killer would kill a process instead, perhaps this one.
	if err := checkMemory(size); err != nil {
		return nil, &os.PathError{Op: "anonymous", Path: name, Err: err}
	}
	// MFD_CLOEXEC: a child gets the descriptor only through Share.
	fd, err := unix.MemfdCreate(memfdName, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, &os.PathError{Op: "memfd_create", Path: name, Err: err}
	}
	r, err := sealAndMap(fd, name, size, o)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return r, nil
}

func sealAndMap(fd int, name string, size int, o options) (*Region, error) {
	if op, err := reserve(fd, size); err != nil {
		return nil, &os.PathError{Op: op, Path: name, Err: err}
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return nil, &os.PathError{Op: "fcntl", Path: name, Err: err}
	}
	return mapFile(fd, name, "", size, o)
}
