package ring_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"
	"unsafe"

	"github.com/shmring/shmring/ring"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var byteKinds = []ring.Kind{ring.SPSCBytes, ring.MPSCBytes}

func forByteKinds(t *testing.T, f func(t *testing.T, kind ring.Kind)) {
	for _, k := range byteKinds {
		t.Run(k.String(), func(t *testing.T) { f(t, k) })
	}
}

// varMessage fills a message of n bytes that says its sequence number and
// its length, so a reader can check both.
func varMessage(buf []byte, seq uint64, n int) []byte {
	m := buf[:n]
	for i := range m {
		m[i] = byte(seq*31 + uint64(i))
	}
	if n >= 8 {
		binary.LittleEndian.PutUint64(m, seq)
	}
	return m
}

func TestBytesConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  ring.Config
		want string
	}{
		{ring.Config{Kind: ring.SPSCBytes, Capacity: 32, SlotSize: 8}, "capacity 32 is below 64 bytes"},
		{ring.Config{Kind: ring.SPSCBytes, Capacity: 1000, SlotSize: 8}, "capacity 1000 is not a power of two"},
		{ring.Config{Kind: ring.MPSCBytes, Capacity: 1024, SlotSize: 257}, "slot size 257 is above a quarter of the data area"},
		{ring.Config{Kind: ring.MPSCBytes, Capacity: 1 << 31, SlotSize: 8}, "is above 1 GiB"},
	} {
		_, err := ring.Size(tc.cfg)
		require.ErrorIs(t, err, ring.ErrInvalidConfig, "%+v", tc.cfg)
		assert.Contains(t, err.Error(), tc.want)
	}
	r := newByteRing(t, ring.SPSCBytes, 4096, 0)
	assert.Equal(t, ring.Config{Kind: ring.SPSCBytes, Capacity: 4096, SlotSize: 1024}, r.Config(), "SlotSize 0 is a quarter")
	size, err := ring.Size(ring.Config{Kind: ring.MPSCBytes, Capacity: 1 << 20})
	require.NoError(t, err)
	assert.Equal(t, 4096+4096+1<<20, size, "the header, the claim entries, the data")
	k, err := ring.ParseKind("MPSC-Bytes")
	require.NoError(t, err)
	assert.Equal(t, ring.MPSCBytes, k)
}

// TestBytesRoundTrip pushes messages of every length from 0 to the largest
// through a small byte ring, wrapping it thousands of times with the
// padding record at every offset, and checks each message and the order.
func TestBytesRoundTrip(t *testing.T) {
	forByteKinds(t, func(t *testing.T, kind ring.Kind) {
		const capacity, largest = 512, 128
		r := newByteRing(t, kind, capacity, largest)
		rng := rand.New(rand.NewPCG(1, 2))
		in, out := make([]byte, largest), make([]byte, largest)
		var pushed, popped uint64
		lens := map[uint64]int{}
		offsets := map[uint64]bool{}
		for round := 0; round < 20000; round++ {
			// Push until full, a random number of times, then pop some.
			for k := rng.IntN(8); k >= 0; k-- {
				n := rng.IntN(largest + 1)
				if err := r.TryPush(varMessage(in, pushed, n)); err != nil {
					require.ErrorIs(t, err, ring.ErrFull)
					require.Greater(t, r.Len(), 0, "full with nothing queued")
					break
				}
				lens[pushed] = n
				pushed++
			}
			offsets[r.Stats().Tail%(capacity/8)] = true
			for k := rng.IntN(8); k >= 0; k-- {
				n, err := r.TryPop(out)
				if err == ring.ErrEmpty {
					require.Equal(t, pushed, popped)
					break
				}
				require.NoError(t, err)
				require.Equal(t, lens[popped], n, "message %d", popped)
				require.Equal(t, varMessage(in, popped, n), out[:n], "message %d", popped)
				delete(lens, popped)
				popped++
			}
		}
		assert.Greater(t, popped, uint64(20000))
		assert.Len(t, offsets, capacity/8, "the tail stopped at every offset")
		assert.Equal(t, int(pushed-popped), r.Len())
	})
}

