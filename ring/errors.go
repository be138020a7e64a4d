package ring

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Match them with errors.Is: most are
// returned wrapped, with the value or the operation that went wrong.
//
// Pops also return io.EOF (the ring was shut down and every queued message
// has been delivered) and io.ErrShortBuffer (the next message does not fit in
// the buffer; it stays queued).
var (
	// ErrFull: no slot is free; nothing was written.
	ErrFull = errors.New("ring: ring is full")
	// ErrEmpty: no message is queued; nothing was read.
	ErrEmpty = errors.New("ring: ring is empty")
	// ErrClosed: the ring was shut down (pushes), or this handle was closed.
	ErrClosed = errors.New("ring: ring is shut down")
	// ErrTooLarge: the message is longer than the ring's slot size.
	ErrTooLarge = errors.New("ring: message larger than the slot size")
	// ErrIncompatible: the memory does not hold a ring this package can
	// use: another magic number, version or layout.
	ErrIncompatible = errors.New("ring: not a compatible ring")
	// ErrCorrupt: a header or slot word holds a value that cannot be true.
	// Some process wrote the shared memory outside this protocol.
	ErrCorrupt = errors.New("ring: ring is corrupt")
	// ErrNotReady: the memory is being formatted by its creator (no magic
	// word yet). Retry later.
	ErrNotReady = errors.New("ring: ring is not formatted yet")
	// ErrBusy: an SPSC role (producer or consumer) is held by another live
	// process or handle, or every MPMC participant record is taken.
	ErrBusy = errors.New("ring: role is held by another process")
	// ErrPeerDead: an SPSC Pop found the ring empty and its producer
	// process dead, or a Push found it full and its consumer dead. Set
	// Options.WaitForPeer to wait for a replacement instead.
	ErrPeerDead = errors.New("ring: peer process has died")
	// ErrReadOnly: a push, pop or Shutdown on a handle from OpenReadOnly or
	// AttachReadOnly, which may only be inspected.
	ErrReadOnly = errors.New("ring: handle is read-only")
	// ErrInvalidConfig: a Config that cannot describe a ring.
	ErrInvalidConfig = errors.New("ring: invalid configuration")
)

// LayoutError reports a header field, or a configuration value, that fails
// validation. Its message names the field and the value:
//
//	ring: capacity 1000 is not a power of two
//
// Err is ErrCorrupt, ErrIncompatible or ErrInvalidConfig.
type LayoutError struct {
	Field   string // "capacity", "slot size", "magic", ...
	Value   uint64 // the value found
	Problem string // "is not a power of two"
	Err     error
}

func (e *LayoutError) Error() string {
	if e.Field == "magic" {
		return fmt.Sprintf("ring: magic %#x %s", e.Value, e.Problem)
	}
	return fmt.Sprintf("ring: %s %d %s", e.Field, e.Value, e.Problem)
}

func (e *LayoutError) Unwrap() error { return e.Err }

func corrupt(field string, value uint64, problem string) error {
	return &LayoutError{Field: field, Value: value, Problem: problem, Err: ErrCorrupt}
}

// sentinelError is an error that says in one sentence what happened and
// matches a sentinel with errors.Is, without repeating the sentinel's text:
// "ring: producer role is held by pid 12", not "...: ring: role is held".
type sentinelError struct {
	msg string
	err error
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.err }

// wrap returns an error reading "ring: " and the formatted text, matching
// sentinel.
func wrap(sentinel error, format string, args ...any) error {
	return &sentinelError{msg: "ring: " + fmt.Sprintf(format, args...), err: sentinel}
}
