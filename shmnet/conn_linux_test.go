package shmnet_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/shmnet"
)

// pair returns the two ends of a new connection: the dialer's and the
// listener's. Both, and the listener, are closed when the test ends.
func pair(t testing.TB, d *shmnet.Dialer) (client, server *shmnet.Conn) {
	t.Helper()
	if d == nil {
		d = &shmnet.Dialer{}
	}
	ln := listen(t, &shmnet.ListenConfig{})
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
		}
		accepted <- c
	}()
	client, err := d.Dial(context.Background(), ln.Addr().String())
	require.NoError(t, err)
	server = (<-accepted).(*shmnet.Conn)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// listen listens on a fresh path; the listener is closed when the test
// ends.
func listen(t testing.TB, lc *shmnet.ListenConfig) *shmnet.Listener {
	t.Helper()
	ln, err := lc.Listen(filepath.Join(t.TempDir(), "s"))
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestStream: writes of every awkward size arrive whole and in order, read
// with buffers of every awkward size: record boundaries do not show.
func TestStream(t *testing.T) {
	const record = 64<<10 - 8 // the largest record's data
	sizes := []int{1, 7, 1000, record - 1, record, record + 1, 3*record + 5, 3 << 20}
	// Small Reads take a call per few bytes: not for the largest writes.
	skip := func(rsize, n int) bool { return rsize == 1 && n > 1000 || rsize < 100 && n > 1<<20 }
	for _, rsize := range []int{1, 13, 4096, record, 5 << 20} {
		t.Run("read"+strconv.Itoa(rsize), func(t *testing.T) {
			client, server := pair(t, &shmnet.Dialer{SendBuffer: 256 << 10})
			var want []byte
			for i, n := range sizes {
				if skip(rsize, n) {
					continue
				}
				want = append(want, randomBytes(n, uint64(i))...)
			}
			go func() {
				off := 0
				for _, n := range sizes {
					if skip(rsize, n) {
						continue
					}
					k, err := client.Write(want[off : off+n])
					if err != nil || k != n {
						t.Errorf("Write(%d bytes) = %d, %v", n, k, err)
						return
					}
					off += n
				}
				client.Close()
			}()
			var got bytes.Buffer
			buf := make([]byte, rsize)
			for {
				n, err := server.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				require.NotZero(t, n, "Read returned 0 bytes and no error")
			}
			require.Equal(t, len(want), got.Len())
			require.True(t, bytes.Equal(want, got.Bytes()), "the bytes read differ from those written")
		})
	}
}

// TestReadReturnsWhatIsThere: a Read does not wait to fill its buffer; it
// returns what has been written, and a record longer than the buffer is
// returned over several Reads.
func TestReadReturnsWhatIsThere(t *testing.T) {
	client, server := pair(t, nil)
	_, err := client.Write([]byte("hello"))
	require.NoError(t, err)
	buf := make([]byte, 100)
	n, err := server.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))

	_, err = client.Write([]byte("0123456789"))
	require.NoError(t, err)
	_, err = client.Write([]byte("abc"))
	require.NoError(t, err)
	var parts []string
	for _, size := range []int{3, 3, 5, 100} {
		n, err := server.Read(buf[:size])
		require.NoError(t, err)
		parts = append(parts, string(buf[:n]))
	}
	assert.Equal(t, []string{"012", "345", "6789a", "bc"}, parts)

	n, err = server.Read(nil)
	assert.NoError(t, err, "a Read of nothing succeeds at once")
	assert.Zero(t, n)
	n, err = client.Write(nil)
	assert.NoError(t, err)
	assert.Zero(t, n)
}

// TestEOFAfterPeerClose: what the peer wrote before Close is read, then
// io.EOF, again and again; Writes to a peer that closed fail with EPIPE.
func TestEOFAfterPeerClose(t *testing.T) {
	client, server := pair(t, nil)
	msg := randomBytes(200<<10, 1)
	go func() {
		_, err := client.Write(msg)
		assert.NoError(t, err)
		assert.NoError(t, client.Close())
	}()
	got, err := io.ReadAll(server)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(msg, got))
	for range 3 {
		n, err := server.Read(make([]byte, 10))
		assert.Zero(t, n)
		assert.Equal(t, io.EOF, err)
	}
	_, err = server.Write([]byte("anyone?"))
	assert.ErrorIs(t, err, syscall.EPIPE)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "write", oe.Op)
	assert.Equal(t, "shm", oe.Net)
}

