package ring

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A producer killed between its claim and its move of tail leaves tail at
// its claim; the consumer recovers the claim (its epoch is gone) and moves
// head past it, so tail is behind head. Producers must then move tail up to
// head, not take it for a stale read and spin.
func TestMPSCTailBehindHead(t *testing.T) {
	cfg := Config{Kind: MPSCBytes, Capacity: 1024, SlotSize: 64}
	mem := alignedCopy(make([]byte, totalSize(cfg)))
	r, err := Format(mem, cfg)
	require.NoError(t, err)
	defer r.Close()
	r.SetOptions(Options{Grace: 1}) // the dead claim is recovered as soon as it has been seen enough
	// The dead producer's claim: lane 5 in an epoch its record never had.
	*r.bHdr(0) = bWord(bClaimed|77<<6|5, 32)
	buf := make([]byte, 64)
	for i := 0; *r.head() == 0; i++ {
		_, err = r.TryPop(buf)
		require.ErrorIs(t, err, ErrEmpty, "a claim being written, then nothing queued once it is padding")
		require.Less(t, i, 100*stuckPolls, "the dead claim is never recovered")
	}
	_, err = r.TryPop(buf)
	require.ErrorIs(t, err, ErrEmpty)
	require.Equal(t, uint64(4), *r.head(), "head is past the recovered claim")
	require.Equal(t, uint64(0), *r.tail(), "tail is still at the dead claim")
	require.NoError(t, r.TryPush([]byte("after")), "a producer moves tail up to head")
	n, err := r.TryPop(buf)
	require.NoError(t, err)
	assert.Equal(t, "after", string(buf[:n]))
	assert.Equal(t, uint64(1), r.m.recovered.Load())
}
