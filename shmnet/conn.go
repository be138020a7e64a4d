package shmnet

// A connection's data path: two SPSCBytes rings, one per direction, on
// memory both processes map.
//
// Invariants:
//   - One goroutine at a time pops rx (the holder of rsem) and one at a
//     time pushes tx (the holder of wsem): the rings are single-producer,
//     single-consumer. A Write holds wsem from its first byte to its last,
//     so concurrent Writes arrive whole, one after the other. Close takes
//     both semaphores before it releases the rings, so no call is inside a
//     ring when its memory goes.
//   - A Write is cut into records of at most maxRecord bytes (ringConfig),
//     each copied once from the caller's buffer into tx and published, in
//     order; the record boundaries mean nothing to the reader.
//   - rx's first record has been returned up to roff bytes by earlier
//     Reads: a Read that cannot take a whole record copies what fits and
//     refuses the record, which stays first in line (ring.Consume on an
//     SPSCBytes ring), so no byte is copied twice and none is held outside
//     the ring.
//   - Every wait is on a context that ends on the direction's deadline,
//     on Close and when the peer goes (the watcher sees its socket close);
//     its cause says which.
//   - Close shuts tx down (the peer reads what was written, then io.EOF)
//     and rx (the peer's writes fail), then closes the socket, which the
//     peer's watcher sees.

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

// Conn is one end of a shmnet connection: a net.Conn whose bytes travel
// through two rings in shared memory, one per direction. The unix socket
// of the rendezvous stays open beside them, with nothing crossing it, as
// the sign that the peer lives: when the peer closes it, or dies, the
// connection ends. Its methods are safe for concurrent use.
//
// Reads and Writes make no system call while data flows; a call that must
// wait spins briefly, then sleeps on a futex until the peer wakes it or its
// deadline passes.
type Conn struct {
	tx, rx    *ring.Ring    // tx: this end pushes; rx: this end pops
	regions   []*shm.Region // memory under the rings that this end mapped itself, released after them
	sock      sockConn      // the rendezvous socket: liveness only
	local     *Addr
	remote    *Addr
	cred      Cred
	maxRecord int           // largest record tx takes
	pollFor   time.Duration // how long a call polls before it waits in a ring: pollFor or pollRemote

	base     context.Context         // ends on Close (net.ErrClosed) or when the peer goes (errPeerGone)
	end      context.CancelCauseFunc // ends base
	rdl, wdl deadline

	rsem, wsem chan struct{} // held by the one Read and the one Write inside a ring

	// Owned by the holder of rsem.
	roff    int    // bytes of rx's first record that earlier Reads returned
	rbuf    []byte // the buffer of the Read in progress
	rn      int    // bytes of rbuf filled
	consume func([]byte) error

	closed  atomic.Bool
	watched chan struct{} // closed when the watcher has returned
}

// sockConn is what a Conn needs of its socket: *net.UnixConn.
type sockConn interface {
	Read(b []byte) (int, error)
	Close() error
}

// newConn makes a connection on rings tx and rx (regions: memory under
// them that the connection must release after them) and starts watching
// sock.
func newConn(tx, rx *ring.Ring, regions []*shm.Region, sock sockConn, local, remote *Addr, cred Cred, wait ring.WaitMode) *Conn {
	tx.SetOptions(ring.Options{Wait: wait})
	rx.SetOptions(ring.Options{Wait: wait})
	c := &Conn{
		tx: tx, rx: rx, regions: regions, sock: sock,
		local: local, remote: remote, cred: cred,
		maxRecord: tx.Config().SlotSize,
		rsem:      make(chan struct{}, 1),
		wsem:      make(chan struct{}, 1),
		watched:   make(chan struct{}),
	}
	c.base, c.end = context.WithCancelCause(context.Background())
	c.rdl.init(c.base)
	c.wdl.init(c.base)
	c.consume = c.take
	c.pollFor = pollRemote
	if cred.PID == os.Getpid() {
		c.pollFor = pollFor
	}
	go c.watch()
	return c
}

// watch waits for the peer to go: its socket reads end of file when the
// peer closes it or dies (or an error, or a byte the protocol never sends).
// Close ends the read too, and then base has ended already.
func (c *Conn) watch() {
	defer close(c.watched)
	var b [1]byte
	_, _ = c.sock.Read(b[:])
	c.end(errPeerGone)
}

// maxTake is how many records one Read may consume: as many as fit.
const maxTake = math.MaxInt32

