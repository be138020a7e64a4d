package shm

import "errors"

// Why Open and Inherit refuse a file: mapping it would fail, or succeed and
// fault on the first access. They come wrapped in an *os.PathError.
var (
	// ErrNotRegular: a directory, device, FIFO or socket.
	ErrNotRegular = errors.New("not a regular file: only regular files can be mapped")
	// ErrEmpty: a file of size 0, for instance one whose creator has not
	// sized it yet.
	ErrEmpty = errors.New("empty file: nothing to map")
)

// ErrTooBig: a region larger than what can back it, refused before any
// page is reserved (see "Sizes" in the package documentation). The error
// names the size and the room; it also matches syscall.ENOSPC (room on a
// file system) or syscall.ENOMEM (memory).
var ErrTooBig = errors.New("region is larger than what can back it")

// wrapError has its own text yet matches err with errors.Is: for errors whose
// kind is a standard sentinel (fs.ErrInvalid, errors.ErrUnsupported, ...) but
// whose text must say what to do about it.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }
