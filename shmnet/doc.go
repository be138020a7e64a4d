// Package shmnet carries net.Conn connections over shared memory, so that
// net/http, gRPC and any protocol written against net.Conn run between
// processes on one Linux host without their bytes crossing a socket.
//
// A listener is a unix socket at a path; it serves only the rendezvous:
//
//	ln, err := shmnet.Listen("/run/app/api.sock") // a net.Listener
//	conn, err := shmnet.Dial(ctx, "/run/app/api.sock") // a net.Conn
//
// The dialer makes two byte rings (ring.SPSCBytes), one per direction,
// each on a memfd sealed against shrinking and growing, and passes both
// descriptors to the listener over the socket (SCM_RIGHTS) with a small
// versioned handshake (see handshake.go); the listener checks them, maps
// them and answers. From then on the bytes travel through the rings: a
// Write copies from its buffer straight into the ring, in records of at
// most 64 KiB, a Read copies out, and neither makes a system call while
// data flows. A call that must wait spins briefly, then sleeps
// on a futex until the other side wakes it: an idle connection costs no
// CPU.
//
// The socket stays open beside the rings, with nothing crossing it, as
// the sign that the peer lives. Each end has a goroutine parked reading
// it: when the peer closes the connection, or dies (SIGKILL included, since
// the kernel closes a dead process's sockets), that read ends, and so does
// the connection: Reads return what the peer wrote and then io.EOF, Writes
// fail with an error matching syscall.EPIPE. The memory is freed when the
// last of the two processes lets go of it, crash or not.
//
// A *Conn keeps the whole net.Conn contract: stream semantics (a Write of
// any size is cut into records; a Read returns what is there, up to
// len(p)); deadlines, also moved while a call waits, failing calls with
// os.ErrDeadlineExceeded (a net.Error with Timeout true); Close unblocking
// every pending call with net.ErrClosed; safe for concurrent use. It is
// tested against golang.org/x/net/nettest.TestConn (in the examples/grpc
// module, to keep this module's dependencies to x/sys).
//
// Security: the socket's mode (0600 by default) says who may connect, and
// ListenConfig.Authorize may refuse dialers by their credentials
// (SO_PEERCRED, also on Conn.PeerCred). A dialer can write the rings'
// memory at any time; the rings check what they read, so a hostile dialer
// can break its own connection, not the listener.
//
// shmnet needs Linux (memfd, SCM_RIGHTS, futex); elsewhere Listen and Dial
// return an error wrapping errors.ErrUnsupported.
package shmnet
