package shmnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/ring"
)

// Dial connects to the shmnet listener at path with the default Dialer.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var d Dialer
	c, err := d.Dial(ctx, path)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Dial connects to the listener at path: it connects to the unix socket,
// makes the two rings (sealed memfds), hands them to the listener with the
// handshake and waits for its answer. ctx bounds the whole of it; once Dial
// has returned, ctx does not matter. Errors are *net.OpError values; a
// handshake the listener refused matches ErrRefused, ErrVersion or
// ErrProtocol.
func (d *Dialer) Dial(ctx context.Context, path string) (*Conn, error) {
	remote := &Addr{Path: path}
	fail := func(err error) (*Conn, error) {
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err // the unix socket's: wrap once, as shm
		}
		return nil, &net.OpError{Op: "dial", Net: Network, Addr: remote, Err: err}
	}
	send, recv, err := d.buffers()
	if err != nil {
		return fail(err)
	}
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "unix", path)
	if err != nil {
		return fail(err)
	}
	sock := raw.(*net.UnixConn)
	limit := d.HandshakeTimeout
	if limit <= 0 {
		limit = defaultHandshakeTimeout
	}
	hctx, cancel := context.WithTimeoutCause(ctx, limit,
		fmt.Errorf("shmnet: the listener did not answer the handshake within %v (is it a shmnet listener?): %w", limit, os.ErrDeadlineExceeded))
	defer cancel()
	c, err := d.handshake(hctx, sock, send, recv, remote)
	if err != nil {
		sock.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("shmnet: handshake: %w", ctx.Err())
		} else if hctx.Err() != nil {
			err = context.Cause(hctx)
		}
		return fail(err)
	}
	return c, nil
}

func (d *Dialer) handshake(ctx context.Context, sock *net.UnixConn, send, recv int, remote *Addr) (*Conn, error) {
	// The socket's calls end when ctx does, and only then: an error from
	// them is ctx's (a deadline of their own could fire first).
	stop := context.AfterFunc(ctx, func() { _ = sock.SetDeadline(aLongTimeAgo) })
	defer stop()

	up, err := ring.Anonymous(ringConfig(send))
	if err != nil {
		return nil, err
	}
	down, err := ring.Anonymous(ringConfig(recv))
	if err != nil {
		up.Close()
		return nil, err
	}
	closeRings := func() { up.Close(); down.Close() }

	h := hello{version: version, up: uint64(up.Region().Size()), down: uint64(down.Region().Size())}
	oob := unix.UnixRights(int(up.Region().File().Fd()), int(down.Region().File().Fd()))
	_, _, werr := sock.WriteMsgUnix(h.marshal(), oob, nil)
	a, err := readAck(sock) // also after a failed send: a listener that closed may have said why
	if err != nil {
		closeRings()
		if werr != nil {
			return nil, fmt.Errorf("shmnet: send the handshake: %w", werr)
		}
		return nil, err
	}
	if a.status != ackOK {
		closeRings()
		return nil, a.err()
	}
	cred, err := peerCred(sock)
	if err != nil {
		closeRings()
		return nil, err
	}
	if !stop() {
		closeRings()
		return nil, ctx.Err()
	}
	_ = sock.SetDeadline(time.Time{})
	local := &Addr{PID: os.Getpid()}
	return newConn(up, down, nil, sock, local, remote, cred, d.Wait), nil
}

// readAck reads the listener's answer.
func readAck(sock *net.UnixConn) (ack, error) {
	var head [ackSize]byte
	if n, err := io.ReadFull(sock, head[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if n > 0 && !hasMagic(head[:n]) {
				return ack{}, protoErr("the listener answered something that is not a shmnet ack: %q", head[:n])
			}
			return ack{}, &wrapError{msg: fmt.Sprintf("shmnet: the listener closed the connection after %d of the %d bytes of its answer (is it a shmnet listener?)", n, ackSize), err: ErrProtocol}
		}
		return ack{}, fmt.Errorf("shmnet: read the listener's answer: %w", err)
	}
	a, n, err := parseAck(head[:])
	if err != nil {
		return ack{}, err
	}
	if n > 0 {
		text := make([]byte, n)
		if _, err := io.ReadFull(sock, text); err != nil {
			return ack{}, fmt.Errorf("shmnet: read the listener's answer: %w", err)
		}
		a.text = printable(text)
	}
	return a, nil
}

// printable keeps the listener's text from putting control characters in
// the dialer's errors and logs.
func printable(b []byte) string {
	out := make([]rune, 0, len(b))
	for _, r := range string(b) {
		if r < ' ' || r == 0x7f || r == '\uFFFD' {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}

// aLongTimeAgo is a deadline that has passed: it ends a blocked socket call.
var aLongTimeAgo = time.Unix(1, 0)