// TestCloseWrite: a half close; the other direction goes on.
func TestCloseWrite(t *testing.T) {
	client, server := pair(t, nil)
	_, err := client.Write([]byte("request"))
	require.NoError(t, err)
	require.NoError(t, client.CloseWrite())
	_, err = client.Write([]byte("more"))
	assert.ErrorIs(t, err, syscall.EPIPE, "a Write after CloseWrite fails")
	got, err := io.ReadAll(server)
	require.NoError(t, err)
	assert.Equal(t, "request", string(got))
	_, err = server.Write([]byte("response"))
	require.NoError(t, err)
	require.NoError(t, server.Close())
	got, err = io.ReadAll(client)
	require.NoError(t, err)
	assert.Equal(t, "response", string(got))
}

// TestCloseRead: after CloseRead the peer's Writes fail.
func TestCloseRead(t *testing.T) {
	client, server := pair(t, nil)
	require.NoError(t, server.CloseRead())
	_, err := client.Write([]byte("x"))
	assert.ErrorIs(t, err, syscall.EPIPE)
	n, err := server.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.Equal(t, io.EOF, err)
}

func assertTimeout(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "Timeout() of %v", err)
}

// fill writes to c until a Write times out: the ring has no room for a
// record of the largest size. It returns how much it wrote.
func fill(t *testing.T, c net.Conn) int {
	t.Helper()
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
	total := 0
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Write(buf)
		total += n
		if err != nil {
			assertTimeout(t, err)
			break
		}
	}
	require.NoError(t, c.SetWriteDeadline(time.Time{}))
	return total
}

// TestDeadlines: a deadline in the past, now, or passing while a call
// waits fails the call with a timeout; data that is there does not get
// past a deadline that has passed; removing the deadline lets calls
// through again.
func TestDeadlines(t *testing.T) {
	client, server := pair(t, &shmnet.Dialer{SendBuffer: shmnet.MinBuffer})
	buf := make([]byte, 10)
	for _, when := range []time.Time{time.Unix(1, 0), time.Now()} {
		require.NoError(t, server.SetReadDeadline(when))
		n, err := server.Read(buf)
		assert.Zero(t, n)
		assertTimeout(t, err)
	}
	// Data is there, the deadline has passed: still a timeout.
	_, err := client.Write([]byte("data"))
	require.NoError(t, err)
	_, err = server.Read(buf)
	assertTimeout(t, err)
	require.NoError(t, server.SetReadDeadline(time.Time{}))
	n, err := server.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "data", string(buf[:n]))

	// A deadline that passes while Read waits.
	require.NoError(t, server.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err = server.Read(buf)
	assertTimeout(t, err)
	require.NoError(t, server.SetReadDeadline(time.Time{}))

	// Writes: past, and passing while the ring is full.
	require.NoError(t, client.SetWriteDeadline(time.Unix(1, 0)))
	n, err = client.Write([]byte("x"))
	assert.Zero(t, n)
	assertTimeout(t, err)
	require.NoError(t, client.SetWriteDeadline(time.Time{}))
	wrote := fill(t, client)
	// Records of a quarter of the ring, 8 bytes of each their header: three
	// of them fit wherever the ring's first record starts (four from its
	// start), and a Write blocks only when the next does not.
	assert.GreaterOrEqual(t, wrote, 3*(shmnet.MinBuffer/4-8), "a Write blocked while the ring had room for a record")
	assert.LessOrEqual(t, wrote, shmnet.MinBuffer-4*8, "a Write went on into a full ring")

	// A read deadline does not touch writes, nor a write deadline reads.
	require.NoError(t, client.SetWriteDeadline(time.Unix(1, 0)))
	_, err = server.Write([]byte("back"))
	require.NoError(t, err)
	n, err = client.Read(buf)
	require.NoError(t, err, "a past write deadline does not fail a Read")
	assert.Equal(t, "back", string(buf[:n]))
}