// TestBytesFullIsExact: a byte ring takes messages until their records fill
// the data area, and one pop makes room for one more at once.
func TestBytesFullIsExact(t *testing.T) {
	forByteKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newByteRing(t, kind, 256, 64)
		msg := make([]byte, 24) // 32-byte records: 8 fit
		for i := 0; i < 8; i++ {
			require.NoError(t, r.TryPush(msg), "push %d", i)
		}
		require.ErrorIs(t, r.TryPush(msg), ring.ErrFull)
		st := r.Stats()
		assert.Equal(t, 256, st.BytesUsed)
		assert.Equal(t, 0, st.BytesFree)
		assert.Equal(t, 8, st.Len)
		_, err := r.TryPop(make([]byte, 64))
		require.NoError(t, err)
		require.NoError(t, r.TryPush(msg), "one pop frees its room")
		require.ErrorIs(t, r.TryPush(make([]byte, 65)), ring.ErrTooLarge)
	})
}

func TestBytesShortBufferAndConsume(t *testing.T) {
	forByteKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newByteRing(t, kind, 1024, 256)
		require.NoError(t, r.TryPush([]byte("hello, world")))
		require.NoError(t, r.TryPush([]byte("second")))
		n, err := r.TryPop(make([]byte, 4))
		require.ErrorIs(t, err, io.ErrShortBuffer)
		assert.Equal(t, 12, n)
		refuse := errors.New("no")
		n, err = r.TryConsume(10, func(msg []byte) error { return refuse })
		assert.Equal(t, 0, n)
		require.ErrorIs(t, err, refuse)
		var got []string
		n, err = r.TryPopFunc(10, func(msg []byte) { got = append(got, string(msg)) })
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		assert.Equal(t, []string{"hello, world", "second"}, got)
		require.NoError(t, r.Shutdown())
		_, err = r.TryPop(make([]byte, 4))
		assert.ErrorIs(t, err, io.EOF)
		assert.ErrorIs(t, r.TryPush([]byte("x")), ring.ErrClosed)
	})
}

func TestBytesStress(t *testing.T) {
	n := 300_000
	if testing.Short() || raceEnabled {
		n = 30_000
	}
	t.Run("spsc-bytes", func(t *testing.T) { stress(t, ring.SPSCBytes, 1, 1, n) })
	t.Run("mpsc-bytes", func(t *testing.T) { stress(t, ring.MPSCBytes, 4, 1, n/4) })
}

