package ring_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var kinds = []ring.Kind{ring.SPSC, ring.MPMC, ring.SPSCBytes, ring.MPSCBytes}

func newRing(t testing.TB, kind ring.Kind, capacity, slotSize int) *ring.Ring {
	t.Helper()
	r, err := ring.Anonymous(cfgFor(kind, capacity, slotSize))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// cfgFor is the configuration of a ring of kind for capacity messages of
// slotSize bytes: a byte ring gets a data area that holds at least that
// many (exactly, when their records fill a power of two).
func cfgFor(kind ring.Kind, capacity, slotSize int) ring.Config {
	if kind != ring.SPSCBytes && kind != ring.MPSCBytes {
		return ring.Config{Kind: kind, Capacity: capacity, SlotSize: slotSize}
	}
	need := max(64, capacity*((8+slotSize+7)&^7), 4*slotSize)
	c := 64
	for c < need {
		c *= 2
	}
	return ring.Config{Kind: kind, Capacity: c, SlotSize: slotSize}
}

func forAllKinds(t *testing.T, f func(t *testing.T, kind ring.Kind)) {
	for _, k := range allKinds() {
		t.Run(k.String(), func(t *testing.T) { f(t, k) })
	}
}

// attachAgain returns a second handle on r's memory, as another process
// would have (but within this process: a different handle, not a different
// pid).
func attachAgain(t testing.TB, r *ring.Ring) *ring.Ring {
	t.Helper()
	h, err := ring.Attach(r.Region().Bytes())
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	return h
}

// forFixedKinds runs f for the fixed-slot kinds, for tests that count slots.
func forFixedKinds(t *testing.T, f func(t *testing.T, kind ring.Kind)) {
	for _, k := range kinds[:2] {
		t.Run(k.String(), func(t *testing.T) { f(t, k) })
	}
}

func forKinds(t *testing.T, f func(t *testing.T, kind ring.Kind)) {
	for _, k := range kinds {
		t.Run(k.String(), func(t *testing.T) { f(t, k) })
	}
}

func TestPushPopOrderFullEmpty(t *testing.T) {
	forFixedKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 8, 16)
		buf := make([]byte, 16)
		_, err := r.TryPop(buf)
		assert.ErrorIs(t, err, ring.ErrEmpty)
		for lap := 0; lap < 3; lap++ { // wrap around a few times
			for i := 0; i < 8; i++ {
				require.NoError(t, r.TryPush([]byte{byte(lap), byte(i)}))
			}
			assert.Equal(t, 8, r.Len())
			assert.ErrorIs(t, r.TryPush([]byte{9}), ring.ErrFull)
			for i := 0; i < 8; i++ {
				n, err := r.TryPop(buf)
				require.NoError(t, err)
				assert.Equal(t, []byte{byte(lap), byte(i)}, buf[:n])
			}
			_, err = r.TryPop(buf)
			assert.ErrorIs(t, err, ring.ErrEmpty)
			assert.Equal(t, 0, r.Len())
		}
	})
}

func TestEmptyAndMaxMessages(t *testing.T) {
	forKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 4, 5)
		require.NoError(t, r.TryPush(nil))
		require.NoError(t, r.TryPush([]byte("12345")))
		err := r.TryPush([]byte("123456"))
		assert.ErrorIs(t, err, ring.ErrTooLarge)
		assert.Contains(t, err.Error(), "message of 6 bytes exceeds the slot size 5")
		assert.Equal(t, 2, r.Len(), "a message that does not fit writes nothing")
		buf := make([]byte, 5)
		n, err := r.TryPop(buf)
		require.NoError(t, err)
		assert.Zero(t, n)
		n, err = r.TryPop(buf)
		require.NoError(t, err)
		assert.Equal(t, "12345", string(buf[:n]))
	})
}

