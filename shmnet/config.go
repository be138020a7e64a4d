package shmnet

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/shmring/shmring/ring"
)

// Sizes of the rings that carry a connection's bytes, one per direction:
// the bytes of each ring's data area (its header page comes on top).
const (
	// DefaultBuffer is the size of each direction's ring when the Dialer
	// does not say.
	DefaultBuffer = 1 << 20
	// MinBuffer is the smallest ring a Dialer may ask for: one page, which
	// holds four records of a quarter of it. A small ring costs no
	// correctness, only more waits and wake-ups per byte.
	MinBuffer = 4 << 10
	// DefaultMaxBuffer is the largest ring a listener accepts from a
	// dialer when its ListenConfig does not say.
	DefaultMaxBuffer = 64 << 20
)

// maxRecordSpan is the most bytes of a ring one record of a Write takes,
// header included.
//
// A quarter of the ring is the byte ring's own limit, and keeps four
// records in flight, so that the reader copies one out while the writer
// copies the next in. Past 64 KiB a larger record gains nothing: the
// 8-byte header is already a thousandth of a percent, net/http and gRPC
// write 4-32 KiB at a time, and a larger record only makes the reader wait
// longer for the first byte of a large Write (a record is visible once it
// is whole) and leaves more padding where a record does not fit before the
// end of the ring.
const maxRecordSpan = 64 << 10

// recordHeader is the byte ring's header per record (ring.Config): the
// largest message is a span less this, so that full records tile the data
// area without padding.
const recordHeader = 8

// ringConfig is the ring of one direction of a connection, for a buffer of
// size bytes (a power of two, at least MinBuffer). It is the one place that
// chooses the ring's kind and its largest record: both ends go by it, the
// dialer to make the rings and the listener to check what it was given.
func ringConfig(size int) ring.Config {
	return ring.Config{Kind: ring.SPSCBytes, Capacity: size, SlotSize: min(size/4, maxRecordSpan) - recordHeader}
}

// checkRing says what is wrong, if anything, with a ring a dialer sent: on
// a region of size bytes, it must be one ringConfig makes for a buffer
// within the listener's limit max, and fill the region exactly. (A ring of
// another kind would be read with another protocol; one of another largest
// record would be written in records its dialer never agreed to.)
func checkRing(cfg ring.Config, size, max int) error {
	if want := ringConfig(MinBuffer).Kind; cfg.Kind != want {
		return fmt.Errorf("a %v ring, not %v", cfg.Kind, want)
	}
	if err := checkBuffer("data area", cfg.Capacity, max); err != nil {
		return err
	}
	want := ringConfig(cfg.Capacity)
	if cfg.SlotSize != want.SlotSize {
		return fmt.Errorf("a ring of %d bytes whose largest message is %d bytes, not %d", cfg.Capacity, cfg.SlotSize, want.SlotSize)
	}
	if need, _ := ring.Size(want); size != need {
		return fmt.Errorf("a ring of %d bytes on a memfd of %d bytes, not %d", cfg.Capacity, size, need)
	}
	return nil
}

// checkBuffer validates a buffer size; what names it in errors.
func checkBuffer(what string, size, max int) error {
	switch {
	case size < MinBuffer:
		return fmt.Errorf("shmnet: %s %d is below the minimum %d", what, size, MinBuffer)
	case size > max:
		return fmt.Errorf("shmnet: %s %d is above the maximum %d", what, size, max)
	case size&(size-1) != 0:
		return fmt.Errorf("shmnet: %s %d is not a power of two", what, size)
	}
	return nil
}

// A Dialer holds the options for connecting to a listener. The zero value
// dials with the defaults.
type Dialer struct {
	// SendBuffer and ReceiveBuffer are the sizes in bytes of the rings
	// that carry data from this end to the listener and back: powers of
	// two from MinBuffer up (and up to the listener's MaxBuffer); 0 means
	// DefaultBuffer. A Write blocks while the ring it writes to is full
	// (back-pressure), so the send buffer is how far a writer can run ahead
	// of its reader, less 8 bytes per record of at most 64 KiB (a quarter
	// of the ring, if less). The dialer's process pays for both rings'
	// memory, and a 4 KiB header page each.
	SendBuffer    int
	ReceiveBuffer int
	// Wait is how this end's blocking Reads and Writes wait. The default,
	// ring.WaitBlock, spins briefly and then sleeps on a futex: an idle
	// connection costs no CPU. ring.WaitSpin never sleeps: the lowest
	// latency, at the price of a core per waiting call.
	Wait ring.WaitMode
	// HandshakeTimeout bounds how long Dial waits for the listener's
	// answer once connected, whatever ctx allows (default 10s): a listener
	// that accepts and never answers (not shmnet, or wedged) fails the
	// dial instead of hanging it, as net/http and gRPC often dial with a
	// context without a deadline.
	HandshakeTimeout time.Duration
}

func (d *Dialer) buffers() (send, recv int, err error) {
	send, recv = d.SendBuffer, d.ReceiveBuffer
	if send == 0 {
		send = DefaultBuffer
	}
	if recv == 0 {
		recv = DefaultBuffer
	}
	if err := checkBuffer("send buffer", send, 1<<30); err != nil {
		return 0, 0, err
	}
	if err := checkBuffer("receive buffer", recv, 1<<30); err != nil {
		return 0, 0, err
	}
	return send, recv, nil
}

// A ListenConfig holds the options for listening. The zero value listens
// with the defaults.
type ListenConfig struct {
	// Perm is the mode of the socket file; 0 means 0600, so that only the
	// listener's user can connect. Connecting takes write permission on it.
	Perm fs.FileMode
	// HandshakeTimeout bounds how long a dialer may take to send its
	// handshake once connected; 0 means 10 seconds. A client that connects
	// and stalls ties up its own handshake and one of the 128 the listener
	// runs at once (connections handshaken but not yet taken by Accept
	// count too) until it times out: that many stalled clients of the
	// socket's users hold new ones off for that long.
	HandshakeTimeout time.Duration
	// MaxBuffer is the largest ring, in bytes, that the listener maps for a
	// dialer; 0 means DefaultMaxBuffer. A larger one is refused.
	MaxBuffer int
	// Authorize, if not nil, is asked about every dialer before its rings
	// are looked at; an error refuses the connection (the dialer gets an
	// error matching ErrRefused that carries the text). Use it to refuse
	// other users: func(c Cred) error { if c.UID != os.Getuid() {...} }.
	Authorize func(Cred) error
	// HandshakeError, if not nil, is called with the error of every
	// connection whose handshake failed (from that handshake's goroutine);
	// the listener goes on serving the others. Connections closed before
	// sending a byte (probes, such as another Listen's check for a live
	// server) are not reported.
	HandshakeError func(error)
	// Wait is how the accepted connections' blocking calls wait (see
	// Dialer.Wait).
	Wait ring.WaitMode
}

const (
	defaultPerm             = 0o600
	defaultHandshakeTimeout = 10 * time.Second
)

func (lc *ListenConfig) resolved() (ListenConfig, error) {
	c := *lc
	if c.Perm == 0 {
		c.Perm = defaultPerm
	}
	if c.Perm&^fs.ModePerm != 0 {
		return c, fmt.Errorf("shmnet: Perm %v: only permission bits are allowed", c.Perm)
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = defaultHandshakeTimeout
	}
	if c.MaxBuffer == 0 {
		c.MaxBuffer = DefaultMaxBuffer
	}
	if err := checkBuffer("MaxBuffer", c.MaxBuffer, 1<<30); err != nil {
		return c, err
	}
	return c, nil
}
