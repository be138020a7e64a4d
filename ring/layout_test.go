package ring

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hot words each own a 128-byte stride: offsets are multiples of 128
// and distinct.
func TestHotWordsOnOwnStrides(t *testing.T) {
	hot := map[string]uintptr{
		"shut down":         offClosed,
		"tail":              offTail,
		"head":              offHead,
		"not-empty futex":   offNotEmptySeq,
		"not-empty waiters": offNotEmptyWait,
		"not-full futex":    offNotFullSeq,
		"not-full waiters":  offNotFullWait,
		"reserved":          offReserved,
	}
	seen := map[uintptr]string{}
	for name, off := range hot {
		assert.Zero(t, off%lineStride, "%s at %d is not on a 128-byte boundary", name, off)
		assert.GreaterOrEqual(t, off, uintptr(configEnd), "%s overlaps the configuration", name)
		if other, dup := seen[off]; dup {
			t.Errorf("%s and %s share offset %d", name, other, off)
		}
		seen[off] = name
	}
	assert.Less(t, uintptr(offReserved+lineStride), uintptr(offRecords+1))
}

// 64-bit words must be 8-byte aligned on every architecture (atomics on
// 32-bit ARM and on arm64 fault or tear otherwise).
func TestWordsAligned(t *testing.T) {
	for name, off := range map[string]uintptr{
		"magic": offMagic, "data offset": offDataOffset, "total size": offTotalSize,
		"created": offCreated, "tail": offTail, "head": offHead, "waiters": offNotEmptyWait, "room waiters": offNotFullWait,
		"records": offRecords, "data": dataOffset,
	} {
		assert.Zero(t, off%8, "%s at %d", name, off)
	}
	assert.Zero(t, unsafe.Offsetof(record{}.owner)%8)
	assert.Zero(t, unsafe.Offsetof(record{}.start)%8)
	assert.Zero(t, unsafe.Offsetof(record{}.pidns)%8)
	assert.Zero(t, recordSize%8)
	for _, size := range []int{1, 7, 8, 9, 16, 40, 48, 56, 57, 63, 64, 65, 1000, 1024, 1 << 20} {
		st, pay := slotLayout(MPMC, size)
		assert.Zero(t, pay%8, "payload offset %d", pay)
		assert.GreaterOrEqual(t, pay, mpmcSlotHeader)
		assert.GreaterOrEqual(t, st, pay+size, "slot size %d", size)
		if st <= cacheLine {
			assert.Zero(t, cacheLine%st, "slot of %d bytes straddles cache lines", st)
			assert.Equal(t, mpmcSlotHeader, pay)
		} else {
			assert.Zero(t, st%cacheLine, "stride %d is not whole lines", st)
			assert.Equal(t, cacheLine, pay, "a split slot's payload starts on its second line")
			assert.Less(t, st, pay+size+cacheLine)
		}
		st, pay = slotLayout(SPSC, size)
		assert.Zero(t, pay)
		assert.Zero(t, st%8)
		assert.Less(t, st, size+8, "an SPSC slot is its payload, rounded up to 8")
	}
	assert.Zero(t, mpmcLenOffset%4)
	assert.LessOrEqual(t, mpmcLenOffset+4, mpmcSlotHeader)
	// An 8-byte message in an SPSC ring takes 8 bytes of slot and 4 of
	// length, as in the C index ring.
	assert.Equal(t, 8, stride(SPSC, 8))
	assert.Equal(t, 32, stride(MPMC, 8))
	assert.Equal(t, 64, stride(MPMC, 40))
	assert.Equal(t, 64, stride(SPSC, 64))
	assert.Equal(t, 1024, stride(SPSC, 1024))
	assert.Equal(t, uint64(128), lengthsSize(SPSC, 2), "the lengths pad to a line stride")
	assert.Equal(t, uint64(4096), lengthsSize(SPSC, 1024))
	assert.Zero(t, lengthsSize(MPMC, 1024))
	assert.Zero(t, dataOffset%4096, "the data starts on a page")
}

func TestTurnArithmetic(t *testing.T) {
	for _, pos := range []uint64{0, 1, 1 << 20, 1<<56 - 1, 1 << 56, 1<<64 - 1} {
		for _, d := range []int64{-1 << 40, -1024, -1, 0, 1, 1024, 1 << 40} {
			v := seqWord(pos+uint64(d), tagFull)
			assert.Equal(t, d, turnDiff(v, pos), "pos %d d %d", pos, d)
			assert.Equal(t, uint64(tagFull), v&0xff)
		}
	}
}

// Format leaves every slot FREE of its own turn and publishes the magic
// last; validate reads back the configuration.
func TestFormatValidate(t *testing.T) {
	cfg := Config{Kind: MPMC, Capacity: 8, SlotSize: 20}
	mem := make([]byte, totalSize(cfg))
	l, err := format(mem, cfg, 42, 7)
	require.NoError(t, err)
	for i := uint64(0); i < 8; i++ {
		assert.Equal(t, seqWord(i, tagFree), *slotSeq(l.slot(i)))
	}
	spsc := Config{Kind: SPSC, Capacity: 4, SlotSize: 8}
	smem := make([]byte, totalSize(spsc))
	sl, err := format(smem, spsc, 1, 1)
	require.NoError(t, err)
	for i := uint64(0); i < 4; i++ {
		assert.Zero(t, *sl.spscLen(i))
	}
	assert.Equal(t, uintptr(dataOffset+128), uintptr(sl.slot(0))-uintptr(sl.base), "slots after the lengths")
	assert.Equal(t, l.slot(0), l.slot(8), "positions wrap with the mask")
	got, err := validate(mem)
	require.NoError(t, err)
	assert.Equal(t, cfg, got)
	pid, created := l.creator()
	assert.Equal(t, uint32(42), pid)
	assert.Equal(t, int64(7), created)
}