func TestShortBufferLeavesMessage(t *testing.T) {
	forKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 4, 64)
		require.NoError(t, r.TryPush([]byte("a longer message")))
		n, err := r.TryPop(make([]byte, 4))
		assert.ErrorIs(t, err, io.ErrShortBuffer)
		assert.Equal(t, 16, n, "the length needed")
		n, err = r.Pop(context.Background(), make([]byte, 4))
		assert.ErrorIs(t, err, io.ErrShortBuffer)
		assert.Equal(t, 16, n)
		buf := make([]byte, 64)
		n, err = r.TryPop(buf)
		require.NoError(t, err)
		assert.Equal(t, "a longer message", string(buf[:n]))
	})
}

func TestShutdownDrainsThenEOF(t *testing.T) {
	forKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 8, 8)
		other := attachAgain(t, r) // another handle sees it too
		for i := 0; i < 3; i++ {
			require.NoError(t, r.TryPush([]byte{byte(i)}))
		}
		require.NoError(t, r.Shutdown())
		assert.True(t, other.IsShutdown())
		assert.ErrorIs(t, r.TryPush([]byte{1}), ring.ErrClosed)
		assert.ErrorIs(t, r.Push(context.Background(), []byte{1}), ring.ErrClosed)
		n, err := r.TryPushBatch([][]byte{{1}})
		assert.ErrorIs(t, err, ring.ErrClosed)
		assert.Zero(t, n)
		buf := make([]byte, 8)
		for i := 0; i < 3; i++ {
			n, err := r.Pop(context.Background(), buf)
			require.NoError(t, err)
			assert.Equal(t, []byte{byte(i)}, buf[:n])
		}
		for i := 0; i < 2; i++ { // and stays at EOF
			_, err := r.Pop(context.Background(), buf)
			assert.ErrorIs(t, err, io.EOF)
			_, err = r.TryPop(buf)
			assert.ErrorIs(t, err, io.EOF)
			_, err = r.TryPopFunc(4, func([]byte) {})
			assert.ErrorIs(t, err, io.EOF)
		}
	})
}

// waitFor polls cond, yielding, until it holds. It synchronises on state,
// not on time: the test's deadline bounds it.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

// A consumer asleep in the kernel wakes for a message and for Shutdown; a
// producer asleep on a full ring wakes for room and for Shutdown.
func TestSleepersWake(t *testing.T) {
	forKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 2, 8)
		ctx := context.Background()
		got := make(chan error, 1)
		go func() {
			buf := make([]byte, 8)
			_, err := r.Pop(ctx, buf)
			got <- err
		}()
		waitFor(func() bool { return r.Stats().ConsumersWaiting > 0 })
		require.NoError(t, r.TryPush([]byte("x")))
		require.NoError(t, <-got)

		go func() {
			_, err := r.Pop(ctx, make([]byte, 8))
			got <- err
		}()
		waitFor(func() bool { return r.Stats().ConsumersWaiting > 0 })
		require.NoError(t, r.Shutdown())
		assert.ErrorIs(t, <-got, io.EOF)
	})
	forKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 2, 8)
		cons := attachAgain(t, r)
		ctx := context.Background()
		for r.TryPush([]byte("1")) == nil { // two messages; a byte ring may take a few more
		}
		got := make(chan error, 1)
		go func() { got <- r.Push(ctx, []byte("3")) }()
		waitFor(func() bool { return r.Stats().ProducersWaiting > 0 })
		buf := make([]byte, 8)
		_, err := cons.TryPop(buf)
		require.NoError(t, err)
		_, err = cons.TryPop(buf) // SPSC releases slots to the producer when it runs dry
		require.NoError(t, err)
		require.NoError(t, <-got)

		require.NoError(t, r.TryPush([]byte("4")))
		go func() { got <- r.Push(ctx, []byte("5")) }()
		waitFor(func() bool { return r.Stats().ProducersWaiting > 0 })
		require.NoError(t, cons.Shutdown())
		assert.ErrorIs(t, <-got, ring.ErrClosed)
	})
}

