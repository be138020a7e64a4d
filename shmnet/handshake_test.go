package shmnet

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseHello: any bytes a dialer sends give a hello or an error, never
// a panic; a hello that parses is the one those bytes encode.
func FuzzParseHello(f *testing.F) {
	f.Add(hello{version: version, up: 1 << 20, down: 1 << 20}.marshal())
	f.Add(hello{version: version - 1, flags: 1}.marshal())
	f.Add(hello{version: version + 1, up: 1 << 20, down: 1 << 20}.marshal())
	f.Add([]byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n"))
	f.Add(magic[:])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHello(b)
		if err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrVersion) {
				t.Fatalf("an error that matches no sentinel: %v", err)
			}
			return
		}
		if h.version != version || h.flags != 0 {
			t.Fatalf("accepted %+v", h)
		}
		if !bytes.Equal(h.marshal(), b) {
			t.Fatalf("%x parses as %+v, which encodes as %x", b, h, h.marshal())
		}
	})
}

// FuzzParseAck: any bytes a listener answers give an ack or an error; the
// text length is bounded.
func FuzzParseAck(f *testing.F) {
	f.Add(ack{version: version}.marshal())
	f.Add(ack{version: version, status: ackRefused, text: "go away"}.marshal()[:ackSize])
	f.Add(ack{version: version + 1, status: ackVersion}.marshal())
	f.Add([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, n, err := parseAck(b)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("an error that is not ErrProtocol: %v", err)
			}
			return
		}
		if n < 0 || n > maxAckText {
			t.Fatalf("text length %d", n)
		}
		if a.status != ackOK && a.err() == nil {
			t.Fatalf("status %d gives no error", a.status)
		}
	})
}

func TestAckTextIsBounded(t *testing.T) {
	long := ack{version: version, status: ackRefused, text: string(bytes.Repeat([]byte("x"), 5000))}.marshal()
	a, n, err := parseAck(long[:ackSize])
	if err != nil || n != maxAckText || a.status != ackRefused {
		t.Fatalf("parseAck of a long refusal: %+v, %d, %v", a, n, err)
	}
}