// newByteRing makes a byte ring of capacity bytes.
func newByteRing(t testing.TB, kind ring.Kind, capacity, slotSize int) *ring.Ring {
	t.Helper()
	r, err := ring.Anonymous(ring.Config{Kind: kind, Capacity: capacity, SlotSize: slotSize})
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func allKinds() []ring.Kind { return append(append([]ring.Kind{}, kinds...), byteKinds...) }

// TestReserveCommitAbort: in-place writes on every kind.
func TestReserveCommitAbort(t *testing.T) {
	for _, kind := range allKinds() {
		t.Run(kind.String(), func(t *testing.T) {
			r := newRing(t, kind, 8, 64)
			_, err := r.TryReserve(65)
			require.ErrorIs(t, err, ring.ErrTooLarge)
			require.ErrorIs(t, r.Commit(1), ring.ErrNotReserved)
			require.ErrorIs(t, r.Abort(), ring.ErrNotReserved)

			view, err := r.TryReserve(64)
			require.NoError(t, err)
			require.Len(t, view, 64)
			_, err = r.TryReserve(1)
			require.ErrorIs(t, err, ring.ErrReserved, "a second reservation")
			if kind == ring.SPSC || kind == ring.SPSCBytes {
				require.ErrorIs(t, r.TryPush([]byte("x")), ring.ErrReserved, "a push under a reservation")
			}
			assert.ErrorIs(t, second(r.TryPop(make([]byte, 64))), ring.ErrEmpty, "nothing visible before Commit")
			copy(view, "in place")
			require.ErrorIs(t, r.Commit(65), ring.ErrTooLarge)
			require.NoError(t, r.Commit(8), "shorter than reserved")

			view, err = r.TryReserve(40)
			require.NoError(t, err)
			copy(view, "aborted")
			require.NoError(t, r.Abort())
			view, err = r.Reserve(context.Background(), 5)
			require.NoError(t, err)
			copy(view, "third")
			require.NoError(t, r.Commit(5))

			buf := make([]byte, 64)
			n, err := r.TryPop(buf)
			require.NoError(t, err)
			assert.Equal(t, "in place", string(buf[:n]))
			n, err = r.TryPop(buf)
			require.NoError(t, err)
			assert.Equal(t, "third", string(buf[:n]), "the aborted one is skipped")
			assert.ErrorIs(t, second(r.TryPop(buf)), ring.ErrEmpty)

			// Reserve waits for room like Push.
			for r.TryPush(make([]byte, 64)) == nil {
			}
			go func() {
				time.Sleep(time.Millisecond) // not synchronisation: Reserve must wait either way
				_, _ = r.Pop(context.Background(), buf)
			}()
			view, err = r.Reserve(context.Background(), 64)
			require.NoError(t, err)
			require.NoError(t, r.Commit(len(view)))
		})
	}
}

// TestCloseWithReservationOpen: Close returns at once; the memory under the
// view stays mapped until Commit, which gives the room back and reports the
// closed handle.
func TestCloseWithReservationOpen(t *testing.T) {
	for _, kind := range allKinds() {
		t.Run(kind.String(), func(t *testing.T) {
			capacity := 8
			if kind == ring.SPSCBytes || kind == ring.MPSCBytes {
				capacity = 1024
			}
			cfg := ring.Config{Kind: kind, Capacity: capacity, SlotSize: 64}
			mem := sharedMemory(t, cfg) // outlives both handles
			r, err := ring.Format(mem, cfg)
			require.NoError(t, err)
			other, err := ring.Attach(mem)
			require.NoError(t, err)
			defer other.Close()
			view, err := r.TryReserve(64)
			require.NoError(t, err)
			require.NoError(t, r.Close())
			copy(view, "still mapped") // would fault if Close had unmapped
			err = r.Commit(12)
			require.ErrorIs(t, err, os.ErrClosed)
			require.ErrorIs(t, r.Commit(12), ring.ErrNotReserved)
			// The ring goes on without the message; the roles are free.
			require.NoError(t, other.TryPush([]byte("after")))
			buf := make([]byte, 64)
			n, err := other.TryPop(buf)
			require.NoError(t, err)
			assert.Equal(t, "after", string(buf[:n]))
		})
	}
}

// corruptHeader writes word at the header of the record the consumer
// reads next (the data area: after the header page, and on MPSCBytes the
// page of claim entries).
func corruptHeader(mem []byte, kind ring.Kind, head uint64, capacity int, word uint64) {
	data := 4096
	if kind == ring.MPSCBytes {
		data += 4096
	}
	off := data + int(head*8)%capacity
	*(*uint64)(unsafe.Pointer(&mem[off])) = word
}

// TestBytesHostileRecords: record headers that cannot be true give
// ErrCorrupt naming the position, never an out-of-bounds access or an
// endless loop.
func TestBytesHostileRecords(t *testing.T) {
	for _, kind := range byteKinds {
		for name, word := range map[string]uint64{
			"zero":        0,
			"huge length": 1<<32 | 0xffffffff,
			"past end":    1<<32 | 1000,
			"bad state":   77<<32 | 8,
			"pad zero":    2 << 32,
			"pad odd":     2<<32 | 12,
		} {
			t.Run(kind.String()+"/"+name, func(t *testing.T) {
				r := newByteRing(t, kind, 1024, 256)
				mem := r.Region().Bytes()
				for i := 0; i < 5; i++ {
					require.NoError(t, r.TryPush(bytes.Repeat([]byte{7}, 100)))
				}
				buf := make([]byte, 256)
				_, err := r.TryPop(buf)
				require.NoError(t, err)
				corruptHeader(mem, kind, r.Stats().Head, 1024, word)
				_, err = r.TryPop(buf)
				// (MPSCBytes, zero: "unwritten" in lap 0 below tail, which
				// names another claim: a record without its header.)
				require.ErrorIs(t, err, ring.ErrCorrupt)
				assert.Contains(t, err.Error(), "record at position")
				_, err = r.TryPopFunc(10, func([]byte) {})
				assert.ErrorIs(t, err, ring.ErrCorrupt)
			})
		}
	}
}
