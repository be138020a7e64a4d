package ring

import (
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// collect runs the garbage collector and gives cleanups a chance to run.
func collect() {
	for i := 0; i < 10; i++ {
		runtime.GC()
		runtime.Gosched()
	}
}

// A read-only handle dropped without Close: its cleanup must not write to
// the read-only mapping (a locked CMPXCHG faults even when it fails).
func TestDroppedReadOnlyHandle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring")
	r, err := Create(path, Config{Kind: SPSC, Capacity: 8, SlotSize: 8})
	require.NoError(t, err)
	defer r.Close()
	func() {
		ro, err := OpenReadOnly(path)
		require.NoError(t, err)
		_ = ro.Stats()
	}()
	collect()
}

// A handle dropped on a truncated file: its cleanup must not touch the
// records' page (SIGBUS).
func TestDroppedHandleOnTruncatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring")
	func() {
		r, err := Create(path, Config{Kind: SPSC, Capacity: 8, SlotSize: 8})
		require.NoError(t, err)
		require.NoError(t, r.TryPush([]byte("x")))
		require.NoError(t, os.Truncate(path, 0))
	}()
	collect()
}

// A panic in fn: the messages fn accepted before are consumed, the one it
// panicked on stays, and the handle is not left "inside fn".
func TestPanicInFn(t *testing.T) {
	r := testRing(t, SPSC, 8)
	for i := 0; i < 3; i++ {
		require.NoError(t, r.TryPush([]byte{byte(i)}))
	}
	func() {
		defer func() { _ = recover() }()
		_, _ = r.TryPopFunc(3, func(m []byte) {
			if m[0] == 1 {
				panic("boom")
			}
		})
	}()
	assert.Zero(t, atomic.LoadUint32(&r.c.inFn))
	buf := make([]byte, 8)
	n, err := r.TryPop(buf)
	require.NoError(t, err)
	assert.Equal(t, []byte{1}, buf[:n], "message 0 is not delivered again; message 1 is")
}

// leave's window: W1 clears the bit after W2 announced. W1 sets it again
// and wakes, so W2 misses nothing.
func TestLeaveRace(t *testing.T) {
	r := testRing(t, MPMC, 8)
	_, _ = r.TryPop(make([]byte, 8)) // registers the lane
	w1 := r.announce(false)
	seq := atomic.LoadUint32(r.notEmptySeq())
	atomic.AddUint32(w1.sleepers, -w1.unit) // W1 leaves: its count first
	w2 := r.announce(false)                 // W2 announces, finds the bit set
	atomic.AndUint64(w1.mask, ^w1.bit)      // W1 clears the bit
	if atomic.LoadUint32(w1.sleepers)&0xffff != 0 {
		atomic.OrUint64(w1.mask, w1.bit) // ... the rest of leave, as leave does it
		r.wake(r.notEmptySeq())
	}
	assert.NotZero(t, atomic.LoadUint64(r.notEmptyWait()), "W2 is in the mask again")
	assert.NotEqual(t, seq, atomic.LoadUint32(r.notEmptySeq()), "and was woken, for what a publisher may have missed")
	w2.leave()
	assert.Zero(t, atomic.LoadUint64(r.notEmptyWait()))
}
