//go:build unix

package shm

import (
	"io/fs"
	"os"
)

// invalid reports an argument or option that can never work.
func invalid(msg string) error { return &wrapError{msg, fs.ErrInvalid} }

// errClosed is the cause of an operation on a region after Close.
var errClosed error = &wrapError{"region is closed", os.ErrClosed}