func TestContextEndsWait(t *testing.T) {
	forKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 2, 8)
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error, 1)
		go func() {
			_, err := r.Pop(ctx, make([]byte, 8))
			got <- err
		}()
		waitFor(func() bool { return r.Stats().ConsumersWaiting > 0 })
		cancel()
		assert.ErrorIs(t, <-got, context.Canceled)
		assert.Zero(t, r.Stats().ConsumersWaiting, "a cancelled waiter leaves")

		for r.TryPush([]byte("1")) == nil {
		}
		ctx, cancel = context.WithTimeout(context.Background(), 0)
		defer cancel()
		assert.ErrorIs(t, r.Push(ctx, []byte("3")), context.DeadlineExceeded)
		_, err := r.PushBatch(ctx, [][]byte{{3}})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// sharedMemory returns a region for several handles, none of which owns it.
func sharedMemory(t testing.TB, cfg ring.Config) []byte {
	t.Helper()
	size, err := ring.Size(cfg)
	require.NoError(t, err)
	reg, err := shm.Anonymous(size)
	require.NoError(t, err)
	t.Cleanup(func() { reg.Close() })
	return reg.Bytes()
}

func TestSPSCRoles(t *testing.T) {
	cfg := ring.Config{Kind: ring.SPSC, Capacity: 8, SlotSize: 8}
	mem := sharedMemory(t, cfg)
	r, err := ring.Format(mem, cfg)
	require.NoError(t, err)
	p2, err := ring.Attach(mem)
	require.NoError(t, err)
	c2, err := ring.Attach(mem)
	require.NoError(t, err)
	require.NoError(t, r.TryPush([]byte{1}))
	require.NoError(t, r.TryPush([]byte{2}))
	err = p2.TryPush([]byte{9})
	assert.ErrorIs(t, err, ring.ErrBusy, "a second live producer is refused")
	assert.Contains(t, err.Error(), "producer role")
	buf := make([]byte, 8)
	n, err := r.TryPop(buf) // the same handle may also consume
	require.NoError(t, err)
	assert.Equal(t, []byte{1}, buf[:n])
	_, err = c2.TryPop(buf)
	assert.ErrorIs(t, err, ring.ErrBusy, "a second live consumer is refused")

	require.NoError(t, r.Close()) // gives both roles up
	require.NoError(t, p2.TryPush([]byte{3}), "the role is free again")
	for _, want := range []byte{2, 3} { // continues where the ring stands
		n, err := c2.TryPop(buf)
		require.NoError(t, err)
		assert.Equal(t, []byte{want}, buf[:n])
	}
	procs := c2.Stats().Processes
	require.Len(t, procs, 2)
	assert.True(t, procs[0].Produces && procs[0].Alive)
	assert.True(t, procs[1].Consumes && procs[1].Alive)
}

func TestClosedHandle(t *testing.T) {
	forKinds(t, func(t *testing.T, kind ring.Kind) {
		r, err := ring.Anonymous(cfgFor(kind, 4, 4))
		require.NoError(t, err)
		require.NoError(t, r.Close())
		require.NoError(t, r.Close(), "a second Close returns nil")
		for _, err := range []error{
			r.TryPush([]byte{1}),
			r.Push(context.Background(), []byte{1}),
			second(r.TryPop(make([]byte, 4))),
			second(r.Pop(context.Background(), make([]byte, 4))),
			second(r.TryPopFunc(1, func([]byte) {})),
			second(r.TryPushBatch([][]byte{{1}})),
			r.Shutdown(),
		} {
			assert.ErrorIs(t, err, os.ErrClosed, "use of a closed handle")
			assert.NotErrorIs(t, err, ring.ErrClosed, "which is not a ring shut down")
			assert.Equal(t, "ring: use of a closed ring handle", err.Error())
		}
		assert.Zero(t, r.Len())
		assert.Nil(t, r.Region().Bytes(), "the region is unmapped")
	})
}

