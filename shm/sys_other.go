//go:build unix && !linux

package shm

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// populateFlag is zero: MAP_POPULATE is Linux's, and Populate is only a hint.
const populateFlag = 0

// bareNamePath puts a region with a bare name in the temporary directory:
// these systems have no file system set aside for shared memory (their
// shm_open objects have no path that mmap could open).
func bareNamePath(name string) string { return filepath.Join(os.TempDir(), name) }

// reserve sets the size of the file open as fd to size bytes. It cannot
// allocate the pages here (no fallocate), so a full file system shows up as
// SIGBUS on a first store instead of an error now. It returns the call to
// blame for an error.
func reserve(fd, size int) (op string, err error) {
	return "ftruncate", ignoringEINTR(func() error { return unix.Ftruncate(fd, int64(size)) })
}

// checkFileRoom does nothing here: statfs differs from system to system,
// and ftruncate reserves nothing anyway.
func checkFileRoom(fd, size int) error { return nil }

// adviseHugePages does nothing: HugePages is advice, taken on Linux only.
func adviseHugePages([]byte) error { return nil }

// Anonymous would make a region with no name in any file system, but that
// takes Linux's memfd_create: here it returns an error wrapping
// [errors.ErrUnsupported]. Create a file-backed region instead.
func Anonymous(size int, opts ...Option) (*Region, error) {
	return nil, unsupported("memfd_create")
}
