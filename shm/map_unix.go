//go:build unix

package shm

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Create makes a new file of size bytes at path and maps it shared
// read-write. A bare name (no '/') makes the file under /dev/shm (see
// [Resolve]).
//
// The file must not exist: it is created with O_CREAT|O_EXCL|O_NOFOLLOW, so
// that Create never opens someone else's file, nor follows a symbolic link
// planted at the path (even a dangling one). Its mode is exactly the one
// [Perm] gives, 0600 by default, whatever the umask. Its pages are zero.
//
// On Linux every page is reserved with fallocate before the file is mapped,
// so that a file system without room for the region fails here with ENOSPC
// instead of raising SIGBUS on a later store; before that, a size larger
// than the file system has free, or on tmpfs larger than the memory there
// is room for, is refused with an error matching [ErrTooBig]. Other systems only set the
// file's size (ftruncate): their pages are not reserved, and a full file
// system is found out by the first store into a page it cannot allocate.
//
// If Create fails after making the file, it removes the file again. Options:
// Perm, Populate, HugePages.
func Create(path string, size int, opts ...Option) (*Region, error) {
	p := Resolve(path)
	o := collect(opts)
	if err := o.check(forCreate); err != nil {
		return nil, &os.PathError{Op: "create", Path: p, Err: err}
	}
	if size <= 0 {
		return nil, &os.PathError{Op: "create", Path: p, Err: invalid(fmt.Sprintf("size %d: a region needs at least one byte", size))}
	}
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(p, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(o.perm))
		return err
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	r, err := prepare(fd, p, size, o)
	if err != nil {
		removeIfSame(p, fd)
		unix.Close(fd)
		return nil, err
	}
	return r, nil
}

// prepare gives the file Create made its mode and size and maps it.
func prepare(fd int, path string, size int, o options) (*Region, error) {
	// open applied the umask to the mode; set the mode the caller asked for.
	if err := unix.Fchmod(fd, uint32(o.perm)); err != nil {
		return nil, &os.PathError{Op: "fchmod", Path: path, Err: err}
	}
	if err := checkFileRoom(fd, size); err != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	if op, err := reserve(fd, size); err != nil {
		return nil, &os.PathError{Op: op, Path: path, Err: err}
	}
	return mapFile(fd, path, path, size, o)
}

// removeIfSame removes the file at path if it is still the file open as fd,
// so that a failed Create leaves nothing behind, yet never removes a file
// that another process put at the path after ours.
func removeIfSame(path string, fd int) {
	var ours, there unix.Stat_t
	if unix.Fstat(fd, &ours) != nil || unix.Lstat(path, &there) != nil {
		return
	}
	if ours.Dev == there.Dev && ours.Ino == there.Ino {
		// Nothing more can be done if this fails; the error that made
		// Create give up is the one worth returning.
		_ = unix.Unlink(path)
	}
}

