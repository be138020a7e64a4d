//go:build unix

package shm

import (
	"errors"
	"io/fs"
	"os"
)

// invalid reports an argument or option that can never work.
func invalid(msg string) error { return &wrapError{msg, fs.ErrInvalid} }

// errClosed is the cause of an operation on a region after Close.
var errClosed error = &wrapError{"region is closed", os.ErrClosed}

// Why Open and Inherit refuse a file: mapping it would fail, or succeed and
// fault on the first access.
var (
	errNotRegular = errors.New("not a regular file: only regular files can be mapped")
	errEmpty      = errors.New("empty file: nothing to map")
)