// Read reads up to len(p) bytes: what the peer has written and no Read has
// returned yet, waiting for at least one byte if there is none. After the
// peer closed the connection, or died, Read returns what it had written
// and then io.EOF.
func (c *Conn) Read(p []byte) (int, error) {
	ctx := c.rdl.context()
	if why := acquire(c.rsem, ctx, true); why != nil {
		return 0, c.opError("read", why)
	}
	defer release(c.rsem)
	if c.closed.Load() {
		return 0, c.opError("read", net.ErrClosed)
	}
	gone := false
	if why := ended(ctx); why != nil {
		if why != errPeerGone {
			return 0, c.opError("read", why)
		}
		gone = true
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.rbuf, c.rn = p, 0
	defer func() { c.rbuf = nil }()
	_, err := c.rx.TryConsume(maxTake, c.consume)
	if err == ring.ErrEmpty && !gone {
		err = c.poll(ctx, func() error { _, err := c.rx.TryConsume(maxTake, c.consume); return err }, ring.ErrEmpty)
	}
	if err == ring.ErrEmpty && !gone {
		_, err = c.rx.Consume(ctx, maxTake, c.consume)
		if errors.Is(err, context.Canceled) {
			why := context.Cause(ctx)
			if why != errPeerGone {
				return 0, c.opError("read", why)
			}
			// The peer is gone; what it wrote before it went is there.
			gone = true
			_, err = c.rx.TryConsume(maxTake, c.consume)
		}
	}
	n := c.rn
	switch {
	case n > 0 || err == nil || err == errReadFull:
		return n, nil // an error with the data comes back on the next Read
	case err == io.EOF, err == ring.ErrEmpty && gone, errors.Is(err, ring.ErrPeerDead):
		return 0, io.EOF
	}
	return 0, c.opError("read", err)
}

// take is the Read's ring.Consume function: it copies what fits of a
// record into the Read's buffer and refuses the record, leaving it first in
// line, if not all of it fit.
func (c *Conn) take(rec []byte) error {
	if c.rn == len(c.rbuf) {
		return errReadFull // full: not one record more, whatever its length
	}
	if len(rec) == 0 {
		// Write never makes one; a stream of them would keep a Read
		// consuming for as long as the peer likes.
		return &wrapError{msg: "shmnet: the peer sent an empty record: it broke the protocol", err: ErrProtocol}
	}
	if c.roff > len(rec) {
		// The peer rewrote a record this end had begun to read.
		return &wrapError{msg: "shmnet: a record shrank under a read: the peer broke the protocol", err: ErrProtocol}
	}
	k := copy(c.rbuf[c.rn:], rec[c.roff:])
	c.rn += k
	if c.roff+k < len(rec) {
		c.roff += k
		return errReadFull
	}
	c.roff = 0
	return nil
}

// Write writes p, waiting while the ring is full for the peer to read. It
// returns len(p), or how much was written before the deadline passed, the
// connection was closed or the peer went.
func (c *Conn) Write(p []byte) (int, error) {
	ctx := c.wdl.context()
	if why := acquire(c.wsem, ctx, false); why != nil {
		return 0, c.writeError(why)
	}
	defer release(c.wsem)
	if c.closed.Load() {
		return 0, c.opError("write", net.ErrClosed)
	}
	if why := ended(ctx); why != nil {
		return 0, c.writeError(why)
	}
	// A record at a time, each published as soon as it is copied: the
	// reader starts on the first while this copies the next.
	n := 0
	for n < len(p) {
		k := min(len(p)-n, c.maxRecord)
		if err := c.push(ctx, p[n:n+k]); err != nil {
			if errors.Is(err, context.Canceled) {
				err = context.Cause(ctx)
			}
			return n, c.writeError(err)
		}
		n += k
	}
	return n, nil
}

// push copies rec into tx as one record, waiting for room as long as ctx
// lasts. The caller holds wsem.
//
// A push copies once, from rec into the ring, as Reserve, a copy and
// Commit would; it does without the reservation's bookkeeping, which cost
// a 64-byte record 140 ns against 55 ns for the push, consumer included.
func (c *Conn) push(ctx context.Context, rec []byte) error {
	err := c.tx.TryPush(rec)
	if err == ring.ErrFull {
		err = c.poll(ctx, func() error { return c.tx.TryPush(rec) }, ring.ErrFull)
	}
	if err == ring.ErrFull {
		err = c.tx.Push(ctx, rec)
	}
	return err
}

// writeError is the error of a Write that stopped for why.
func (c *Conn) writeError(why error) error {
	switch {
	case why == errPeerGone, errors.Is(why, ring.ErrClosed), errors.Is(why, ring.ErrPeerDead):
		why = errBrokenPipe
	}
	return c.opError("write", why)
}

// Close closes the connection. Calls in flight return at once with an
// error matching net.ErrClosed. The peer reads what this end wrote, then
// io.EOF; its Writes fail from now on. A second Close returns an error.
func (c *Conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return c.opError("close", net.ErrClosed)
	}
	c.end(net.ErrClosed) // every call waiting wakes and returns
	c.rdl.stop()
	c.wdl.stop()
	c.rsem <- struct{}{} // wait for the calls inside the rings to leave
	c.wsem <- struct{}{}
	_ = c.tx.Shutdown()
	_ = c.rx.Shutdown()
	err := c.sock.Close()
	<-c.watched
	_ = c.tx.Close()
	_ = c.rx.Close()
	for _, r := range c.regions {
		_ = r.Close()
	}
	<-c.rsem // later calls take the semaphores and find the connection closed
	<-c.wsem
	if err != nil {
		return c.opError("close", err)
	}
	return nil
}

