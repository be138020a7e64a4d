package ring

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

// plant makes process record i look owned by pid.
func plant(r *Ring, i int, pid int) {
	rec := r.record(i)
	atomic.StoreUint64(&rec.start, 0)
	atomic.StoreUint64(&rec.pidns, self().pidns)
	atomic.StoreUint64(&rec.owner, uint64(pid)<<32|7)
}

func testRing(t *testing.T, kind Kind, capacity int) *Ring {
	t.Helper()
	cfg := Config{Kind: kind, Capacity: capacity, SlotSize: 16}
	r, err := Format(alignedCopy(make([]byte, totalSize(cfg))), cfg)
	require.NoError(t, err)
	r.SetOptions(Options{Grace: time.Nanosecond})
	t.Cleanup(func() { r.Close() })
	return r
}

// popUntil calls TryPop until it stops reporting ErrEmpty, at most tries
// times: recovery needs two looks at a stuck slot (the first starts the
// grace period).
func popUntil(r *Ring, buf []byte, tries int) (int, error) {
	for i := 0; ; i++ {
		n, err := r.TryPop(buf)
		if err != ErrEmpty || i == tries {
			return n, err
		}
	}
}

// A producer that died between claiming a slot and publishing it does not
// stall the ring: consumers free the slot and go on with the next message.
func TestRecoverDeadProducer(t *testing.T) {
	r := testRing(t, MPMC, 8)
	plant(r, 5, deadPID(t))
	*r.tail() = 1<<8 | 5 // lane 5 claimed position 0, and died before publishing it
	require.NoError(t, r.TryPush([]byte("after")))
	assert.Equal(t, seqWord(0, recWriter|5), *slotRec(r.slot(0)), "the next claimer put the claim of 0 on record")
	buf := make([]byte, 16)
	n, err := popUntil(r, buf, 1000)
	require.NoError(t, err)
	assert.Equal(t, "after", string(buf[:n]))
	assert.Equal(t, uint64(1), r.m.recovered.Load())
	assert.Equal(t, seqWord(8, tagFree), *slotSeq(r.slot(0)), "abandoned, skipped, free for the next turn")
}

// A consumer that died between claiming a message and releasing its slot
// does not block producers once the ring wraps.
func TestRecoverDeadConsumer(t *testing.T) {
	r := testRing(t, MPMC, 4)
	for i := 0; i < 4; i++ {
		require.NoError(t, r.TryPush([]byte{byte(i)}))
	}
	plant(r, 6, deadPID(t))
	*r.head() = 1<<8 | 6 // lane 6 claimed message 0, and died before releasing its slot
	var err error
	for i := 0; i < 1000; i++ {
		if err = r.TryPush([]byte{4}); err != ErrFull {
			break
		}
	}
	require.NoError(t, err)
	buf := make([]byte, 16)
	for _, want := range []byte{1, 2, 3, 4} {
		n, err := r.TryPop(buf)
		require.NoError(t, err)
		assert.Equal(t, []byte{want}, buf[:n])
	}
}

// A slot claimed by a live process is never taken from it, however long it
// takes.
func TestNeverRecoverLiveClaimer(t *testing.T) {
	r := testRing(t, MPMC, 8)
	plant(r, 5, os.Getpid())
	*r.tail() = 1<<8 | 5 // lane 5 claimed position 0 and is writing it
	require.NoError(t, r.TryPush([]byte("behind")))
	_, err := popUntil(r, make([]byte, 16), 1000)
	assert.ErrorIs(t, err, ErrEmpty)
	assert.Equal(t, seqWord(0, tagFree), *slotSeq(r.slot(0)))
	assert.Zero(t, r.m.recovered.Load())

	// A record being filled in (claiming bit) is judged by its pid alone.
	rec := r.record(5)
	atomic.StoreUint64(&rec.start, 12345) // not ours
	atomic.StoreUint64(&rec.owner, uint64(os.Getpid())<<32|7|claimingBit)
	_, err = popUntil(r, make([]byte, 16), 100)
	assert.ErrorIs(t, err, ErrEmpty)
	// Without the bit, a wrong start time means the pid was reused: dead.
	atomic.StoreUint64(&rec.owner, uint64(os.Getpid())<<32|7)
	n, err := popUntil(r, make([]byte, 16), 1000)
	require.NoError(t, err)
	assert.Equal(t, 6, n)
}

