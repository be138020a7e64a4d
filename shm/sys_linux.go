package shm

import "golang.org/x/sys/unix"

// populateFlag pre-faults a mapping when Populate asks for it.
const populateFlag = unix.MAP_POPULATE

// bareNamePath puts a region with a bare name in /dev/shm, the tmpfs every
// Linux system mounts for shared memory (where shm_open puts its objects).
func bareNamePath(name string) string { return "/dev/shm/" + name }

// reserve sets the size of the file open as fd to size bytes and allocates
// every page of it, so that a full file system says ENOSPC now rather than
// SIGBUS when a page is first touched. A file system that cannot fallocate
// gets its size set only. It returns the call to blame for an error.
func reserve(fd, size int) (op string, err error) {
	err = ignoringEINTR(func() error { return unix.Fallocate(fd, 0, 0, int64(size)) })
	if err != unix.EOPNOTSUPP {
		return "fallocate", err
	}
	return "ftruncate", ignoringEINTR(func() error { return unix.Ftruncate(fd, int64(size)) })
}

// adviseHugePages asks for transparent huge pages under mem. A kernel built
// without them answers EINVAL, which is no reason to fail: the advice is
// only advice.
func adviseHugePages(mem []byte) error {
	if err := unix.Madvise(mem, unix.MADV_HUGEPAGE); err != nil && err != unix.EINVAL {
		return err
	}
	return nil
}