func TestBatches(t *testing.T) {
	forKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 8, 8)
		msgs := make([][]byte, 10)
		for i := range msgs {
			msgs[i] = []byte{byte(i)}
		}
		n, err := r.TryPushBatch(msgs)
		assert.ErrorIs(t, err, ring.ErrFull)
		assert.Equal(t, 8, n, "as many as fit")
		var seen []byte
		n, err = r.TryPopFunc(5, func(m []byte) { seen = append(seen, m...) })
		require.NoError(t, err)
		assert.Equal(t, 5, n)
		n, err = r.TryPopFunc(100, func(m []byte) { seen = append(seen, m...) })
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		assert.Equal(t, []byte{0, 1, 2, 3, 4, 5, 6, 7}, seen)
		_, err = r.TryPopFunc(1, func([]byte) {})
		assert.ErrorIs(t, err, ring.ErrEmpty)

		n, err = r.TryPushBatch([][]byte{{1}, make([]byte, 9), {3}})
		assert.ErrorIs(t, err, ring.ErrTooLarge)
		assert.Equal(t, 1, n, "stops at the message that does not fit")

		// PushBatch waits for room while a consumer drains.
		ctx := context.Background()
		done := make(chan []byte)
		go func() {
			var got []byte
			for len(got) < 31 {
				_, err := r.PopFunc(ctx, 3, func(m []byte) { got = append(got, m...) })
				if err != nil {
					t.Error(err)
					break
				}
			}
			done <- got
		}()
		big := make([][]byte, 30)
		for i := range big {
			big[i] = []byte{byte(10 + i)}
		}
		n, err = r.PushBatch(ctx, big)
		require.NoError(t, err)
		assert.Equal(t, 30, n)
		got := <-done
		assert.Equal(t, byte(1), got[0])
		for i := 1; i < 31; i++ {
			assert.Equal(t, byte(9+i), got[i])
		}
	})
}

// stressMessage is (producer, sequence) in 16 bytes.
func stressMessage(buf []byte, producer, seq uint64) []byte {
	binary.LittleEndian.PutUint64(buf[0:], producer)
	binary.LittleEndian.PutUint64(buf[8:], seq)
	return buf[:16]
}

// stress runs producers and consumers goroutines on one ring and checks
// every message is seen exactly once, and that each consumer sees each
// producer's messages in order.
func stress(t *testing.T, kind ring.Kind, producers, consumers, perProducer int) {
	r := newRing(t, kind, 64, 16)
	// A bug must fail the test, not hang it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	have := make([][]int32, producers)
	for i := range have {
		have[i] = make([]int32, perProducer)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < consumers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := make([]int64, producers)
			for i := range last {
				last[i] = -1
			}
			seen := make([][]uint64, producers)
			buf := make([]byte, 16)
			for {
				n, err := r.Pop(ctx, buf)
				if err == io.EOF {
					break
				}
				if !assert.NoError(t, err) || !assert.Equal(t, 16, n) {
					return
				}
				p := binary.LittleEndian.Uint64(buf)
				s := binary.LittleEndian.Uint64(buf[8:])
				if !assert.Less(t, p, uint64(producers)) || !assert.Less(t, s, uint64(perProducer)) {
					return
				}
				assert.Greater(t, int64(s), last[p], "producer %d out of order", p)
				last[p] = int64(s)
				seen[p] = append(seen[p], s)
			}
			mu.Lock()
			defer mu.Unlock()
			for p, ss := range seen {
				for _, s := range ss {
					have[p][s]++
				}
			}
		}()
	}
	var pw sync.WaitGroup
	for p := 0; p < producers; p++ {
		pw.Add(1)
		go func() {
			defer pw.Done()
			buf := make([]byte, 16)
			for s := 0; s < perProducer; s++ {
				if err := r.Push(ctx, stressMessage(buf, uint64(p), uint64(s))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	pw.Wait()
	require.NoError(t, r.Shutdown())
	wg.Wait()
	for p := range have {
		for s, n := range have[p] {
			if n != 1 {
				t.Fatalf("producer %d message %d seen %d times", p, s, n)
			}
		}
	}
}

func TestStressSPSC(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	stress(t, ring.SPSC, 1, 1, n)
}

func TestStressMPMC(t *testing.T) {
	n := 100_000
	if testing.Short() || raceEnabled {
		n = 20_000
	}
	stress(t, ring.MPMC, 4, 4, n)
}

type tick struct {
	Seq    uint64
	Price  float64
	Volume int32
	Side   [4]byte
	Flags  [3]uint16
}

func TestTypedRoundTrip(t *testing.T) {
	forKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 8, 64)
		q, err := ring.NewTyped[tick](r)
		require.NoError(t, err)
		ctx := context.Background()
		want := tick{Seq: 7, Price: 101.25, Volume: -3, Side: [4]byte{'B', 'U', 'Y'}, Flags: [3]uint16{1, 2, 3}}
		require.NoError(t, q.Push(ctx, want))
		require.NoError(t, q.TryPush(tick{Seq: 8}))
		got, err := q.Pop(ctx)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		got, err = q.TryPop()
		require.NoError(t, err)
		assert.Equal(t, uint64(8), got.Seq)
		_, err = q.TryPop()
		assert.ErrorIs(t, err, ring.ErrEmpty)

		// A message of another size is not a tick: reported, and left.
		require.NoError(t, r.TryPush([]byte("short")))
		_, err = q.TryPop()
		assert.ErrorIs(t, err, ring.ErrIncompatible)
		_, err = q.Pop(ctx)
		assert.ErrorIs(t, err, ring.ErrIncompatible)
		buf := make([]byte, 64)
		n, err := r.TryPop(buf)
		require.NoError(t, err)
		assert.Equal(t, "short", string(buf[:n]))
	})
}

