package shmnet

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listen listens for shmnet connections at path, a unix socket it makes
// there, with the default ListenConfig.
func Listen(path string) (net.Listener, error) {
	var lc ListenConfig
	l, err := lc.Listen(path)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Listener is a shmnet listener: a net.Listener whose Accept returns a
// *Conn. A dialer that fails its handshake is reported to
// ListenConfig.HandshakeError and dropped; Accept goes on with the others.
type Listener struct {
	cfg      ListenConfig
	ln       *net.UnixListener
	addr     *Addr
	dev, ino uint64 // the socket file's, to unlink it on Close only if it is still ours

	ready  chan *Conn    // handshakes done, waiting for Accept
	errs   chan error    // temporary errors of the unix socket's accept, for Accept to return
	broken chan struct{} // closed when the unix socket's accept failed for good, with fatal set
	fatal  error
	slots  chan struct{} // one per handshake in progress or connection waiting for Accept
	done   chan struct{} // closed by Close
	closer sync.Once

	mu      sync.Mutex
	pending map[*net.UnixConn]struct{} // handshakes in progress; Close ends them
	wg      sync.WaitGroup             // the accept loop and the handshakes
}

// maxPending bounds the handshakes in progress plus the connections that
// wait for Accept; past it the listener stops accepting on the unix socket,
// and the kernel's backlog makes further dialers wait.
const maxPending = 128

// listenBacklog is the unix socket's backlog (the kernel caps it at
// net.core.somaxconn).
const listenBacklog = 4096

// Listen listens at path. It makes a unix socket there with mode Perm
// (0600 by default: from its creation, nobody else may connect). A socket
// that a live server listens on is left alone: Listen fails with an error
// matching syscall.EADDRINUSE. One left behind by a server that died (it
// refuses connections) is removed and replaced. Anything else at path is
// left alone too, and Listen fails.
func (lc *ListenConfig) Listen(path string) (*Listener, error) {
	cfg, err := lc.resolved()
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: Network, Addr: &Addr{Path: path}, Err: err}
	}
	ln, st, err := bindUnix(path, cfg.Perm)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: Network, Addr: &Addr{Path: path}, Err: err}
	}
	l := &Listener{
		cfg:     cfg,
		ln:      ln,
		addr:    &Addr{Path: path},
		dev:     st.Dev,
		ino:     st.Ino,
		ready:   make(chan *Conn),
		errs:    make(chan error),
		broken:  make(chan struct{}),
		slots:   make(chan struct{}, maxPending),
		done:    make(chan struct{}),
		pending: make(map[*net.UnixConn]struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// bindUnix makes a listening unix socket at path with mode perm, after
// removing a stale socket there.
func bindUnix(path string, perm fs.FileMode) (*net.UnixListener, *unix.Stat_t, error) {
	// Two servers starting at once on the same path would each find the
	// old socket stale, and the second would remove the first's new one:
	// the check, the removal and the bind happen under a lock on the
	// directory.
	unlock := lockDir(filepath.Dir(path))
	defer unlock()
	if err := removeStale(path); err != nil {
		return nil, nil, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socket", err)
	}
	// The file bind makes gets the socket's mode less the umask: set the
	// mode first, so that nobody else can connect in between; chmod then
	// gives back what the umask took.
	if err := unix.Fchmod(fd, uint32(perm)); err != nil {
		unix.Close(fd)
		return nil, nil, os.NewSyscallError("fchmod", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, nil, os.NewSyscallError("bind", err)
	}
	fail := func(err error) (*net.UnixListener, *unix.Stat_t, error) {
		unix.Close(fd)
		_ = os.Remove(path)
		return nil, nil, err
	}
	if err := unix.Chmod(path, uint32(perm)); err != nil {
		return fail(&os.PathError{Op: "chmod", Path: path, Err: err})
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fail(&os.PathError{Op: "lstat", Path: path, Err: err})
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		return fail(os.NewSyscallError("listen", err))
	}
	f := os.NewFile(uintptr(fd), path)
	ln, err := net.FileListener(f) // a duplicate of fd
	f.Close()
	if err != nil {
		_ = os.Remove(path)
		return nil, nil, err
	}
	return ln.(*net.UnixListener), &st, nil
}

// lockDir takes an exclusive flock on dir and returns its release. Without
// the lock (a directory we may not read) Listen goes on: the lock only
// guards against a race between servers.
func lockDir(dir string) (unlock func()) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return func() {}
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	return func() { unix.Close(fd) } // closing the descriptor releases the lock
}

// removeStale removes a socket at path that nobody listens on.
func removeStale(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return &os.PathError{Op: "listen", Path: path, Err: &wrapError{msg: "a file that is not a socket is in the way; not removing it", err: fs.ErrExist}}
	}
	switch err := probe(path); err {
	case nil, unix.EAGAIN:
		return &os.PathError{Op: "listen", Path: path, Err: &wrapError{msg: "a live server is listening there", err: syscall.EADDRINUSE}}
	case unix.ECONNREFUSED:
		if err := unix.Unlink(path); err != nil && err != unix.ENOENT {
			return &os.PathError{Op: "remove stale socket", Path: path, Err: err}
		}
		return nil
	default:
		return &os.PathError{Op: "listen", Path: path, Err: fmt.Errorf("cannot tell whether a server is listening on the socket there: connect: %w", err)}
	}
}

// probe connects to the socket at path without waiting: nil or EAGAIN (a
// full backlog) says a server listens; ECONNREFUSED says none does.
func probe(path string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			return err
		}
	}
}