// CloseWrite shuts down the writing side: the peer reads what was written,
// then io.EOF, and Writes on this end fail. Reads go on.
func (c *Conn) CloseWrite() error {
	if c.closed.Load() {
		return c.opError("close", net.ErrClosed)
	}
	if err := c.tx.Shutdown(); err != nil {
		return c.opError("close", err)
	}
	return nil
}

// CloseRead shuts down the reading side: the peer's Writes fail, and Reads
// on this end return what was already written, then io.EOF.
func (c *Conn) CloseRead() error {
	if c.closed.Load() {
		return c.opError("close", net.ErrClosed)
	}
	if err := c.rx.Shutdown(); err != nil {
		return c.opError("close", err)
	}
	return nil
}

// LocalAddr returns this end's address: the socket path for the listening
// end, this process for the dialing end.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's address: the socket path for the dialing
// end, the dialer's process for the listening end.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// PeerCred returns who the peer process is, as the kernel saw it when the
// dialer connected (SO_PEERCRED).
func (c *Conn) PeerCred() Cred { return c.cred }

// SetDeadline sets the read and write deadlines (see net.Conn).
func (c *Conn) SetDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set deadline", net.ErrClosed)
	}
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the deadline of Reads, those waiting included: past
// it they fail with an error matching os.ErrDeadlineExceeded. The zero
// time removes it.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set deadline", net.ErrClosed)
	}
	c.rdl.set(t)
	return nil
}

// SetWriteDeadline sets the deadline of Writes, those waiting included.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set deadline", net.ErrClosed)
	}
	c.wdl.set(t)
	return nil
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: Network, Source: c.local, Addr: c.remote, Err: err}
}

// How long a call polls its ring, letting the other goroutines of its
// processor run in between, before it waits in the ring.
//
// A peer in this process: pollFor. The goroutine that will answer is one
// of ours, and the ring's wait lets it run only between its spins, and not
// at all once it sleeps in a futex call, which keeps the processor until
// the runtime takes it back: polling here first took a gRPC round trip in
// one process from 1.9 ms to about 0.1 ms on the 2-core test machine.
//
// A peer in another process: pollRemote. Polling lets this process's
// other connections run while one waits, and catches a peer that answers
// at once; but every waiter that polls takes CPU from the processes that
// would answer, and the ring's own wait spins after it. On the 2-core test
// machine, HTTP/1.1 over 2 processes and 4 connections lost about a third
// of its requests per second without polling; 16 client processes of 2
// connections (TestHTTPManyClients) lost about a fifth with 100µs; 20µs
// was about as good as the better of the two in each (indicative: medians
// of a few interleaved rounds on a busy machine).
const (
	pollFor    = 100 * time.Microsecond
	pollRemote = 20 * time.Microsecond
)

// poll calls try, yielding the processor in between, until it returns
// something other than again, ctx ends, or c.pollFor has passed; it returns
// try's last result (again if it gave up).
func (c *Conn) poll(ctx context.Context, try func() error, again error) error {
	start := time.Now()
	for i := 0; ; i++ {
		runtime.Gosched()
		if err := try(); err != again {
			return err
		}
		if i&7 == 7 && (ended(ctx) != nil || time.Since(start) > c.pollFor) {
			return again
		}
	}
}

// ended returns why ctx has ended, or nil while it has not.
func ended(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	default:
		return nil
	}
}

// acquire takes sem, or gives up when ctx ends and returns why. With
// drain, it does not give up for a peer that has gone: the Read in
// progress returns promptly, and the next may have data to return.
func acquire(sem chan struct{}, ctx context.Context, drain bool) error {
	select {
	case sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		why := context.Cause(ctx)
		if drain && why == errPeerGone {
			sem <- struct{}{}
			return nil
		}
		return why
	}
}

func release(sem chan struct{}) { <-sem }
