//go:build !linux

package shmnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
)

// Listener would be a shmnet listener; on this system there is none (see
// the Linux documentation).
type Listener struct{}

var errUnsupported = fmt.Errorf("shmnet: not supported on %s (it needs memfd and SCM_RIGHTS on Linux): %w", runtime.GOOS, errors.ErrUnsupported)

// Listen is not supported on this system.
func Listen(path string) (net.Listener, error) {
	return nil, &net.OpError{Op: "listen", Net: Network, Addr: &Addr{Path: path}, Err: errUnsupported}
}

// Listen is not supported on this system.
func (lc *ListenConfig) Listen(path string) (*Listener, error) {
	return nil, &net.OpError{Op: "listen", Net: Network, Addr: &Addr{Path: path}, Err: errUnsupported}
}

// Accept is not supported on this system.
func (l *Listener) Accept() (net.Conn, error) { return nil, errUnsupported }

// Close does nothing: no Listener can have been made on this system.
func (l *Listener) Close() error { return nil }

// Addr returns nil.
func (l *Listener) Addr() net.Addr { return nil }

// Dial is not supported on this system.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: Network, Addr: &Addr{Path: path}, Err: errUnsupported}
}

// Dial is not supported on this system.
func (d *Dialer) Dial(ctx context.Context, path string) (*Conn, error) {
	return nil, &net.OpError{Op: "dial", Net: Network, Addr: &Addr{Path: path}, Err: errUnsupported}
}