// Open maps the whole existing file at path, shared read-write unless
// [ReadOnly] or [Private] says otherwise. A bare name (no '/') means a file
// under /dev/shm (see [Resolve]). The file must be a regular file and not
// empty; Open does not change it. Options: ReadOnly, Private, Populate,
// HugePages.
//
// A file that another process truncates while it is mapped makes accesses
// past its new end raise SIGBUS: see the package documentation.
func Open(path string, opts ...Option) (*Region, error) {
	p := Resolve(path)
	o := collect(opts)
	if err := o.check(forOpen); err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	flags := unix.O_RDONLY
	if o.needWrite() {
		flags = unix.O_RDWR
	}
	// O_NONBLOCK makes open return at once on a FIFO, which would otherwise
	// wait for a writer to turn up, so that fstat can refuse it; O_NOCTTY
	// keeps a terminal from becoming our controlling terminal on the way.
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = unix.Open(p, flags|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
		return err
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	r, err := openFile(fd, p, o)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return r, nil
}

func openFile(fd int, path string, o options) (*Region, error) {
	size, op, err := mappableSize(fd)
	if err != nil {
		return nil, &os.PathError{Op: op, Path: path, Err: err}
	}
	// Back to blocking now that the file is known to be regular (where the
	// flag changes nothing), so that os.NewFile does not take it for a
	// pollable descriptor.
	if err := unix.SetNonblock(fd, false); err != nil {
		return nil, &os.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return mapFile(fd, path, path, size, o)
}

// mappableSize returns the size of the regular file open as fd, or why it
// cannot be mapped, and the operation to blame for it.
func mappableSize(fd int) (size int, op string, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, "fstat", err
	}
	switch mode := uint32(st.Mode) & unix.S_IFMT; {
	case mode == unix.S_IFDIR:
		return 0, "open", unix.EISDIR
	case mode != unix.S_IFREG:
		return 0, "open", ErrNotRegular
	case st.Size == 0:
		return 0, "mmap", ErrEmpty
	case int64(int(st.Size)) != st.Size:
		return 0, "mmap", invalid(fmt.Sprintf("size %d does not fit in this system's int", st.Size))
	}
	return int(st.Size), "", nil
}

// mapFile maps the first size bytes of fd as o says and makes the region.
// name is what errors and File().Name() call the region; path is what Path
// returns. On success the region owns fd; on failure the caller still does.
func mapFile(fd int, name, path string, size int, o options) (*Region, error) {
	prot, flags := unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED
	if o.readOnly {
		prot = unix.PROT_READ
	}
	if o.private {
		flags = unix.MAP_PRIVATE
	}
	if o.populate {
		flags |= populateFlag
	}
	mem, err := unix.Mmap(fd, 0, size, prot, flags)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: name, Err: err}
	}
	if o.huge {
		if err := adviseHugePages(mem); err != nil {
			_ = unix.Munmap(mem) // the madvise error is the one to report
			return nil, &os.PathError{Op: "madvise", Path: name, Err: err}
		}
	}
	return &Region{
		path:     path,
		name:     name,
		size:     size,
		writable: !o.readOnly,
		mem:      mem,
		file:     os.NewFile(uintptr(fd), name),
	}, nil
}

// Remove removes the file of a file-backed region; a bare name means a file
// under /dev/shm (see [Resolve]). Processes that have the region mapped keep
// it: the memory is freed when the last of them closes it. Remove does not
// remove directories.
func Remove(path string) error {
	p := Resolve(path)
	if err := unix.Unlink(p); err != nil {
		return &os.PathError{Op: "remove", Path: p, Err: err}
	}
	return nil
}

// Sync writes the region's changed pages back to its file and waits until
// they are written (msync MS_SYNC). It matters for a region on a disk, which
// the kernel otherwise writes back when it chooses; for /dev/shm and
// anonymous regions, which have no disk, it does nothing useful.
func (r *Region) Sync() error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.mem == nil {
		return &os.PathError{Op: "msync", Path: r.name, Err: errClosed}
	}
	if err := unix.Msync(r.mem, unix.MS_SYNC); err != nil {
		return &os.PathError{Op: "msync", Path: r.name, Err: err}
	}
	return nil
}

// Close unmaps the region and closes its descriptor. The region itself
// lives on in other processes that have it mapped or hold its descriptor,
// and a file-backed region's file stays until [Remove]. Close is idempotent
// and may be called from several goroutines: the first call releases the
// region, the others return nil. Slices returned by Bytes must not be used
// afterwards.
func (r *Region) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	mem, file := r.mem, r.file
	if file == nil {
		return nil
	}
	r.mem, r.file = nil, nil
	var err error
	if e := unix.Munmap(mem); e != nil {
		err = &os.PathError{Op: "munmap", Path: r.name, Err: e}
	}
	// No retry on EINTR for close: the descriptor is gone either way.
	if e := file.Close(); e != nil && err == nil {
		err = e
	}
	return err
}

// ignoringEINTR calls fn until it returns anything but EINTR, which calls
// that may wait (open on a slow file system, fallocate, ftruncate) return
// when a signal arrives; the Go runtime's preemption signals make that
// common.
func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}
