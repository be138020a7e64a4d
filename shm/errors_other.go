//go:build !linux

package shm

import (
	"errors"
	"fmt"
	"runtime"
)

// unsupported reports a call this system does not have.
func unsupported(call string) error {
	return &wrapError{fmt.Sprintf("shm: %s is not supported on %s", call, runtime.GOOS), errors.ErrUnsupported}
}