// waitingRead starts a Read of c and returns the channel of its result.
func waitingRead(c net.Conn) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		ch <- err
	}()
	return ch
}

// blocked waits until a goroutine is asleep in a call: the call made no
// progress and its result is not in yet. It proves nothing by itself; the
// tests use it to let a call reach its wait before they act on it.
func blocked(ch <-chan error) bool {
	select {
	case <-ch:
		return false
	case <-time.After(20 * time.Millisecond):
		return true
	}
}

// TestDeadlineMovedWhileWaiting: a deadline moved into the past ends a
// waiting Read or Write at once; one moved later, or removed, keeps the
// call waiting past the old deadline.
func TestDeadlineMovedWhileWaiting(t *testing.T) {
	client, server := pair(t, &shmnet.Dialer{SendBuffer: shmnet.MinBuffer})

	t.Run("read, none to past", func(t *testing.T) {
		ch := waitingRead(server)
		require.True(t, blocked(ch))
		require.NoError(t, server.SetReadDeadline(time.Unix(1, 0)))
		assertTimeout(t, <-ch)
		require.NoError(t, server.SetReadDeadline(time.Time{}))
	})
	t.Run("read, far to near", func(t *testing.T) {
		require.NoError(t, server.SetReadDeadline(time.Now().Add(time.Hour)))
		ch := waitingRead(server)
		require.True(t, blocked(ch))
		require.NoError(t, server.SetReadDeadline(time.Now().Add(10*time.Millisecond)))
		assertTimeout(t, <-ch)
		require.NoError(t, server.SetReadDeadline(time.Time{}))
	})
	t.Run("read, near to none", func(t *testing.T) {
		old := time.Now().Add(30 * time.Millisecond)
		require.NoError(t, server.SetReadDeadline(old))
		ch := make(chan error, 1)
		go func() {
			buf := make([]byte, 10)
			n, err := server.Read(buf)
			if err == nil && string(buf[:n]) != "late" {
				err = errors.New("read " + strconv.Quote(string(buf[:n])))
			}
			ch <- err
		}()
		require.NoError(t, server.SetReadDeadline(time.Time{}))
		<-time.After(time.Until(old) + 30*time.Millisecond) // the old deadline has passed
		_, err := client.Write([]byte("late"))
		require.NoError(t, err)
		assert.NoError(t, <-ch, "the removed deadline did not end the Read")
	})
	t.Run("write, none to past", func(t *testing.T) {
		fill(t, client)
		ch := make(chan error, 1)
		go func() {
			_, err := client.Write(make([]byte, 64<<10)) // a record's worth: more than fill left room for
			ch <- err
		}()
		require.True(t, blocked(ch))
		require.NoError(t, client.SetWriteDeadline(time.Unix(1, 0)))
		assertTimeout(t, <-ch)
		require.NoError(t, client.SetWriteDeadline(time.Time{}))
		// Drain, and the connection works on.
		require.NoError(t, server.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
		_, err := io.Copy(io.Discard, server)
		assertTimeout(t, err)
		require.NoError(t, server.SetReadDeadline(time.Time{}))
		_, err = client.Write([]byte("ok"))
		require.NoError(t, err)
		buf := make([]byte, 2)
		_, err = io.ReadFull(server, buf)
		require.NoError(t, err)
		assert.Equal(t, "ok", string(buf))
	})
}

// TestCloseUnblocks: Close ends every waiting call, Reads and Writes,
// with net.ErrClosed, and every later call fails the same way.
func TestCloseUnblocks(t *testing.T) {
	client, _ := pair(t, &shmnet.Dialer{SendBuffer: shmnet.MinBuffer})
	fill(t, client)
	results := make(chan error, 8)
	for range 4 {
		go func() {
			_, err := client.Read(make([]byte, 10))
			results <- err
		}()
		go func() {
			_, err := client.Write(make([]byte, 1000))
			results <- err
		}()
	}
	require.True(t, blocked(results))
	require.NoError(t, client.Close())
	for range 8 {
		err := <-results
		assert.ErrorIs(t, err, net.ErrClosed)
	}
	_, err := client.Read(make([]byte, 1))
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = client.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.ErrorIs(t, client.Close(), net.ErrClosed, "a second Close fails")
	assert.ErrorIs(t, client.SetDeadline(time.Now()), net.ErrClosed)
	assert.ErrorIs(t, client.CloseWrite(), net.ErrClosed)
}

// TestCloseUnderLoad closes a connection from either end while both
// directions carry data; every call returns, none hangs or faults.
func TestCloseUnderLoad(t *testing.T) {
	for _, end := range []string{"dialer", "listener"} {
		t.Run(end, func(t *testing.T) {
			for i := range 20 {
				client, server := pair(t, &shmnet.Dialer{SendBuffer: shmnet.MinBuffer, ReceiveBuffer: shmnet.MinBuffer})
				var wg sync.WaitGroup
				for _, c := range []*shmnet.Conn{client, server} {
					wg.Add(2)
					go func() {
						defer wg.Done()
						_, _ = io.Copy(io.Discard, c)
					}()
					go func() {
						defer wg.Done()
						buf := make([]byte, 100<<10)
						for {
							if _, err := c.Write(buf); err != nil {
								return
							}
						}
					}()
				}
				closer := client
				if end == "listener" {
					closer = server
				}
				// Let data flow for a moment, at a different point each round.
				for range i * 10 {
					runtime.Gosched()
				}
				require.NoError(t, closer.Close())
				other := server
				if closer == server {
					other = client
				}
				require.NoError(t, other.Close())
				wg.Wait()
			}
		})
	}
}

// TestConcurrentWrites: Writes from many goroutines at once each arrive
// whole (a Write is not interleaved with another), every frame exactly
// once and each writer's in order.
func TestConcurrentWrites(t *testing.T) {
	const writers, frames = 8, 80
	client, server := pair(t, &shmnet.Dialer{SendBuffer: 128 << 10})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for seq := range frames {
				size := 16 + r.IntN(200<<10) // often larger than the ring
				f := make([]byte, size)
				binary.LittleEndian.PutUint32(f[0:], uint32(size))
				binary.LittleEndian.PutUint32(f[4:], uint32(w))
				binary.LittleEndian.PutUint32(f[8:], uint32(seq))
				for i := 12; i < size; i++ {
					f[i] = byte(w + seq + i)
				}
				if _, err := client.Write(f); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); client.Close() }()

	have := make([][]int32, writers)
	for w := range have {
		have[w] = make([]int32, frames)
	}
	next := make([]int, writers)
	head := make([]byte, 12)
	for {
		if _, err := io.ReadFull(server, head); err != nil {
			require.Equal(t, io.EOF, err)
			break
		}
		size := int(binary.LittleEndian.Uint32(head[0:]))
		w := int(binary.LittleEndian.Uint32(head[4:]))
		seq := int(binary.LittleEndian.Uint32(head[8:]))
		require.Less(t, w, writers, "a frame's header is torn")
		require.Less(t, seq, frames)
		require.Equal(t, next[w], seq, "writer %d's frames out of order", w)
		next[w]++
		body := make([]byte, size-12)
		_, err := io.ReadFull(server, body)
		require.NoError(t, err)
		for i, b := range body {
			if b != byte(w+seq+i+12) {
				t.Fatalf("frame %d of writer %d: byte %d is %d: interleaved with another Write", seq, w, i+12, b)
			}
		}
		have[w][seq]++
	}
	for w := range have {
		for seq, n := range have[w] {
			if n != 1 {
				t.Errorf("writer %d frame %d arrived %d times", w, seq, n)
			}
		}
	}
}