func TestNewTypedRefuses(t *testing.T) {
	r := newRing(t, ring.SPSC, 2, 16)
	check := func(err error, want string) {
		t.Helper()
		require.Error(t, err)
		assert.Contains(t, err.Error(), want)
	}
	_, err := ring.NewTyped[*int64](r)
	check(err, "*int64 is a ptr")
	_, err = ring.NewTyped[string](r)
	check(err, "string is a string")
	_, err = ring.NewTyped[struct{ A []byte }](r)
	check(err, ".A is a slice")
	_, err = ring.NewTyped[struct{ M map[int32]int32 }](r)
	check(err, ".M is a map")
	_, err = ring.NewTyped[struct{ E error }](r)
	check(err, ".E is a interface")
	_, err = ring.NewTyped[struct{ C chan int32 }](r)
	check(err, ".C is a chan")
	_, err = ring.NewTyped[func()](r)
	check(err, "is a func")
	_, err = ring.NewTyped[struct{ N [2]struct{ X int } }](r)
	check(err, ".N[].X is int, whose size depends on the platform")
	_, err = ring.NewTyped[struct{ Ok [1]bool }](r)
	check(err, ".Ok[] is a bool: another process could write a byte other than 0 or 1")
	_, err = ring.NewTyped[[3]uint64](r)
	assert.ErrorIs(t, err, ring.ErrTooLarge)
	_, err = ring.NewTyped[[2]uint64](r)
	assert.NoError(t, err)
	_, err = ring.NewTyped[struct{}](r)
	assert.NoError(t, err)
}

// The fast paths allocate nothing.
func TestNoAllocations(t *testing.T) {
	forKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 64, 64)
		ctx := context.Background()
		msg := make([]byte, 32)
		buf := make([]byte, 64)
		require.NoError(t, r.TryPush(msg)) // the first push and pop claim roles
		_, err := r.TryPop(buf)
		require.NoError(t, err)
		assert.Zero(t, testing.AllocsPerRun(1000, func() {
			_ = r.TryPush(msg)
			_, _ = r.TryPop(buf)
		}), "TryPush/TryPop")
		assert.Zero(t, testing.AllocsPerRun(1000, func() {
			_ = r.Push(ctx, msg)
			_, _ = r.Pop(ctx, buf)
		}), "Push/Pop")
		q, err := ring.NewTyped[tick](r)
		require.NoError(t, err)
		assert.Zero(t, testing.AllocsPerRun(1000, func() {
			_ = q.Push(ctx, tick{Seq: 1})
			_, _ = q.Pop(ctx)
		}), "Typed Push/Pop")
		msgs := [][]byte{msg, msg, msg}
		assert.Zero(t, testing.AllocsPerRun(1000, func() {
			_, _ = r.TryPushBatch(msgs)
			_, _ = r.TryPopFunc(3, func([]byte) {})
		}), "batches")
	})
}