// When every record is held, a new participant takes a dead owner's
// record, after freeing the slots that owner left claimed.
func TestReclaimDeadLane(t *testing.T) {
	r := testRing(t, MPMC, 8)
	dead := deadPID(t)
	for i := 0; i < numRecords; i++ {
		plant(r, i, os.Getpid())
	}
	_, err := r.lane()
	assert.ErrorIs(t, err, ErrBusy)
	plant(r, 9, dead)
	*r.tail() = 1<<8 | 9 // the dead owner's claim of position 0
	lane, err := r.lane()
	require.NoError(t, err)
	assert.Equal(t, uint64(9), lane)
	assert.Equal(t, seqWord(0, tagAbandoned), *slotSeq(r.slot(0)), "the dead owner's claim was undone first")
	assert.Equal(t, r.owner, atomic.LoadUint64(&r.record(9).owner))
}

// An SPSC consumer waiting on an empty ring whose producer died gets
// ErrPeerDead, after every message the producer published.
func TestSPSCPeerDead(t *testing.T) {
	r := testRing(t, SPSC, 8)
	require.NoError(t, r.TryPush([]byte("last words")))
	r.p.held = false // the producer "process" is gone...
	plant(r, recProducer, deadPID(t))
	ctx := context.Background()
	buf := make([]byte, 16)
	n, err := r.Pop(ctx, buf)
	require.NoError(t, err)
	assert.Equal(t, "last words", string(buf[:n]))
	_, err = r.Pop(ctx, buf)
	assert.ErrorIs(t, err, ErrPeerDead)
	assert.Contains(t, err.Error(), "producer (pid")

	r.SetOptions(Options{WaitForPeer: true})
	ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = r.Pop(ctx, buf)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "waits for a replacement instead")
}

// A producer that takes over a dead one's role continues where the ring
// stands: a message the dead one wrote without storing tail is not there.
func TestSPSCTakeover(t *testing.T) {
	r := testRing(t, SPSC, 8)
	require.NoError(t, r.TryPush([]byte("a")))
	require.NoError(t, r.TryPush([]byte("b")))
	copy(r.payload(r.slot(2), 1), "x")
	*r.spscLen(2) = 1 // written, never published: tail still says 2
	r.p.held = false
	plant(r, recProducer, deadPID(t))

	next, err := Attach(r.mem)
	require.NoError(t, err)
	defer next.Close()
	require.NoError(t, next.TryPush([]byte("d")))
	buf := make([]byte, 16)
	var got string
	for {
		n, err := r.TryPop(buf)
		if err == ErrEmpty {
			break
		}
		require.NoError(t, err)
		got += string(buf[:n])
	}
	assert.Equal(t, "abd", got)

	other, err := Attach(r.mem)
	require.NoError(t, err)
	defer other.Close()
	assert.ErrorIs(t, other.TryPush([]byte("e")), ErrBusy, "the new producer is alive")
}

// A process asleep on a file-backed ring that another truncates gets
// ErrCorrupt instead of dying of SIGBUS.
func TestTruncatedWhileWaiting(t *testing.T) {
	path := t.TempDir() + "/ring"
	r, err := Create(path, Config{Kind: SPSC, Capacity: 8, SlotSize: 16})
	require.NoError(t, err)
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := make(chan error, 1)
	go func() {
		_, err := r.Pop(ctx, make([]byte, 16))
		got <- err
	}()
	// Asleep: blocked in futex(2) on the not-empty word. The waiter count
	// alone is not enough: the sleeper raises it before its last look at
	// the ring, and a truncation then makes that look fault (SIGBUS).
	word := r.notEmptySeq()
	for atomic.LoadUint64(r.notEmptyWait()) == 0 || !blockedOn(unsafe.Pointer(word)) {
		runtime.Gosched()
	}
	require.NoError(t, os.Truncate(path, 0))
	err = <-got
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "was truncated to 0 bytes")
}

