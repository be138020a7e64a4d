package shmnet

import (
	"errors"
	"syscall"
)

// Errors of the handshake, matched with errors.Is. Dial returns them wrapped
// in a *net.OpError; a listener hands them to ListenConfig.HandshakeError.
var (
	// ErrProtocol: the other end does not speak the shmnet handshake, or
	// broke it: wrong magic, a truncated message, missing or extra
	// descriptors, a descriptor that is not a sealed memfd of the size the
	// handshake announced, a ring that is not of the kind and size shmnet
	// makes (a byte ring whose data area and largest record follow from
	// the buffer size, filling its memfd).
	ErrProtocol = errors.New("shmnet: handshake protocol violated")
	// ErrVersion: the two ends speak different versions of the handshake.
	ErrVersion = errors.New("shmnet: unsupported handshake version")
	// ErrRefused: the listener refused the connection (ListenConfig.Authorize
	// said no, or it could not take the rings the dialer offered).
	ErrRefused = errors.New("shmnet: connection refused")
)

// errPeerGone is the cause of the end of a connection's context when the
// peer closed its socket or died: reads drain what it wrote, then return
// io.EOF; writes fail with errBrokenPipe.
var errPeerGone = errors.New("shmnet: peer is gone")

// errBrokenPipe is what a Write returns once the peer has closed the
// connection or died: it matches syscall.EPIPE, as on a socket.
var errBrokenPipe = &wrapError{msg: "the peer has closed the connection: broken pipe", err: syscall.EPIPE}

// errReadFull stops a Read's consumption of records when its buffer is full;
// it never leaves the package.
var errReadFull = errors.New("shmnet: read buffer full")

// wrapError has a text of its own and matches err with errors.Is, so that a
// message reads as one sentence without repeating the sentinel's text.
type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }
