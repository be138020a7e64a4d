package shmnet_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
	"github.com/shmring/shmring/shmnet"
)

// The handshake as the protocol states it (handshake.go), written out here
// again, so that a change to the wire format shows as a failing test.
var wireMagic = []byte{0x89, 'S', 'H', 'M', 'N', 'E', 'T', '\n'}

func helloBytes(version, flags uint32, up, down uint64) []byte {
	b := make([]byte, 32)
	copy(b, wireMagic)
	binary.LittleEndian.PutUint32(b[8:], version)
	binary.LittleEndian.PutUint32(b[12:], flags)
	binary.LittleEndian.PutUint64(b[16:], up)
	binary.LittleEndian.PutUint64(b[24:], down)
	return b
}

// wireAck is an ack as read off the socket.
type wireAck struct {
	version, status uint32
	text            string
}

// readWireAck reads an ack; ok is false if the listener closed the
// connection without one.
func readWireAck(t *testing.T, c net.Conn) (a wireAck, ok bool) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	head := make([]byte, 24)
	if _, err := io.ReadFull(c, head); err != nil {
		require.ErrorIs(t, err, io.EOF, "the listener closes the connection, or answers")
		return a, false
	}
	require.Equal(t, wireMagic, head[:8])
	a.version = binary.LittleEndian.Uint32(head[8:])
	a.status = binary.LittleEndian.Uint32(head[12:])
	text := make([]byte, binary.LittleEndian.Uint32(head[16:]))
	_, err := io.ReadFull(c, text)
	require.NoError(t, err)
	a.text = string(text)
	return a, true
}

// wireVersion is the handshake's version, and wireRing the ring a
// dialer sends for a buffer of size bytes, as the protocol states them: a
// byte ring whose largest message is a quarter of it, at most 64 KiB, less
// the record's 8-byte header.
const wireVersion = 2

func wireRing(size int) ring.Config {
	return ring.Config{Kind: ring.SPSCBytes, Capacity: size, SlotSize: min(size/4, 64<<10) - 8}
}

// ringFD returns the descriptor of a fresh ring of cfg on a sealed memfd
// of extra bytes more than the ring needs, and the memfd's size; both are
// released when the test ends.
func ringFD(t *testing.T, cfg ring.Config, extra int) (int, uint64) {
	t.Helper()
	size, err := ring.Size(cfg)
	require.NoError(t, err)
	reg, err := shm.Anonymous(size + extra)
	require.NoError(t, err)
	r, err := ring.Format(reg.Bytes(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close(); reg.Close() })
	return int(reg.File().Fd()), uint64(reg.Size())
}

// memfd returns a memfd of size bytes: sealed against shrinking and
// growing, or not sealable at all.
func memfd(t *testing.T, size int, sealed bool) int {
	t.Helper()
	flags := unix.MFD_CLOEXEC
	if sealed {
		flags |= unix.MFD_ALLOW_SEALING
	}
	fd, err := unix.MemfdCreate("test", flags)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Ftruncate(fd, int64(size)))
	if sealed {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW)
		require.NoError(t, err)
	}
	return fd
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents) - 1 // the directory's own
}

// reportingListener listens and collects the handshake errors it reports.
func reportingListener(t *testing.T, lc shmnet.ListenConfig) (*shmnet.Listener, <-chan error) {
	t.Helper()
	errs := make(chan error, 16)
	lc.HandshakeError = func(err error) { errs <- err }
	ln := listen(t, &lc)
	// Echo on what gets through. The test's cleanup waits until every
	// connection is closed, so that the next test counts descriptors on a
	// quiet process.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln, errs
}

// stillServes checks that the listener at path takes a good dialer and
// carries its bytes.
func stillServes(t *testing.T, path string) {
	t.Helper()
	c, err := shmnet.Dial(context.Background(), path)
	require.NoError(t, err, "the listener serves good dialers after a bad one")
	defer c.Close()
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
}

// TestBadDialers: a dialer that does not speak shmnet, or breaks the
// handshake in any way, gets a clear error (an ack saying why, where it
// speaks shmnet enough to read one), the listener reports it, releases
// every descriptor, and goes on serving the others.
func TestBadDialers(t *testing.T) {
	goodUp, upSize := ringFD(t, wireRing(shmnet.MinBuffer), 0)
	goodDown, downSize := ringFD(t, wireRing(shmnet.MinBuffer), 0)
	// What a version 1 dialer sent: fixed slots of 64 KiB.
	spsc, spscSize := ringFD(t, ring.Config{Kind: ring.SPSC, Capacity: 2, SlotSize: 64 << 10}, 0)
	mpmc, mpmcSize := ringFD(t, ring.Config{Kind: ring.MPMC, Capacity: 2, SlotSize: 64 << 10}, 0)
	mpsc, mpscSize := ringFD(t, ring.Config{Kind: ring.MPSCBytes, Capacity: shmnet.MinBuffer}, 0)
	small, smallSize := ringFD(t, wireRing(shmnet.MinBuffer/2), 0)
	odd, oddSize := ringFD(t, ring.Config{Kind: ring.SPSCBytes, Capacity: shmnet.MinBuffer}, 0) // the ring's own default: a quarter
	roomy, roomySize := ringFD(t, wireRing(shmnet.MinBuffer), 4096)
	zeros := memfd(t, int(upSize), true)
	unsealed := memfd(t, int(upSize), false)
	var pipe [2]int
	require.NoError(t, unix.Pipe2(pipe[:], unix.O_CLOEXEC))
	t.Cleanup(func() { unix.Close(pipe[0]); unix.Close(pipe[1]) })
	file, err := os.Create(filepath.Join(t.TempDir(), "file"))
	require.NoError(t, err)
	t.Cleanup(func() { file.Close() })
	require.NoError(t, file.Truncate(int64(upSize)))
	fileFD := int(file.Fd())

	hello := helloBytes(wireVersion, 0, upSize, downSize)
	for _, tc := range []struct {
		name   string
		data   []byte
		fds    []int
		status int    // the ack's status; -1: no ack, the connection is closed
		is     error  // what the reported error matches
		text   string // and says
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), nil, -1, shmnet.ErrProtocol, `not a shmnet dialer: it sent "GET / HT`},
		{"version 1", helloBytes(1, 0, spscSize, downSize), []int{spsc, goodDown}, 1, shmnet.ErrVersion, "the dialer speaks handshake version 1, this listener 2"},
		{"version 3", helloBytes(3, 0, upSize, downSize), []int{goodUp, goodDown}, 1, shmnet.ErrVersion, "version 3"},
		{"flags", helloBytes(wireVersion, 4, upSize, downSize), []int{goodUp, goodDown}, 2, shmnet.ErrProtocol, "flags 0x4"},
		{"truncated", hello[:20], []int{goodUp, goodDown}, -1, shmnet.ErrProtocol, "after 20 of the 32 bytes"},
		{"no descriptors", hello, nil, 2, shmnet.ErrProtocol, "0 descriptors"},
		{"one descriptor", hello, []int{goodUp}, 2, shmnet.ErrProtocol, "1 descriptors"},
		{"three descriptors", hello, []int{goodUp, goodDown, goodUp}, 2, shmnet.ErrProtocol, "3 descriptors"},
		{"nine descriptors", hello, []int{goodUp, goodDown, goodUp, goodDown, goodUp, goodDown, goodUp, goodDown, goodUp}, 2, shmnet.ErrProtocol, "more than 8 descriptors"},
		{"size lies", helloBytes(wireVersion, 0, upSize+4096, downSize), []int{goodUp, goodDown}, 2, shmnet.ErrProtocol, "the hello said"},
		{"unsealed memfd", hello, []int{unsealed, goodDown}, 2, shmnet.ErrProtocol, "not sealed against shrinking"},
		{"regular file", hello, []int{fileFD, goodDown}, 2, shmnet.ErrProtocol, "carries no seals"},
		{"pipe", hello, []int{pipe[0], goodDown}, 2, shmnet.ErrProtocol, "a pipe, not a memfd"},
		{"same memory twice", helloBytes(wireVersion, 0, upSize, upSize), []int{goodUp, goodUp}, 2, shmnet.ErrProtocol, "the same memory"},
		{"not a ring", hello, []int{zeros, goodDown}, 2, shmnet.ErrProtocol, "the up ring"},
		{"spsc ring", helloBytes(wireVersion, 0, spscSize, downSize), []int{spsc, goodDown}, 2, shmnet.ErrProtocol, "the up ring: a spsc ring, not spsc-bytes"},
		{"mpmc ring", helloBytes(wireVersion, 0, upSize, mpmcSize), []int{goodUp, mpmc}, 2, shmnet.ErrProtocol, "the down ring: a mpmc ring, not spsc-bytes"},
		{"mpsc-bytes ring", helloBytes(wireVersion, 0, mpscSize, downSize), []int{mpsc, goodDown}, 2, shmnet.ErrProtocol, "a mpsc-bytes ring, not spsc-bytes"},
		{"ring below the minimum", helloBytes(wireVersion, 0, upSize, smallSize), []int{goodUp, small}, 2, shmnet.ErrProtocol, "the down ring: data area 2048 is below the minimum 4096"},
		{"other largest message", helloBytes(wireVersion, 0, oddSize, downSize), []int{odd, goodDown}, 2, shmnet.ErrProtocol, "a ring of 4096 bytes whose largest message is 1024 bytes, not 1016"},
		{"memfd larger than its ring", helloBytes(wireVersion, 0, roomySize, downSize), []int{roomy, goodDown}, 2, shmnet.ErrProtocol, "a ring of 4096 bytes on a memfd of 12288 bytes, not 8192"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, errs := reportingListener(t, shmnet.ListenConfig{})
			path := ln.Addr().String()
			before := openFDs(t)

			c, err := net.Dial("unix", path)
			require.NoError(t, err)
			uc := c.(*net.UnixConn)
			var oob []byte
			if tc.fds != nil {
				oob = unix.UnixRights(tc.fds...)
			}
			_, _, err = uc.WriteMsgUnix(tc.data, oob, nil)
			require.NoError(t, err)
			if tc.name == "truncated" {
				require.NoError(t, uc.CloseWrite())
			}
			a, ok := readWireAck(t, uc)
			if tc.status < 0 {
				assert.False(t, ok, "no ack for %s: %+v", tc.name, a)
			} else if assert.True(t, ok, "an ack") {
				assert.Equal(t, uint32(tc.status), a.status)
				assert.Equal(t, uint32(wireVersion), a.version)
				assert.Contains(t, a.text, tc.text, "the ack says what went wrong")
				_, ok := readWireAck(t, uc)
				assert.False(t, ok, "and the listener closes the connection")
			}
			c.Close()

			err = <-errs
			assert.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.text)
			assert.True(t, strings.HasPrefix(err.Error(), "shmnet: handshake with pid "), err.Error())
			assert.Equal(t, 1, strings.Count(err.Error(), "shmnet:"), "one prefix: %s", err)
			t.Log(err)
			assert.Equal(t, before, openFDs(t), "descriptors left open")
			stillServes(t, path)
		})
	}
}

// TestGoodRawHandshake: a dialer written from the protocol's statement,
// not with Dial, gets an ack and a working connection.
func TestGoodRawHandshake(t *testing.T) {
	ln, errs := reportingListener(t, shmnet.ListenConfig{})
	upFD, upSize := ringFD(t, wireRing(shmnet.MinBuffer), 0)
	downFD, downSize := ringFD(t, wireRing(64<<20), 0)
	c, err := net.Dial("unix", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, _, err = c.(*net.UnixConn).WriteMsgUnix(helloBytes(wireVersion, 0, upSize, downSize), unix.UnixRights(upFD, downFD), nil)
	require.NoError(t, err)
	a, ok := readWireAck(t, c)
	require.True(t, ok)
	assert.Equal(t, wireAck{version: wireVersion, status: 0}, a)
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// TestRefusals: a ring larger than the listener takes, and a dialer that
// Authorize refuses, get ErrRefused from Dial with the reason.
func TestRefusals(t *testing.T) {
	ln, errs := reportingListener(t, shmnet.ListenConfig{MaxBuffer: shmnet.MinBuffer})
	_, err := shmnet.Dial(context.Background(), ln.Addr().String())
	require.ErrorIs(t, err, shmnet.ErrRefused)
	assert.Contains(t, err.Error(), "MaxBuffer")
	assert.ErrorIs(t, <-errs, shmnet.ErrRefused)
	d := shmnet.Dialer{SendBuffer: shmnet.MinBuffer, ReceiveBuffer: shmnet.MinBuffer}
	c, err := d.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err, "rings within the limit are taken")
	c.Close()

	var asked shmnet.Cred
	ln, errs = reportingListener(t, shmnet.ListenConfig{Authorize: func(c shmnet.Cred) error {
		asked = c
		return errors.New("no visitors today")
	}})
	_, err = shmnet.Dial(context.Background(), ln.Addr().String())
	require.ErrorIs(t, err, shmnet.ErrRefused)
	assert.Contains(t, err.Error(), "no visitors today")
	rep := <-errs
	assert.ErrorIs(t, rep, shmnet.ErrRefused)
	assert.Contains(t, rep.Error(), "not authorized: no visitors today")
	assert.Equal(t, shmnet.Cred{PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid()}, asked)
}

// TestStalledDialer: a dialer that connects and sends nothing holds up no
// one else, and its handshake times out.
func TestStalledDialer(t *testing.T) {
	ln, errs := reportingListener(t, shmnet.ListenConfig{HandshakeTimeout: 300 * time.Millisecond})
	stalled, err := net.Dial("unix", ln.Addr().String())
	require.NoError(t, err)
	defer stalled.Close()
	_, err = stalled.Write(wireMagic[:4]) // the start of a hello, and then nothing
	require.NoError(t, err)
	stillServes(t, ln.Addr().String())
	err = <-errs
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.Contains(t, err.Error(), "4 of 32 bytes")
}

// TestProbesNotReported: a connection closed before it sent anything (as
// Listen's check for a live server does) is not a handshake error.
func TestProbesNotReported(t *testing.T) {
	ln, errs := reportingListener(t, shmnet.ListenConfig{})
	c, err := net.Dial("unix", ln.Addr().String())
	require.NoError(t, err)
	c.Close()
	stillServes(t, ln.Addr().String())
	require.NoError(t, ln.Close()) // waits for every handshake
	select {
	case err := <-errs:
		t.Fatalf("a probe was reported: %v", err)
	default:
	}
}

// fakeListener accepts unix connections at a fresh path and answers each
// with answer, then closes it.
func fakeListener(t *testing.T, answer []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 32)
			_, _ = io.ReadFull(c, buf)
			_, _ = c.Write(answer)
			c.Close()
		}
	}()
	return path
}

func ackBytes(version, status uint32, text string, textLen uint32) []byte {
	b := make([]byte, 24, 24+len(text))
	copy(b, wireMagic)
	binary.LittleEndian.PutUint32(b[8:], version)
	binary.LittleEndian.PutUint32(b[12:], status)
	binary.LittleEndian.PutUint32(b[16:], textLen)
	return append(b, text...)
}

// TestBadListeners: Dial tells a listener that is not shmnet, or answers
// wrongly, from one that refuses, and releases its rings.
func TestBadListeners(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer []byte
		is     error
		text   string
	}{
		{"http", []byte("HTTP/1.0 400 Bad Request\r\n\r\n"), shmnet.ErrProtocol, "not a shmnet ack"},
		{"silent", nil, shmnet.ErrProtocol, "after 0 of the 24 bytes"},
		{"short", wireMagic[:5], shmnet.ErrProtocol, "after 5 of the 24 bytes"},
		{"version 1", ackBytes(1, 1, "speak 1", 7), shmnet.ErrVersion, "the listener speaks handshake version 1, this dialer 2: speak 1"},
		{"version 3", ackBytes(3, 1, "speak 3", 7), shmnet.ErrVersion, "the listener speaks handshake version 3, this dialer 2: speak 3"},
		{"refused", ackBytes(wireVersion, 3, "go away\x1b[31m", 12), shmnet.ErrRefused, "go away?[31m"},
		{"huge text", ackBytes(wireVersion, 3, "", 5000), shmnet.ErrProtocol, "above the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := fakeListener(t, tc.answer)
			before := openFDs(t)
			c, err := shmnet.Dial(context.Background(), path)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.text)
			assert.Equal(t, before, openFDs(t), "Dial left descriptors open")
		})
	}
}