// blockedOn reports whether a thread of this process is blocked in a system
// call whose first argument is addr (for a futex word: sleeping on it), as
// /proc/self/task/*/syscall shows. Where that cannot be read, it says true.
func blockedOn(addr unsafe.Pointer) bool {
	tasks, err := filepath.Glob("/proc/self/task/*/syscall")
	if err != nil || len(tasks) == 0 {
		return true
	}
	arg := fmt.Sprintf(" %#x ", uintptr(addr))
	for _, task := range tasks {
		if b, err := os.ReadFile(task); err == nil && strings.Contains(string(b), arg) {
			return true
		}
	}
	return false
}

func TestTruncatedHandleStaysBroken(t *testing.T) {
	path := t.TempDir() + "/ring"
	r, err := Create(path, Config{Kind: MPMC, Capacity: 8, SlotSize: 16})
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, 0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = r.Pop(ctx, make([]byte, 16)) // the first pop checks before it touches the header
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorIs(t, r.TryPush([]byte("x")), ErrCorrupt, "and the handle stays broken")
	require.NoError(t, r.Close(), "Close unmaps without touching the header")
}

func TestSlotStatesShowStuck(t *testing.T) {
	r := testRing(t, MPMC, 8)
	plant(r, 5, deadPID(t))
	plant(r, 6, os.Getpid())
	*r.tail() = 3<<8 | 6                          // positions 0-2 claimed
	*slotRec(r.slot(0)) = seqWord(0, recWriter|5) // by a dead writer
	*slotRec(r.slot(1)) = seqWord(1, recWriter|6) // by a live one
	*slotSeq(r.slot(2)) = seqWord(2, tagFull)
	*slotSeq(r.slot(3)) = seqWord(3, 0x33)
	assert.Equal(t, SlotStates{Free: 4, Full: 1, Writing: 2, Stuck: 1, Corrupt: 1}, r.SlotStates())
	procs := r.Stats().Processes
	require.Len(t, procs, 2)
	assert.False(t, procs[0].Alive)
	assert.True(t, procs[1].Alive)
	assert.Equal(t, uint32(7), procs[1].Handle)
}

// A peer that gave its role up with Close and then exited is not a dead
// one. checkPeer can read the record before the Close and look for the
// process after the exit; it must find the record changed and keep
// waiting. (The try callback, which checkPeer calls once it has judged the
// owner dead, is where this test makes the Close visible.)
func TestSPSCPeerClosedIsNotDead(t *testing.T) {
	r := testRing(t, SPSC, 8)
	plant(r, recProducer, deadPID(t))
	rec := r.record(recProducer)
	_, err := r.checkPeer(recProducer, func() bool {
		atomic.StoreUint64(&rec.owner, 0) // the producer's Close, seen late
		return false
	})
	assert.NoError(t, err, "a producer that closed is not a dead one")

	plant(r, recProducer, deadPID(t)) // one that died holding the role is
	_, err = r.checkPeer(recProducer, func() bool { return false })
	assert.ErrorIs(t, err, ErrPeerDead)
}

// The last look checkPeer takes before it reports a dead peer can succeed:
// a message the producer published just before it died, or room a consumer
// gave back just before it closed. The operation is then done, and the
// waiter must return, not try again: a second try would pop the next
// message over the one just popped (lost), or push the message again
// (duplicated), or report ErrPeerDead for an operation that took place.
func TestSPSCPeerLastLookSucceeds(t *testing.T) {
	r := testRing(t, SPSC, 8)
	plant(r, recProducer, deadPID(t))
	calls := 0
	try := func() bool { calls++; return calls == 2 } // 1: the sleeper's look; 2: checkPeer's last look
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done, err := r.sleep(ctx, false, try)
	require.NoError(t, err)
	assert.True(t, done, "the last look succeeded")
	assert.Equal(t, 2, calls, "nothing is tried after a success")
	assert.Zero(t, atomic.LoadUint64(r.notEmptyWait()), "no longer announced as a waiter")
}

