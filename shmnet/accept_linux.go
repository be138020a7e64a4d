package shmnet

// The listener's half of the handshake (see handshake.go). Everything the
// dialer sends is checked before it is used: the hello's fields, the
// number and kind of descriptors, each memfd's seals and size, and the ring
// header on it: a byte ring of the configuration shmnet makes (checkRing). The dialer may be any process that can connect, and may
// lie; the worst it can do is fail its own connection.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

// errProbe: the dialer closed the connection before sending a byte, as a
// liveness probe does. Not reported.
var errProbe = errors.New("shmnet: closed before the handshake")

// maxRights is how many descriptors a hello may carry before the kernel
// truncates the rest (which it closes): room for more than the two the
// protocol wants, to tell "too many" from "two".
const maxRights = 8

// seals a memfd must carry: without F_SEAL_SHRINK the dialer could
// truncate it under our mapping, and our next access would raise SIGBUS.
const requiredSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW

// handshake runs the listener's half of the handshake on sock and returns
// the connection.
func (l *Listener) handshake(sock *net.UnixConn) (*Conn, error) {
	cred, err := peerCred(sock)
	if err != nil {
		return nil, fmt.Errorf("shmnet: handshake: %w", err)
	}
	fail := func(err error) error {
		return &wrapError{msg: fmt.Sprintf("shmnet: handshake with pid %d (uid %d): %s", cred.PID, cred.UID, trimPrefix(err)), err: err}
	}
	_ = sock.SetDeadline(time.Now().Add(l.cfg.HandshakeTimeout))
	h, fds, err := readHello(sock)
	if err == nil && l.cfg.Authorize != nil {
		// After the hello, so that the dialer has sent all it will and
		// reads the answer; before its memory is looked at.
		if aerr := l.cfg.Authorize(cred); aerr != nil {
			closeAll(fds)
			refuse(sock, ackRefused, aerr.Error())
			return nil, fail(&wrapError{msg: "not authorized: " + aerr.Error(), err: ErrRefused})
		}
	}
	if err != nil {
		closeAll(fds)
		if err == errProbe {
			return nil, err
		}
		switch {
		case errors.Is(err, ErrVersion):
			refuse(sock, ackVersion, err.Error())
		case h.version != 0:
			refuse(sock, ackProtocol, err.Error()) // a shmnet dialer: tell it what went wrong
		}
		return nil, fail(err)
	}
	rx, tx, regions, err := l.attach(h, fds)
	if err != nil {
		status := uint32(ackProtocol)
		if errors.Is(err, ErrRefused) {
			status = ackRefused
		}
		refuse(sock, status, err.Error())
		return nil, fail(err)
	}
	if _, err := sock.Write(ack{version: version, status: ackOK}.marshal()); err != nil {
		tx.Close()
		rx.Close()
		for _, r := range regions {
			r.Close()
		}
		return nil, fail(fmt.Errorf("send the ack: %w", err))
	}
	_ = sock.SetDeadline(time.Time{})
	return newConn(tx, rx, regions, sock, l.addr, &Addr{PID: cred.PID}, cred, l.cfg.Wait), nil
}

// readHello reads the hello and the descriptors that come with it. The
// descriptors are returned also with an error, for the caller to close; a
// hello is returned with an error when its version is known (the dialer
// speaks shmnet, and can be told what went wrong).
func readHello(sock *net.UnixConn) (hello, []int, error) {
	buf := make([]byte, helloSize)
	oob := make([]byte, unix.CmsgSpace(maxRights*4))
	var fds []int
	var bad error // wrong descriptors: reported once the hello is in, so that the dialer can be told
	n := 0
	for n < helloSize {
		k, oobn, flags, _, err := sock.ReadMsgUnix(buf[n:], oob)
		k, oobn = max(k, 0), max(oobn, 0) // -1 with some errors
		if oobn > 0 {
			got, perr := rights(oob[:oobn])
			fds = append(fds, got...)
			if perr != nil && bad == nil {
				bad = perr
			}
		}
		if flags&unix.MSG_CTRUNC != 0 && bad == nil {
			bad = protoErr("more than %d descriptors came with the hello; it takes 2", maxRights)
		}
		n += k
		if !hasMagic(buf[:n]) {
			return hello{}, fds, protoErr("not a shmnet dialer: it sent %q", buf[:n])
		}
		if n == helloSize {
			break
		}
		if eof := errors.Is(err, io.EOF) || err == nil && k == 0 && oobn == 0; eof || err != nil {
			switch {
			case eof && n == 0:
				return hello{}, fds, errProbe
			case eof:
				return hello{}, fds, protoErr("the dialer closed the connection after %d of the %d bytes of the hello", n, helloSize)
			}
			return hello{}, fds, fmt.Errorf("shmnet: read the hello (%d of %d bytes): %w", n, helloSize, err)
		}
	}
	h, err := parseHello(buf)
	if err != nil {
		return h, fds, err
	}
	if bad != nil {
		return h, fds, bad
	}
	if len(fds) != 2 {
		return h, fds, protoErr("the hello came with %d descriptors; it takes 2", len(fds))
	}
	return h, fds, nil
}