// TestAddrsAndCred: the addresses are of network "shm", and each end
// knows who the other is.
func TestAddrsAndCred(t *testing.T) {
	client, server := pair(t, nil)
	path := client.RemoteAddr().String()
	assert.Equal(t, "shm", client.LocalAddr().Network())
	assert.Equal(t, "shm", client.RemoteAddr().Network())
	assert.Equal(t, "shm", server.LocalAddr().Network())
	assert.Equal(t, "shm", server.RemoteAddr().Network())
	assert.True(t, strings.HasSuffix(path, "/s"), path)
	assert.Equal(t, path, server.LocalAddr().String())
	pid := "pid:" + strconv.Itoa(os.Getpid())
	assert.Equal(t, pid, client.LocalAddr().String())
	assert.Equal(t, pid, server.RemoteAddr().String())
	me := shmnet.Cred{PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid()}
	assert.Equal(t, me, server.PeerCred())
	assert.Equal(t, me, client.PeerCred())
}

// procIO returns this process's read and write system calls so far
// (/proc/self/io; skips the test where the kernel does not count them).
func procIO(t *testing.T) (syscr, syscw int) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no I/O accounting here: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.Atoi(v)
		switch k {
		case "syscr":
			syscr = n
		case "syscw":
			syscw = n
		}
	}
	return syscr, syscw
}