// A process killed while asleep leaves its waiter counted; whoever takes
// its record over takes the count back, or every publication would make a
// system call for ever after.
func TestDeadSleeperUncounted(t *testing.T) {
	t.Run("spsc successor", func(t *testing.T) {
		r := testRing(t, SPSC, 8)
		plant(r, recConsumer, deadPID(t))
		atomic.StoreUint32(&r.record(recConsumer).sleepers, sleeperConsumer)
		atomic.StoreUint64(r.notEmptyWait(), 1<<recConsumer)
		_, err := r.TryPop(make([]byte, 16)) // takes the consumer role over
		assert.ErrorIs(t, err, ErrEmpty)
		assert.Zero(t, atomic.LoadUint64(r.notEmptyWait()))
		assert.Zero(t, atomic.LoadUint32(&r.record(recConsumer).sleepers))
	})
	t.Run("killed between count and bit", func(t *testing.T) {
		// The kill point InAnnounce: counted in the record, bit not set.
		r := testRing(t, SPSC, 8)
		plant(r, recConsumer, deadPID(t))
		atomic.StoreUint32(&r.record(recConsumer).sleepers, sleeperConsumer)
		_, err := r.TryPop(make([]byte, 16))
		assert.ErrorIs(t, err, ErrEmpty)
		assert.Zero(t, atomic.LoadUint64(r.notEmptyWait()))
		assert.Zero(t, atomic.LoadUint32(&r.record(recConsumer).sleepers))
	})
	t.Run("mpmc newcomer", func(t *testing.T) {
		r := testRing(t, MPMC, 8)
		plant(r, 7, deadPID(t))
		plant(r, 9, os.Getpid())
		atomic.StoreUint32(&r.record(7).sleepers, 2*sleeperConsumer+sleeperProducer)
		atomic.StoreUint32(&r.record(9).sleepers, sleeperConsumer)
		atomic.StoreUint64(r.notEmptyWait(), 1<<7|1<<9) // two dead, one live elsewhere
		atomic.StoreUint64(r.notFullWait(), 1<<7)
		require.NoError(t, r.TryPush([]byte("x"))) // registers: sweeps first
		assert.Equal(t, uint64(1<<9), atomic.LoadUint64(r.notEmptyWait()), "the live waiter stays counted")
		assert.Zero(t, atomic.LoadUint64(r.notFullWait()))
		assert.Equal(t, 1, r.Stats().ConsumersWaiting)
		assert.Zero(t, atomic.LoadUint64(&r.record(7).owner), "the dead record is free again")
	})
	t.Run("mpmc publisher", func(t *testing.T) {
		r := testRing(t, MPMC, 8)
		require.NoError(t, r.TryPush([]byte("x")))
		plant(r, 7, deadPID(t))
		atomic.StoreUint32(&r.record(7).sleepers, sleeperConsumer)
		atomic.StoreUint64(r.notEmptyWait(), 1<<7)
		// Wake-ups that find nobody asleep, again and again, make the
		// publisher sweep.
		for i := 0; i < 100 && atomic.LoadUint64(r.notEmptyWait()) != 0; i++ {
			require.NoError(t, r.TryPush([]byte("y")))
			_, err := r.TryPop(make([]byte, 16))
			require.NoError(t, err)
		}
		assert.Zero(t, atomic.LoadUint64(r.notEmptyWait()))
	})
	t.Run("announce and leave", func(t *testing.T) {
		r := testRing(t, MPMC, 8)
		require.NoError(t, r.TryPush([]byte("x")))
		lane := int(r.m.lane.Load())
		a := r.announce(true)
		b := r.announce(true)
		assert.Equal(t, uint64(1)<<lane, atomic.LoadUint64(r.notFullWait()))
		assert.Equal(t, uint32(2*sleeperProducer), atomic.LoadUint32(&r.record(lane).sleepers))
		assert.Equal(t, 2, r.Stats().ProducersWaiting)
		a.leave()
		assert.Equal(t, uint64(1)<<lane, atomic.LoadUint64(r.notFullWait()), "one still waits")
		b.leave()
		assert.Zero(t, atomic.LoadUint64(r.notFullWait()))
		assert.Zero(t, atomic.LoadUint32(&r.record(lane).sleepers))
	})
}
