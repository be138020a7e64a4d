// Package message is the format of the messages the example producer and
// consumer exchange: a header that says who sent a message and in which
// order, and a checksum that proves it arrived whole.
//
//	offset  size  field
//	     0     8  producer id (u64, little-endian)
//	     8     8  sequence number: 0, 1, 2, ... for each producer
//	    16     4  length of the whole message in bytes (u32)
//	    20     4  CRC-32C of every other byte of the message (u32)
//	    24     …  payload: byte i is id*131 + seq + i (mod 256)
//
// The ring moves bytes and knows nothing of this format.
package message

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the length of the header, and so the shortest message.
const HeaderSize = 24

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli) // hardware-accelerated on amd64 and arm64
)

// Fill makes all of msg, which must be at least HeaderSize bytes long, the
// message number seq of producer id.
func Fill(msg []byte, id, seq uint64) {
	le.PutUint64(msg[0:], id)
	le.PutUint64(msg[8:], seq)
	le.PutUint32(msg[16:], uint32(len(msg)))
	base := byte(id*131 + seq)
	for i := range msg[HeaderSize:] {
		msg[HeaderSize+i] = base + byte(i)
	}
	le.PutUint32(msg[20:], checksum(msg))
}

// Check verifies msg (length and checksum) and returns its producer id and
// sequence number.
func Check(msg []byte) (id, seq uint64, err error) {
	if len(msg) < HeaderSize {
		return 0, 0, fmt.Errorf("message of %d bytes is shorter than the %d-byte header", len(msg), HeaderSize)
	}
	id, seq = le.Uint64(msg[0:]), le.Uint64(msg[8:])
	if n := le.Uint32(msg[16:]); n != uint32(len(msg)) {
		return id, seq, fmt.Errorf("message %d of producer %d: %d bytes arrived, the header says %d", seq, id, len(msg), n)
	}
	if got, want := le.Uint32(msg[20:]), checksum(msg); got != want {
		return id, seq, fmt.Errorf("message %d of producer %d: checksum %#08x, the bytes give %#08x", seq, id, got, want)
	}
	return id, seq, nil
}

// checksum is the CRC-32C of msg without its checksum field.
func checksum(msg []byte) uint32 {
	c := crc32.Update(0, castagnoli, msg[:20])
	return crc32.Update(c, castagnoli, msg[HeaderSize:])
}
