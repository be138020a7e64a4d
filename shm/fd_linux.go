package shm

import (
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// FromFD maps the whole regular file or memfd open as fd: a descriptor this
// process received some other way than [Inherit], for instance over a unix
// socket with SCM_RIGHTS (package shmnet does this). It checks that the
// descriptor is open for the access the options need, that it is a regular
// file or memfd and that it is not empty, and maps it shared read-write
// unless [ReadOnly] or [Private] says otherwise. Options: ReadOnly, Private,
// Populate, HugePages.
//
// On success the region owns fd: it marks it close-on-exec and Close closes
// it. On failure fd is left open, and the caller still owns it.
//
// FromFD trusts whoever sent the descriptor no more than it must: it maps the
// size the file has now. A file that its sender can still shrink makes
// accesses past the new end raise SIGBUS; a receiver that does not trust the
// sender should map only memfds sealed against shrinking (F_GET_SEALS
// includes F_SEAL_SHRINK), as [Anonymous] makes them.
func FromFD(fd int, opts ...Option) (*Region, error) {
	name := "fd:" + strconv.Itoa(fd)
	o := collect(opts)
	if err := o.check(forOpen); err != nil {
		return nil, &os.PathError{Op: "map", Path: name, Err: err}
	}
	if fd < 0 {
		return nil, &os.PathError{Op: "map", Path: name, Err: invalid("not a descriptor number")}
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "map", Path: name, Err: os.NewSyscallError("fcntl", err)}
	}
	switch acc := fl & unix.O_ACCMODE; {
	case acc == unix.O_WRONLY:
		return nil, &os.PathError{Op: "map", Path: name, Err: &wrapError{"the descriptor is open write-only; a mapping needs read access", fs.ErrPermission}}
	case acc == unix.O_RDONLY && o.needWrite():
		return nil, &os.PathError{Op: "map", Path: name, Err: &wrapError{"the descriptor is open read-only; map it with shm.ReadOnly() or shm.Private()", fs.ErrPermission}}
	}
	size, op, err := mappableSize(fd)
	if err != nil {
		return nil, &os.PathError{Op: op, Path: name, Err: err}
	}
	r, err := mapFile(fd, name, "", size, o)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	return r, nil
}

// Seals returns the seals of the memfd open as fd (F_GET_SEALS: a mask of
// unix.F_SEAL_*), or an error for a descriptor that cannot carry seals, such
// as a file on disk.
func Seals(fd int) (int, error) {
	s, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return 0, &os.PathError{Op: "fcntl", Path: "fd:" + strconv.Itoa(fd), Err: fmt.Errorf("F_GET_SEALS: %w", err)}
	}
	return s, nil
}