// TestNoSyscallPerMessage: Writes into a ring with room and Reads of a
// ring with data make no read or write system calls (a socket makes one
// per call). Waiting is another matter (a futex, and the ring's checks of
// its peer): the calls here never wait, so they show the data path alone.
func TestNoSyscallPerMessage(t *testing.T) {
	const rounds, batch = 1000, 16
	client, server := pair(t, nil)
	buf := make([]byte, 64)
	r0, w0 := procIO(t)
	for range rounds {
		for range batch {
			_, err := client.Write(buf)
			require.NoError(t, err)
		}
		for range batch {
			_, err := io.ReadFull(server, buf)
			require.NoError(t, err)
		}
	}
	r1, w1 := procIO(t)
	t.Logf("%d Writes and Reads of 64 bytes: %d read and %d write system calls", rounds*batch, r1-r0, w1-w0)
	assert.Less(t, (r1-r0)+(w1-w0), rounds*batch/100, "system calls per message")
}

// TestIdleConnSleeps: a Read waiting on an idle connection sleeps in the
// kernel instead of spinning: over a second, the process uses a small
// fraction of a second of CPU.
func TestIdleConnSleeps(t *testing.T) {
	_, server := pair(t, nil)
	ch := waitingRead(server)
	require.True(t, blocked(ch)) // past the spinning, into the futex sleep
	var before, after unix.Rusage
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &before))
	start := time.Now()
	<-time.After(time.Second)
	require.NoError(t, unix.Getrusage(unix.RUSAGE_SELF, &after))
	wall := time.Since(start)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	t.Logf("idle for %v: %v of CPU", wall, cpu)
	assert.Less(t, cpu, wall/10, "an idle connection spins")
	select {
	case err := <-ch:
		t.Fatalf("the Read returned: %v", err)
	default:
	}
}

// TestDialErrors: a path with nothing there, and a context that ends
// while the listener does not answer.
func TestDialErrors(t *testing.T) {
	_, err := shmnet.Dial(context.Background(), filepath.Join(t.TempDir(), "nothing"))
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ENOENT)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "dial", oe.Op)
	assert.Equal(t, "shm", oe.Net)

	// A unix listener that accepts and never answers.
	path := filepath.Join(t.TempDir(), "mute")
	ln, err := net.Listen("unix", path)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = shmnet.Dial(ctx, path)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := shmnet.Dial(ctx, path)
		errc <- err
	}()
	require.True(t, blocked(errc))
	cancel()
	assert.ErrorIs(t, <-errc, context.Canceled)

	for _, d := range []shmnet.Dialer{{SendBuffer: 1000}, {ReceiveBuffer: shmnet.MinBuffer / 2}, {SendBuffer: 3 * shmnet.MinBuffer}} {
		_, err := d.Dial(context.Background(), path)
		assert.Error(t, err, "%+v", d)
	}
}
