package ring

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A producer killed between its claim (the CAS on tail) and the header of
// its record leaves a place claimed with nothing written there; tail names
// its lane, and the lane's entry says where the claim starts and how long
// it is. The consumer waits Grace, finds the claimer gone (here: an epoch
// its record never had), and makes the claim padding; the ring goes on.
func TestMPSCClaimWithoutHeader(t *testing.T) {
	cfg := Config{Kind: MPSCBytes, Capacity: 1024, SlotSize: 64}
	mem := alignedCopy(make([]byte, totalSize(cfg)))
	r, err := Format(mem, cfg)
	require.NoError(t, err)
	defer r.Close()
	r.SetOptions(Options{Grace: 1}) // recovered as soon as it has been seen enough
	e := r.claim(5)
	e.start, e.size, e.claimEpoch = 0, 4, 77
	*r.tail() = 4<<8 | tailLane | 5
	buf := make([]byte, 64)
	for i := 0; *r.head() == 0; i++ {
		_, err = r.TryPop(buf)
		require.ErrorIs(t, err, ErrEmpty, "a claim being written, then nothing queued once it is padding")
		require.Less(t, i, 100*stuckPolls, "the dead claim is never recovered")
	}
	require.Equal(t, uint64(4), *r.head(), "head is past the recovered claim")
	require.NoError(t, r.TryPush([]byte("after")))
	n, err := r.TryPop(buf)
	require.NoError(t, err)
	assert.Equal(t, "after", string(buf[:n]))
	assert.Equal(t, uint64(1), r.m.recovered.Load())
}

// Positions are 56-bit: a ring whose positions are about to wrap goes on
// across the wrap, with the laps of its wipes numbered consistently.
func TestMPSCPositionsWrap(t *testing.T) {
	cfg := Config{Kind: MPSCBytes, Capacity: 256, SlotSize: 64}
	mem := alignedCopy(make([]byte, totalSize(cfg)))
	r, err := Format(mem, cfg)
	require.NoError(t, err)
	defer r.Close()
	near := uint64(posMask - 200) // units
	// The state a ring reaches at near: every unit wiped in the lap of its
	// last record, unwritten for the lap near is in.
	for u := near - 32; u != near; u++ {
		*r.bHdr(u) = bWord(bFree, (r.lap(u)-1)&r.lapMask)
	}
	*r.head() = near
	*r.tail() = near<<8 | tailLane
	buf := make([]byte, 64)
	for i := 0; i < 500; i++ {
		msg := []byte{byte(i), byte(i >> 8), 7, 7, 7}[:1+i%5]
		require.NoError(t, r.TryPush(msg), "push %d", i)
		n, err := r.TryPop(buf)
		require.NoError(t, err, "pop %d", i)
		require.Equal(t, msg, buf[:n])
	}
	assert.Less(t, *r.head(), near, "positions wrapped")

	// Where 2^56 units hold fewer than 2^32 laps (an area of more than
	// 128 MiB), laps are numbered modulo their count: the lap before the
	// first is the last.
	l := layout{lapShift: 27, lapMask: 1<<29 - 1}
	assert.Equal(t, uint32(1<<29-1), l.lap(posMask))
	assert.True(t, l.unwritten(0+1<<27, bWord(bFree, 0)))
	assert.True(t, l.unwritten(0, bWord(bFree, 1<<29-1)), "lap 0 after the wrap follows the last lap")
}