// Accept waits for the next connection whose handshake has succeeded and
// returns it (a *Conn). It fails only when the listener is closed (an
// error matching net.ErrClosed) or the unix socket's accept fails, with
// that error; never because of one bad dialer.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		<-l.slots
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.broken:
		return nil, l.fatal
	case <-l.done:
		return nil, l.opError("accept", net.ErrClosed)
	}
}

// Close stops listening and removes the socket file, if it is still the one
// Listen made. Handshakes in progress fail, and connections not yet
// accepted are closed; accepted connections go on. A second Close returns
// an error.
func (l *Listener) Close() error {
	err := l.opError("close", net.ErrClosed)
	l.closer.Do(func() {
		close(l.done)
		err = l.ln.Close()
		l.mu.Lock()
		for sock := range l.pending {
			sock.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
		var st unix.Stat_t
		if unix.Lstat(l.addr.Path, &st) == nil && st.Dev == l.dev && st.Ino == l.ino {
			_ = unix.Unlink(l.addr.Path)
		}
		if err != nil {
			err = l.opError("close", err)
		}
	})
	return err
}

// Addr returns the listener's address: its socket path.
func (l *Listener) Addr() net.Addr { return l.addr }

func (l *Listener) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: Network, Addr: l.addr, Err: err}
}

// acceptLoop accepts on the unix socket and starts a handshake for each
// connection, as long as fewer than maxPending are in progress or waiting.
func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return
		}
		sock, err := l.ln.AcceptUnix()
		if err != nil {
			<-l.slots
			select {
			case <-l.done:
				return
			default:
			}
			// For Accept to return: a server loop such as net/http's
			// backs off on temporary errors (EMFILE) and stops on others.
			if !isTemporary(err) {
				l.fatal = l.opError("accept", err)
				close(l.broken)
				return
			}
			select {
			case l.errs <- l.opError("accept", err):
			case <-l.done:
				return
			}
			continue
		}
		if !l.track(sock) {
			sock.Close()
			<-l.slots
			return
		}
		l.wg.Add(1)
		go l.serve(sock)
	}
}

// isTemporary reports whether accept may succeed if tried again.
func isTemporary(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM, unix.ECONNABORTED, unix.EINTR, unix.EAGAIN:
		return true
	}
	return false
}

func (l *Listener) track(sock *net.UnixConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return false
	default:
	}
	l.pending[sock] = struct{}{}
	return true
}

func (l *Listener) untrack(sock *net.UnixConn) {
	l.mu.Lock()
	delete(l.pending, sock)
	l.mu.Unlock()
}

// serve runs the handshake of one connection and hands the result to
// Accept.
func (l *Listener) serve(sock *net.UnixConn) {
	defer l.wg.Done()
	c, err := l.handshake(sock)
	l.untrack(sock)
	if err != nil {
		sock.Close()
		<-l.slots
		if err != errProbe && l.cfg.HandshakeError != nil {
			l.cfg.HandshakeError(err)
		}
		return
	}
	select {
	case l.ready <- c: // Accept frees the slot
	case <-l.done:
		c.Close()
		<-l.slots
	}
}