func TestKindParse(t *testing.T) {
	for _, k := range kinds {
		got, err := ring.ParseKind(k.String())
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}
	for in, want := range map[string]ring.Kind{"Spsc": ring.SPSC, "mPmC": ring.MPMC} {
		got, err := ring.ParseKind(in)
		require.NoError(t, err, "any case")
		assert.Equal(t, want, got)
	}
	_, err := ring.ParseKind("lifo")
	assert.EqualError(t, err, `ring: unknown kind "lifo" (want spsc, mpmc, spsc-bytes or mpsc-bytes)`)
	assert.Equal(t, "Kind(9)", ring.Kind(9).String())
}

func TestFileBackedCreateOpen(t *testing.T) {
	path := t.TempDir() + "/ring"
	r, err := ring.Create(path, ring.Config{Kind: ring.MPMC, Capacity: 4, SlotSize: 8})
	require.NoError(t, err)
	defer r.Close()
	require.NoError(t, r.TryPush([]byte("persist")))
	o, err := ring.Open(path)
	require.NoError(t, err)
	defer o.Close()
	assert.Equal(t, r.Config(), o.Config())
	buf := make([]byte, 8)
	n, err := o.TryPop(buf)
	require.NoError(t, err)
	assert.Equal(t, "persist", string(buf[:n]))

	_, err = ring.Create(path, ring.Config{Kind: ring.MPMC, Capacity: 4, SlotSize: 8})
	assert.Error(t, err, "Create refuses an existing path")
	_, err = ring.Create(t.TempDir()+"/bad", ring.Config{Kind: ring.MPMC, Capacity: 3, SlotSize: 8})
	assert.ErrorIs(t, err, ring.ErrInvalidConfig)
	_, err = ring.Open(t.TempDir() + "/missing")
	assert.Error(t, err)
}

func TestOpenNamesPathInErrors(t *testing.T) {
	path := t.TempDir() + "/notaring"
	r, err := ring.Create(path, ring.Config{Kind: ring.SPSC, Capacity: 2, SlotSize: 1})
	require.NoError(t, err)
	copy(r.Region().Bytes(), "not a ring at all")
	require.NoError(t, r.Close())
	_, err = ring.Open(path)
	assert.ErrorIs(t, err, ring.ErrIncompatible)
	assert.Contains(t, err.Error(), fmt.Sprintf("ring: open %s: magic", path))
	assert.True(t, errors.Is(err, ring.ErrIncompatible))
}

func TestReadOnlyHandles(t *testing.T) {
	path := t.TempDir() + "/ring"
	r, err := ring.Create(path, ring.Config{Kind: ring.MPMC, Capacity: 8, SlotSize: 8})
	require.NoError(t, err)
	defer r.Close()
	require.NoError(t, r.TryPush([]byte("a")))
	ro, err := ring.OpenReadOnly(path)
	require.NoError(t, err)
	defer ro.Close()
	assert.ErrorIs(t, ro.TryPush([]byte("b")), ring.ErrReadOnly)
	_, err = ro.TryPop(make([]byte, 8))
	assert.ErrorIs(t, err, ring.ErrReadOnly)
	assert.ErrorIs(t, ro.Shutdown(), ring.ErrReadOnly)
	assert.Equal(t, 1, ro.Len())
	s := ro.Stats()
	assert.Equal(t, ring.LayoutVersion, s.Version)
	assert.Equal(t, ring.SlotStates{Free: 7, Full: 1}, ro.SlotStates())
	assert.False(t, ro.IsShutdown())

	ra, err := ring.AttachReadOnly(r.Region().Bytes())
	require.NoError(t, err)
	assert.ErrorIs(t, ra.TryPush([]byte("b")), ring.ErrReadOnly)
}

// A ring file its creator has made but not sized yet is "not ready", like
// one not formatted yet: a consumer that starts first waits for either.
func TestOpenEmptyFileIsNotReady(t *testing.T) {
	path := t.TempDir() + "/ring"
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := ring.Open(path)
	assert.ErrorIs(t, err, ring.ErrNotReady)
	_, err = ring.OpenReadOnly(path)
	assert.ErrorIs(t, err, ring.ErrNotReady)
}

func second[T any](_ T, err error) error { return err }