// attach maps the two memfds of a hello and attaches their rings: rx, which
// the dialer writes, and tx, which it reads. On success the regions own
// fds; on failure every descriptor is closed.
func (l *Listener) attach(h hello, fds []int) (rx, tx *ring.Ring, regions []*shm.Region, err error) {
	defer func() {
		if err != nil {
			for _, r := range regions {
				r.Close()
			}
			closeAll(fds)
		}
	}()
	var ids [2]unix.Stat_t
	for i, size := range [2]uint64{h.up, h.down} {
		what := [2]string{"up", "down"}[i]
		maxSize, _ := ring.Size(ringConfig(l.cfg.MaxBuffer))
		if size > uint64(maxSize) {
			return nil, nil, regions, &wrapError{msg: fmt.Sprintf("shmnet: the %s ring of %d bytes is larger than this listener takes (%d; ListenConfig.MaxBuffer)", what, size, maxSize), err: ErrRefused}
		}
		if err := checkMemfd(fds[i], size, &ids[i]); err != nil {
			return nil, nil, regions, protoErr("the %s descriptor: %v", what, err)
		}
		if i == 1 && ids[0].Dev == ids[1].Dev && ids[0].Ino == ids[1].Ino {
			return nil, nil, regions, protoErr("the up and down descriptors are the same memory")
		}
		reg, err := shm.FromFD(fds[i])
		if err != nil {
			return nil, nil, regions, protoErr("the %s descriptor: %v", what, err)
		}
		fds[i] = -1 // the region's now
		regions = append(regions, reg)
	}
	var rings [2]*ring.Ring
	for i, reg := range regions {
		what := [2]string{"up", "down"}[i]
		r, err := ring.Attach(reg.Bytes())
		if err == nil {
			if err = checkRing(r.Config(), reg.Size(), l.cfg.MaxBuffer); err != nil {
				r.Close()
			}
		}
		if err != nil {
			if rings[0] != nil {
				rings[0].Close()
			}
			return nil, nil, regions, protoErr("the %s ring: %s", what, trimPrefix(err))
		}
		rings[i] = r
	}
	closeAll(fds[2:])
	return rings[0], rings[1], regions, nil
}

// checkMemfd checks that fd is a memfd of size bytes sealed against
// shrinking and growing, and fills st.
func checkMemfd(fd int, size uint64, st *unix.Stat_t) error {
	if err := unix.Fstat(fd, st); err != nil {
		return fmt.Errorf("fstat: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s, not a memfd", describeFD(st))
	}
	seals, err := shm.Seals(fd)
	if err != nil {
		return fmt.Errorf("a file that carries no seals, not a memfd (%v)", err)
	}
	if seals&requiredSeals != requiredSeals {
		return fmt.Errorf("a memfd not sealed against shrinking and growing (seals %#x)", seals)
	}
	if uint64(st.Size) != size {
		return fmt.Errorf("a memfd of %d bytes; the hello said %d", st.Size, size)
	}
	return nil
}

// refuse tells a shmnet dialer why the listener does not take it. The
// connection is closed next whatever happens, so errors do not matter.
func refuse(sock *net.UnixConn, status uint32, text string) {
	_, _ = sock.Write(ack{version: version, status: status, text: text}.marshal())
}

// trimPrefix returns err's text without the "shmnet: " or "ring: " it
// starts with, for errors that wrap it in a sentence of their own.
func trimPrefix(err error) string {
	s := err.Error()
	for _, p := range []string{"shmnet: ", "ring: "} {
		if len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}
