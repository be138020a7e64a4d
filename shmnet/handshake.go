package shmnet

// The handshake, on the unix socket, before any data moves.
//
//	dialer                                   listener
//	connect(path)                 ------>    accept; SO_PEERCRED; Authorize
//	hello + SCM_RIGHTS{up, down}  ------>    check the hello, fstat and seals of
//	                                         both memfds, map them, attach the rings
//	                              <------    ack (status 0, or why not)
//	... data through the rings; the socket stays open, silent, until one
//	end closes it or dies ...
//
// hello, 32 bytes, little-endian:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            magic "\x89SHMNET\n" (8 bytes)                     |
//	|                                                               |
//	+---------------------------------------------------------------+
//	|            version                                            |
//	+---------------------------------------------------------------+
//	|            flags (0)                                          |
//	+---------------------------------------------------------------+
//	|            bytes of the up memfd (dialer to listener)         |
//	|                                                               |
//	+---------------------------------------------------------------+
//	|            bytes of the down memfd (listener to dialer)       |
//	|                                                               |
//	+---------------------------------------------------------------+
//
// with exactly two descriptors, up then down, in one SCM_RIGHTS message
// sent with the hello's bytes. Each is a memfd sealed against shrinking and
// growing that holds exactly one ring (package ring's layout) of kind
// SPSCBytes, whose data area is a power of two bytes from MinBuffer to the
// listener's MaxBuffer and whose largest message is min(a quarter of it,
// 64 KiB) less the 8-byte record header (ringConfig). The dialer is the
// producer of up and the consumer of down.
//
// ack, 24 bytes and then text bytes:
//
//	+---------------------------------------------------------------+
//	|            magic (8 bytes)                                    |
//	+---------------------------------------------------------------+
//	|            version (the listener's)                           |
//	+---------------------------------------------------------------+
//	|            status: 0 accepted, else why not                   |
//	+---------------------------------------------------------------+
//	|            text length (at most 1024)                         |
//	+---------------------------------------------------------------+
//	|            reserved (0)                                       |
//	+---------------------------------------------------------------+
//	|            text: why not, for people                          |
//
// The magic and version come first in every version of both messages, so
// that two ends of different versions tell each other so. A listener that
// finds no magic answers nothing: the peer does not speak shmnet.

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// version is the handshake's version: 2, with SPSCBytes rings. (Version 1
// carried SPSC rings of 64 KiB slots, which version 2 refuses.)
const version = 2

var magic = [8]byte{0x89, 'S', 'H', 'M', 'N', 'E', 'T', '\n'}

const (
	helloSize  = 32
	ackSize    = 24
	maxAckText = 1024
)

// Statuses of an ack.
const (
	ackOK       = 0
	ackVersion  = 1 // the listener does not speak the dialer's version
	ackProtocol = 2 // the hello or its descriptors are not what the protocol says
	ackRefused  = 3 // Authorize refused the dialer, or the rings are too large
)

type hello struct {
	version uint32
	flags   uint32
	up      uint64 // bytes of the region of the ring the dialer writes
	down    uint64 // bytes of the region of the ring the listener writes
}

func (h hello) marshal() []byte {
	b := make([]byte, helloSize)
	copy(b, magic[:])
	binary.LittleEndian.PutUint32(b[8:], h.version)
	binary.LittleEndian.PutUint32(b[12:], h.flags)
	binary.LittleEndian.PutUint64(b[16:], h.up)
	binary.LittleEndian.PutUint64(b[24:], h.down)
	return b
}

// hasMagic reports whether b, the first bytes received, can be the start of
// a shmnet message.
func hasMagic(b []byte) bool {
	n := min(len(b), len(magic))
	return bytes.Equal(b[:n], magic[:n])
}

// parseHello decodes a hello of helloSize bytes. An error matches
// ErrProtocol or ErrVersion; with ErrVersion the hello's version is valid.
func parseHello(b []byte) (hello, error) {
	if len(b) != helloSize {
		return hello{}, protoErr("a hello of %d bytes, not %d", len(b), helloSize)
	}
	if !hasMagic(b) {
		return hello{}, protoErr("not a shmnet hello: the first bytes are %q", b[:len(magic)])
	}
	h := hello{
		version: binary.LittleEndian.Uint32(b[8:]),
		flags:   binary.LittleEndian.Uint32(b[12:]),
		up:      binary.LittleEndian.Uint64(b[16:]),
		down:    binary.LittleEndian.Uint64(b[24:]),
	}
	if h.version != version {
		return h, &wrapError{msg: fmt.Sprintf("shmnet: the dialer speaks handshake version %d, this listener %d", h.version, version), err: ErrVersion}
	}
	if h.flags != 0 {
		return h, protoErr("hello flags %#x: version %d has none", h.flags, version)
	}
	return h, nil
}

type ack struct {
	version uint32
	status  uint32
	text    string
}

func (a ack) marshal() []byte {
	text := a.text
	if len(text) > maxAckText {
		text = text[:maxAckText]
	}
	b := make([]byte, ackSize+len(text))
	copy(b, magic[:])
	binary.LittleEndian.PutUint32(b[8:], a.version)
	binary.LittleEndian.PutUint32(b[12:], a.status)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(text)))
	copy(b[ackSize:], text)
	return b
}

// parseAck decodes the fixed part of an ack and returns it with the length
// of the text that follows.
func parseAck(b []byte) (ack, int, error) {
	if len(b) != ackSize {
		return ack{}, 0, protoErr("an ack of %d bytes, not %d", len(b), ackSize)
	}
	if !hasMagic(b) {
		return ack{}, 0, protoErr("the listener answered something that is not a shmnet ack: %q", b[:len(magic)])
	}
	a := ack{
		version: binary.LittleEndian.Uint32(b[8:]),
		status:  binary.LittleEndian.Uint32(b[12:]),
	}
	n := binary.LittleEndian.Uint32(b[16:])
	if n > maxAckText {
		return a, 0, protoErr("ack text of %d bytes, above the limit %d", n, maxAckText)
	}
	return a, int(n), nil
}

// err is the dialer's error for a refusing ack.
func (a ack) err() error {
	text := a.text
	if text == "" {
		text = fmt.Sprintf("status %d", a.status)
	}
	msg := "the listener refused the connection: " + text
	switch a.status {
	case ackVersion:
		return &wrapError{msg: fmt.Sprintf("shmnet: the listener speaks handshake version %d, this dialer %d: %s", a.version, version, text), err: ErrVersion}
	case ackProtocol:
		return &wrapError{msg: "shmnet: " + msg, err: ErrProtocol}
	}
	return &wrapError{msg: "shmnet: " + msg, err: ErrRefused}
}

func protoErr(format string, args ...any) error {
	return &wrapError{msg: "shmnet: " + fmt.Sprintf(format, args...), err: ErrProtocol}
}
