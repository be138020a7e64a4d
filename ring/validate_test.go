package ring

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func formatted(t testing.TB, cfg Config) []byte {
	t.Helper()
	mem := make([]byte, totalSize(cfg))
	_, err := format(mem, cfg, 1, 1)
	require.NoError(t, err)
	return mem
}

func put32(mem []byte, off uintptr, v uint32) { *(*uint32)(unsafe.Pointer(&mem[off])) = v }
func put64(mem []byte, off uintptr, v uint64) { *(*uint64)(unsafe.Pointer(&mem[off])) = v }

// Every validation error, with the sentinel it wraps and the message that
// names the bad value.
func TestAttachValidation(t *testing.T) {
	cfg := Config{Kind: SPSC, Capacity: 16, SlotSize: 24}
	tests := []struct {
		name   string
		mutate func(mem []byte) []byte
		want   error
		msg    string
	}{
		{"short region", func(m []byte) []byte { return m[:100] }, ErrIncompatible, "ring: region size 100 is below the 4096-byte header"},
		{"misaligned", func(m []byte) []byte { return m[1:] }, ErrIncompatible, "is not 8-byte aligned"},
		{"not formatted yet", func(m []byte) []byte { put64(m, offMagic, 0); return m }, ErrNotReady, "ring: ring is not formatted yet"},
		{"bad magic", func(m []byte) []byte { put64(m, offMagic, 0xdeadbeef); return m }, ErrIncompatible, "ring: magic 0xdeadbeef is not \"SHMRING1\""},
		{"other version", func(m []byte) []byte { put32(m, offVersion, 3); return m }, ErrIncompatible, "ring: version 3 is not the supported version 2"},
		{"first layout", func(m []byte) []byte { put32(m, offVersion, 1); return m }, ErrIncompatible, "ring: version 1 is not the supported version 2 (a ring of shmring's first layout"},
		{"unknown kind", func(m []byte) []byte { put32(m, offKind, 7); return m }, ErrCorrupt, "ring: kind 7 is not SPSC (1), MPMC (2), SPSCBytes (3) or MPSCBytes (4)"},
		{"capacity 0", func(m []byte) []byte { put32(m, offCapacity, 0); return m }, ErrCorrupt, "ring: capacity 0 is below 2"},
		{"capacity 1000", func(m []byte) []byte { put32(m, offCapacity, 1000); return m }, ErrCorrupt, "ring: capacity 1000 is not a power of two"},
		{"capacity huge", func(m []byte) []byte { put32(m, offCapacity, 1<<31); return m }, ErrCorrupt, "ring: capacity 2147483648 is above 1073741824"},
		{"slot size 0", func(m []byte) []byte { put32(m, offSlotSize, 0); return m }, ErrCorrupt, "ring: slot size 0 is below 1"},
		{"slot size huge", func(m []byte) []byte { put32(m, offSlotSize, 1<<31); return m }, ErrCorrupt, "ring: slot size 2147483648 is above"},
		{"stride below slot", func(m []byte) []byte { put32(m, offStride, 20); return m }, ErrCorrupt, "ring: slot stride 20 is not 24 for slot size 24"},
		{"flags", func(m []byte) []byte { put32(m, offFlags, 4); return m }, ErrIncompatible, "ring: flags 4 has bits"},
		{"data offset", func(m []byte) []byte { put64(m, offDataOffset, 64); return m }, ErrCorrupt, "ring: data offset 64 is not 4096"},
		{"total size", func(m []byte) []byte { put64(m, offTotalSize, 1<<40); return m }, ErrCorrupt, "ring: total size 1099511627776 is not 4608"},
		{"truncated", func(m []byte) []byte { return m[:len(m)-8] }, ErrCorrupt, "ring: total size 4608 exceeds the 4600-byte region (truncated?)"},
		{"slot size grown past region", func(m []byte) []byte {
			put32(m, offSlotSize, 4096)
			put32(m, offStride, uint32(stride(SPSC, 4096)))
			put64(m, offTotalSize, uint64(dataOffset)+dataSize(SPSC, 16, 4096))
			return m
		}, ErrCorrupt, "exceeds the 4608-byte region"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := tc.mutate(formatted(t, cfg))
			_, err := validate(mem)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tc.want), "%v is not %v", err, tc.want)
			assert.Contains(t, err.Error(), tc.msg)
			_, err = Attach(mem)
			assert.True(t, errors.Is(err, tc.want))
		})
	}
}

// Not ready is its own error, not "incompatible": a consumer that started
// first waits for it.
func TestNotReadyIsDistinct(t *testing.T) {
	mem := formatted(t, Config{Kind: MPMC, Capacity: 2, SlotSize: 1})
	put64(mem, offMagic, 0)
	_, err := Attach(mem)
	assert.ErrorIs(t, err, ErrNotReady)
	assert.NotErrorIs(t, err, ErrIncompatible)
	assert.NotErrorIs(t, err, ErrCorrupt)
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		cfg Config
		msg string
	}{
		{Config{Kind: 0, Capacity: 8, SlotSize: 8}, "ring: kind 0 is not SPSC (1), MPMC (2), SPSCBytes (3) or MPSCBytes (4)"},
		{Config{Kind: 5, Capacity: 8, SlotSize: 8}, "ring: kind 5 is not"},
		{Config{Kind: SPSC, Capacity: 1, SlotSize: 8}, "ring: capacity 1 is below 2"},
		{Config{Kind: SPSC, Capacity: -4, SlotSize: 8}, "ring: capacity -4 is below 2"},
		{Config{Kind: SPSC, Capacity: 1000, SlotSize: 8}, "ring: capacity 1000 is not a power of two"},
		{Config{Kind: SPSC, Capacity: 1 << 31, SlotSize: 8}, "ring: capacity 2147483648 is above 1073741824"},
		{Config{Kind: MPMC, Capacity: 8, SlotSize: 0}, "ring: slot size 0 is below 1"},
		{Config{Kind: MPMC, Capacity: 8, SlotSize: 1 << 31}, "ring: slot size 2147483648 is above 1073741824"},
	}
	for _, tc := range tests {
		_, err := Size(tc.cfg)
		require.Error(t, err, "%+v", tc.cfg)
		assert.ErrorIs(t, err, ErrInvalidConfig)
		assert.Contains(t, err.Error(), tc.msg)
		_, err = Format(make([]byte, 1<<16), tc.cfg)
		assert.ErrorIs(t, err, ErrInvalidConfig)
	}
	cfg := Config{Kind: SPSC, Capacity: 8, SlotSize: 8}
	n, err := Size(cfg)
	require.NoError(t, err)
	assert.Equal(t, 4096+128+8*8, n, "header, lengths padded to a line stride, slots")
	_, err = Format(make([]byte, n-1), cfg)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "ring: region size 4287 is below the 4288 bytes")
}
