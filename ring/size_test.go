package ring

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Size refuses a ring larger than maxTotalSize, naming the value and the
// limit; every field on its own may be at its limit. (It only computes: no
// memory is asked for.)
func TestSizeLimit(t *testing.T) {
	if ^uint(0)>>32 == 0 {
		t.Skip("32-bit: an int holds less than the largest ring")
	}
	_, err := Size(Config{Kind: MPMC, Capacity: maxCapacity, SlotSize: maxSlotSize})
	require.ErrorIs(t, err, ErrInvalidConfig)
	var le *LayoutError
	require.True(t, errors.As(err, &le), "%v", err)
	assert.Equal(t, "total size", le.Field)
	assert.Greater(t, le.Value, uint64(1)<<60, "an exbibyte")
	assert.Contains(t, err.Error(), "(capacity 1073741824, slot size 1073741824) is above 70368744177664 (64 TiB), the largest ring")

	for _, cfg := range []Config{
		{Kind: SPSC, Capacity: maxCapacity, SlotSize: 1 << 14},
		{Kind: MPMC, Capacity: 2, SlotSize: maxSlotSize},
	} {
		n, err := Size(cfg)
		require.NoError(t, err, "%+v", cfg)
		assert.LessOrEqual(t, uint64(n), uint64(maxTotalSize), "%+v", cfg)
	}
	// Just above the limit.
	_, err = Size(Config{Kind: SPSC, Capacity: maxCapacity, SlotSize: 1<<16 + 8})
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
