package shm

// wrapError has its own text yet matches err with errors.Is: for errors whose
// kind is a standard sentinel (fs.ErrInvalid, errors.ErrUnsupported, ...) but
// whose text must say what to do about it.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }
