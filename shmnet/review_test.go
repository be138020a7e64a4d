//go:build linux

package shmnet

// Adversarial review tests. Each test is bounded to a few seconds; a hang
// is reported as a failure, never waited out.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets in package ring's layout (ring/layout.go), for a hostile peer.
const (
	revOffClosed = 1 * 128
	revOffTail   = 2 * 128
	revOffHead   = 3 * 128
	revOffData   = 4096
)

func revListen(t *testing.T, lc *ListenConfig) *Listener {
	t.Helper()
	if lc == nil {
		lc = &ListenConfig{}
	}
	ln, err := lc.Listen(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func revPair(t *testing.T, d *Dialer) (client, server *Conn) {
	t.Helper()
	if d == nil {
		d = &Dialer{}
	}
	ln := revListen(t, nil)
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
		}
		acc <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, err := d.Dial(ctx, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = (<-acc).(*Conn)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func word(b []byte, off int) *uint64 { return (*uint64)(unsafe.Pointer(&b[off])) }

// within runs f and fails the test if it has not returned after d.
func within(t *testing.T, d time.Duration, what string, f func()) bool {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		t.Errorf("%s: still running after %v", what, d)
		if os.Getenv("REVIEW_STACKS") != "" {
			buf := make([]byte, 1<<20)
			t.Logf("%s", buf[:runtime.Stack(buf, true)])
		}
		return false
	}
}

// A hostile dialer fills the ring the server reads with zero-length
// records and keeps its tail a full ring ahead of the server's head. take
// accepts a zero-length record even when the Read's buffer is full, and
// TryConsume(maxTake) only stops when it catches up with the tail, so the
// server's Read spins inside the ring for as long as the peer likes,
// deaf to its deadline; and Close, which waits for rsem, hangs with it.
func TestReviewZeroLengthFloodIgnoresDeadline(t *testing.T) {
	client, server := revPair(t, &Dialer{SendBuffer: MinBuffer})
	b := client.tx.Region().Bytes()
	capUnits := uint64(client.tx.Config().Capacity / 8)
	for u := uint64(0); u < capUnits; u++ {
		atomic.StoreUint64(word(b, revOffData+int(u*8)), 1<<32) // MESSAGE, length 0
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the hostile producer: always a full ring of empty records
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := 0; i < 64; i++ {
				h := atomic.LoadUint64(word(b, revOffHead))
				atomic.StoreUint64(word(b, revOffTail), h+capUnits)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	_ = server.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	start := time.Now()
	var err error
	ok := within(t, 2*time.Second, "Read with a 100ms deadline against a flood of empty records", func() {
		_, err = server.Read(make([]byte, 16))
	})
	if ok {
		t.Logf("Read returned after %v: %v", time.Since(start), err)
	}
	// Close must not hang behind it either.
	within(t, 1*time.Second, "Close while the flooded Read runs", func() { server.Close() })
}

// A peer that writes a garbage record header into the ring after the
// handshake: the server's Read must fail, not panic, SIGBUS or hang.
func TestReviewGarbageRecordHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  uint64
	}{
		{"huge length", 1<<32 | 0xffffffff},
		{"length past the end", 1<<32 | 4000},
		{"unknown state", 9<<32 | 10},
		{"bad padding", 2<<32 | 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := revPair(t, &Dialer{SendBuffer: MinBuffer})
			b := client.tx.Region().Bytes()
			atomic.StoreUint64(word(b, revOffData), tc.hdr)
			atomic.StoreUint64(word(b, revOffTail), 8) // 8 units "published"
			var n int
			var err error
			within(t, 2*time.Second, "Read of a garbage record", func() {
				n, err = server.Read(make([]byte, 64))
			})
			if err == nil || err == io.EOF {
				t.Errorf("Read of a garbage record: n=%d err=%v, want an error", n, err)
			}
		})
	}
}

// A peer that moves the tail of the ring the server reads, or the head of
// the ring the server writes, to nonsense: an error, promptly.
func TestReviewGarbageIndices(t *testing.T) {
	t.Run("tail", func(t *testing.T) {
		client, server := revPair(t, &Dialer{SendBuffer: MinBuffer})
		b := client.tx.Region().Bytes()
		atomic.StoreUint64(word(b, revOffTail), 1<<40)
		var err error
		within(t, 2*time.Second, "Read with a garbage tail", func() { _, err = server.Read(make([]byte, 64)) })
		if err == nil || err == io.EOF {
			t.Errorf("Read with a garbage tail: %v, want an error", err)
		}
	})
	t.Run("head", func(t *testing.T) {
		client, server := revPair(t, &Dialer{ReceiveBuffer: MinBuffer})
		b := client.rx.Region().Bytes()
		atomic.StoreUint64(word(b, revOffHead), 1<<40)
		var err error
		_ = server.SetWriteDeadline(time.Now().Add(3 * time.Second))
		within(t, 4*time.Second, "Write with a garbage head", func() { _, err = server.Write(make([]byte, 4*MinBuffer)) })
		if err == nil {
			t.Errorf("Write with a garbage head: nil error")
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Write with a garbage head waited for its deadline instead of failing: %v", err)
		}
	})
}

// Close racing blocked Reads, blocked Writes (ring full) and SetDeadline
// calls from other goroutines: everything returns, with net.ErrClosed.
func TestReviewCloseRaces(t *testing.T) {
	for i := 0; i < 20; i++ {
		client, server := revPair(t, &Dialer{SendBuffer: MinBuffer, ReceiveBuffer: MinBuffer})
		_ = server
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		wg.Add(3)
		go func() { defer wg.Done(); _, err := client.Read(make([]byte, 10)); errs <- err }()
		go func() { defer wg.Done(); _, err := client.Write(make([]byte, 64*MinBuffer)); errs <- err }()
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				if client.SetDeadline(time.Now().Add(time.Hour)) != nil {
					return
				}
				runtime.Gosched()
			}
		}()
		time.Sleep(time.Millisecond * time.Duration(i%3))
		within(t, 2*time.Second, "Close", func() { client.Close() })
		if !within(t, 2*time.Second, "calls after Close", wg.Wait) {
			return
		}
		close(errs)
		for err := range errs {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("round %d: call after Close: %v, want net.ErrClosed", i, err)
			}
		}
	}
}

// A deadline moved while a Read is blocked: earlier takes effect at once,
// and a deadline that passed with no call in flight, then moved to the
// future, lets the next Read wait.
func TestReviewDeadlineMoved(t *testing.T) {
	_, server := revPair(t, nil)
	_ = server.SetReadDeadline(time.Now().Add(time.Hour))
	ch := make(chan error, 1)
	go func() { _, err := server.Read(make([]byte, 1)); ch <- err }()
	time.Sleep(20 * time.Millisecond)
	_ = server.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	select {
	case err := <-ch:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("moved deadline did not end the blocked Read")
	}
	// Deadline passes idle, then is moved forward: the next Read waits.
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
	time.Sleep(20 * time.Millisecond)
	_ = server.SetReadDeadline(time.Now().Add(time.Hour))
	go func() { _, err := server.Read(make([]byte, 1)); ch <- err }()
	select {
	case err := <-ch:
		t.Fatalf("Read after the deadline moved to the future returned at once: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	// Extended while blocked: a deadline 40ms out, moved to an hour before
	// it fires, must not fire.
	_ = server.SetReadDeadline(time.Now().Add(40 * time.Millisecond))
	_ = server.SetReadDeadline(time.Now().Add(time.Hour))
	select {
	case err := <-ch:
		t.Fatalf("Read ended by a deadline that was moved away: %v", err)
	case <-time.After(150 * time.Millisecond):
	}
	_ = server.SetReadDeadline(time.Now())
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Fatal("deadline now did not end the Read")
	}
}

// Tiny Reads across record boundaries, and concurrent Writes larger than
// the ring: the bytes come out whole, in order, each Write contiguous.
func TestReviewTinyReadsConcurrentWrites(t *testing.T) {
	client, server := revPair(t, &Dialer{SendBuffer: MinBuffer})
	const writers, each, size = 3, 4, 3*MinBuffer + 17
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := client.Write(bytes.Repeat([]byte{byte('a' + w*each + i)}, size)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	total := writers * each * size
	got := make([]byte, 0, total)
	buf := make([]byte, 7)
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < total {
		k := 1 + len(got)%len(buf)
		n, err := server.Read(buf[:k])
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	wg.Wait()
	seen := map[byte]bool{}
	for off := 0; off < total; off += size {
		c := got[off]
		if seen[c] {
			t.Fatalf("write %q seen twice", c)
		}
		seen[c] = true
		if !bytes.Equal(got[off:off+size], bytes.Repeat([]byte{c}, size)) {
			t.Fatalf("write at %d is not contiguous", off)
		}
	}
}

// CloseWrite then Write: the Write fails; the peer reads the data then
// io.EOF; this end still reads.
func TestReviewCloseWriteThenWrite(t *testing.T) {
	client, server := revPair(t, nil)
	if _, err := client.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("x")); err == nil {
		t.Error("Write after CloseWrite succeeded")
	}
	_ = server.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(server)
	if err != nil || string(b) != "hi" {
		t.Errorf("peer read %q, %v", b, err)
	}
	if _, err := server.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(2 * time.Second))
	p := make([]byte, 8)
	n, err := client.Read(p)
	if err != nil || string(p[:n]) != "back" {
		t.Errorf("read after CloseWrite: %q, %v", p[:n], err)
	}
}

// The peer closes while a Write is blocked on a full ring: the Write
// returns promptly with an error (EPIPE).
func TestReviewPeerCloseUnblocksWrite(t *testing.T) {
	client, server := revPair(t, &Dialer{SendBuffer: MinBuffer})
	ch := make(chan error, 1)
	go func() { _, err := client.Write(make([]byte, 16*MinBuffer)); ch <- err }()
	time.Sleep(20 * time.Millisecond)
	server.Close()
	select {
	case err := <-ch:
		if !errors.Is(err, syscall.EPIPE) {
			t.Errorf("blocked Write after peer Close: %v, want EPIPE", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("blocked Write did not return after the peer closed")
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func countMaps(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("memfd:"))
}

// Connections opened and closed, and dialers that fail their handshake,
// leave no descriptor, mapping or goroutine behind.
func TestReviewNoLeaks(t *testing.T) {
	runtime.GC()
	fd0, maps0, g0 := countFDs(t), countMaps(t), runtime.NumGoroutine()
	func() {
		ln, err := (&ListenConfig{}).Listen(filepath.Join(t.TempDir(), "s"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		for i := 0; i < 10; i++ {
			acc := make(chan net.Conn, 1)
			go func() { c, _ := ln.Accept(); acc <- c }()
			c, err := (&Dialer{SendBuffer: MinBuffer, ReceiveBuffer: MinBuffer}).Dial(context.Background(), ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			s := <-acc
			_ = c.SetDeadline(time.Now().Add(time.Hour))
			go func() { s.Read(make([]byte, 1)) }()
			time.Sleep(time.Millisecond)
			c.Close()
			s.Close()
		}
		// Garbage dialers: not shmnet, truncated hello, hello without fds.
		for i := 0; i < 5; i++ {
			raw, err := net.Dial("unix", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			raw.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
			raw.Close()
			raw, _ = net.Dial("unix", ln.Addr().String())
			raw.Write((hello{version: version, up: 1, down: 2}).marshal())
			_ = raw.SetReadDeadline(time.Now().Add(time.Second))
			io.ReadAll(raw)
			raw.Close()
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if countFDs(t) <= fd0 && countMaps(t) <= maps0 && runtime.NumGoroutine() <= g0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("leak: fds %d -> %d, memfd maps %d -> %d, goroutines %d -> %d", fd0, countFDs(t), maps0, countMaps(t), g0, runtime.NumGoroutine())
}

func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// An idle listener and idle connections with a Read and a Write blocked
// (ring full) on each end burn no CPU.
func TestReviewIdleCPU(t *testing.T) {
	client, server := revPair(t, &Dialer{SendBuffer: MinBuffer, ReceiveBuffer: MinBuffer})
	go client.Read(make([]byte, 1))
	go server.Read(make([]byte, 1))
	go client.Write(make([]byte, 8*MinBuffer))
	time.Sleep(200 * time.Millisecond) // past the spins
	c0, t0 := cpuTime(), time.Now()
	time.Sleep(time.Second)
	used, wall := cpuTime()-c0, time.Since(t0)
	t.Logf("idle CPU: %v in %v", used, wall)
	if used > 30*time.Millisecond {
		t.Errorf("idle connection used %v of CPU in %v", used, wall)
	}
}

// A dialer whose listener accepts and then never answers (not a shmnet
// listener, or a wedged one) used to hang in Dial forever with a context
// without a deadline, as net/http's and gRPC's dialers often pass; now
// Dialer.HandshakeTimeout bounds it.
func TestReviewDialSilentListenerHangs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ul.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	// A context without a deadline: the Dialer's HandshakeTimeout ends it
	// (the test's own timeout bounds a hang).
	d := &Dialer{HandshakeTimeout: 100 * time.Millisecond}
	_, err = d.Dial(context.Background(), path)
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "did not answer the handshake") {
		t.Errorf("Dial to a silent listener: %v; want the handshake timeout", err)
	}
}

// A peer that publishes a zero-length record (which Write never makes, but
// the ring allows): Read with room returns (0, nil), which io.Reader
// discourages and bufio turns into io.ErrNoProgress after 100 in a row; a
// stream of them keeps a Read consuming inside the ring without bound
// (maxTake records), since take accepts an empty record even with the
// buffer full.
func TestReviewZeroLengthRecordReadsZeroNil(t *testing.T) {
	client, server := revPair(t, &Dialer{SendBuffer: MinBuffer})
	b := client.tx.Region().Bytes()
	atomic.StoreUint64(word(b, revOffData), 1<<32) // MESSAGE, length 0
	atomic.StoreUint64(word(b, revOffTail), 1)
	_ = server.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	n, err := server.Read(make([]byte, 16))
	if n == 0 && err == nil {
		t.Errorf("Read returned (0, nil) for a zero-length record; want to skip it and wait, or a protocol error")
	}
}
