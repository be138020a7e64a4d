package ring

import (
	"errors"
	"io"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// knownErr reports whether err is one this package documents. Anything
// else (or a panic, or a hang) from a ring written by someone else is a bug.
func knownErr(err error) bool {
	for _, e := range []error{ErrFull, ErrEmpty, ErrClosed, ErrTooLarge, ErrIncompatible,
		ErrCorrupt, ErrNotReady, ErrBusy, ErrPeerDead, ErrReserved, ErrNotReserved, io.EOF, io.ErrShortBuffer} {
		if errors.Is(err, e) {
			return true
		}
	}
	return err == nil
}

// exercise runs every non-blocking operation once on r and checks the
// results are sane.
func exercise(t *testing.T, r *Ring) {
	buf := make([]byte, r.cfg.SlotSize)
	msg := make([]byte, r.cfg.SlotSize)
	check := func(op string, err error) {
		if !knownErr(err) {
			t.Fatalf("%s: unexpected error %v", op, err)
		}
	}
	check("TryPush", r.TryPush(msg[:1]))
	n, err := r.TryPop(buf)
	check("TryPop", err)
	if err == nil && n > r.cfg.SlotSize {
		t.Fatalf("TryPop returned %d bytes from %d-byte slots", n, r.cfg.SlotSize)
	}
	_, err = r.TryPushBatch([][]byte{msg, msg[:0]})
	check("TryPushBatch", err)
	_, err = r.TryPopFunc(3, func(m []byte) {
		if len(m) > r.cfg.SlotSize {
			t.Fatalf("PopFunc view of %d bytes", len(m))
		}
	})
	check("TryPopFunc", err)
	if l := r.Len(); l < 0 || l > r.cfg.Capacity {
		t.Fatalf("Len %d out of [0, %d]", l, r.cfg.Capacity)
	}
	if view, err := r.TryReserve(r.cfg.SlotSize); err == nil {
		if len(view) != r.cfg.SlotSize {
			t.Fatalf("reserved %d bytes, got a view of %d", r.cfg.SlotSize, len(view))
		}
		clear(view)
		check("Commit", r.Commit(len(view)/2))
	} else {
		check("TryReserve", err)
	}
	_ = r.Stats()
}

// alignedCopy returns data in 8-byte aligned memory.
func alignedCopy(data []byte) []byte {
	words := make([]uint64, (len(data)+7)/8+1)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)[:len(data)]
	copy(mem, data)
	return mem
}

// FuzzAttach: arbitrary bytes are either refused by Attach with a
// documented error, or make a ring every operation works on without a
// panic or an out-of-bounds access.
func FuzzAttach(f *testing.F) {
	for _, cfg := range []Config{
		{Kind: SPSC, Capacity: 4, SlotSize: 8},
		{Kind: MPMC, Capacity: 8, SlotSize: 3},
		{Kind: SPSCBytes, Capacity: 64, SlotSize: 16},
		{Kind: MPSCBytes, Capacity: 128, SlotSize: 20},
	} {
		mem := make([]byte, totalSize(cfg))
		r, err := format(mem, cfg, 1, 2)
		require.NoError(f, err)
		_ = r
		f.Add(append([]byte(nil), mem...))
		h, _ := Attach(mem)
		h.TryPush([]byte("seed"))
		f.Add(append([]byte(nil), mem...))
		h.Close()
	}
	f.Add([]byte("SHMRING1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := alignedCopy(data)
		r, err := Attach(mem)
		if err != nil {
			if !knownErr(err) {
				t.Fatalf("Attach: unexpected error %v", err)
			}
			return
		}
		defer r.Close()
		exercise(t, r)
		exercise(t, r)
	})
}

// FuzzCorrupt formats a ring and interleaves operations with writes of
// arbitrary values into its header and slot words, as a buggy or hostile
// process would. Nothing may panic, index outside the region or loop
// forever; a slot length bigger than the slot is ErrCorrupt.
func FuzzCorrupt(f *testing.F) {
	f.Add(uint8(1), []byte{0, 5, 0, 3, 1, 1, 1, 1})
	f.Add(uint8(2), []byte{0, 5, 0, 3, 3, 0, 200, 1, 1})
	f.Add(uint8(1), []byte{0, 1, 4, 0, 255, 255, 1})
	f.Add(uint8(2), []byte{0, 1, 0, 2, 2, 1, 9, 1, 0, 1, 5, 6})
	f.Add(uint8(2), []byte{3, 2, 0x41, 0, 4, 1, 1, 2, 3, 0xff, 0})
	f.Fuzz(func(t *testing.T, kind uint8, script []byte) {
		cfg := Config{Kind: Kind(kind%2 + 1), Capacity: 8, SlotSize: 16}
		mem := alignedCopy(make([]byte, totalSize(cfg)))
		r, err := Format(mem, cfg)
		require.NoError(t, err)
		defer r.Close()
		next := func() byte {
			if len(script) == 0 {
				return 0
			}
			b := script[0]
			script = script[1:]
			return b
		}
		word := func() uint64 {
			var v uint64
			for i := 0; i < 8; i++ {
				v = v<<8 | uint64(next())
			}
			return v
		}
		buf := make([]byte, cfg.SlotSize)
		for steps := 0; len(script) > 0 && steps < 256; steps++ {
			switch next() % 8 {
			case 0:
				err = r.TryPush(make([]byte, int(next())%(cfg.SlotSize+2)))
			case 1:
				var n int
				n, err = r.TryPop(buf)
				if err == nil && n > cfg.SlotSize {
					t.Fatalf("popped %d bytes", n)
				}
			case 2: // a header word
				offs := []uintptr{offTail, offHead, offReserved, offClosed, offNotEmptyWait, offNotFullWait,
					offRecords, offRecords + 8, offRecords + recordSize, offRecords + 2*recordSize}
				*(*uint64)(unsafe.Pointer(&mem[offs[int(next())%len(offs)]])) = word()
			case 3: // a slot's sequence word, or SPSC payload
				if cfg.Kind == SPSC {
					*(*uint64)(r.slot(uint64(next()))) = word()
				} else {
					*slotSeq(r.slot(uint64(next()))) = word()
				}
			case 4: // a slot's length word
				if cfg.Kind == SPSC {
					*r.spscLen(uint64(next())) = uint32(word())
				} else {
					*slotLen(r.slot(uint64(next()))) = uint32(word())
				}
			case 5:
				_, err = r.TryPushBatch([][]byte{buf[:1], buf[:2]})
			case 6:
				_, err = r.TryPopFunc(int(next()%4), func([]byte) {})
			case 7:
				_ = r.Stats()
				if l := r.Len(); l < 0 || l > cfg.Capacity {
					t.Fatalf("Len %d", l)
				}
			}
			if !knownErr(err) {
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}

// A slot length above the slot size is reported as corruption, and the
// message is not delivered.
func TestCorruptLength(t *testing.T) {
	for _, kind := range []Kind{SPSC, MPMC} {
		cfg := Config{Kind: kind, Capacity: 4, SlotSize: 16}
		mem := alignedCopy(make([]byte, totalSize(cfg)))
		r, err := Format(mem, cfg)
		require.NoError(t, err)
		require.NoError(t, r.TryPush([]byte("hi")))
		length := slotLen(r.slot(0))
		if kind == SPSC {
			length = r.spscLen(0)
		}
		*length = 17
		buf := make([]byte, 64)
		_, err = r.TryPop(buf)
		assert.ErrorIs(t, err, ErrCorrupt, kind)
		assert.Contains(t, err.Error(), "has length 17, above the slot size 16")
		_, err = r.TryPopFunc(1, func([]byte) { t.Error("fn called on a corrupt message") })
		assert.ErrorIs(t, err, ErrCorrupt)
		*length = 2
		n, err := r.TryPop(buf)
		require.NoError(t, err)
		assert.Equal(t, "hi", string(buf[:n]))
	}
}

// A slot word with a tag no version writes is corruption.
func TestCorruptTag(t *testing.T) {
	cfg := Config{Kind: MPMC, Capacity: 4, SlotSize: 16}
	mem := alignedCopy(make([]byte, totalSize(cfg)))
	r, err := Format(mem, cfg)
	require.NoError(t, err)
	*slotSeq(r.slot(0)) = seqWord(0, 0x17)
	err = r.TryPush([]byte("x"))
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "unknown tag 0x17")
	_, err = r.TryPop(make([]byte, 16))
	assert.ErrorIs(t, err, ErrCorrupt)
}

// FuzzBytesRecords runs a script of operations on a small byte ring of
// either kind, interleaved with writes of arbitrary words into its record
// headers, payloads, head and tail, as a buggy or hostile process would.
// Nothing may panic, index outside the data area or loop forever; a pop
// never returns more than the largest message; every error is documented.
func FuzzBytesRecords(f *testing.F) {
	f.Add(uint8(0), []byte{0, 20, 1, 0, 30, 2, 1, 3, 0, 5, 6})
	f.Add(uint8(1), []byte{0, 20, 0, 30, 4, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1})
	f.Add(uint8(1), []byte{5, 12, 7, 0, 9, 1, 4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 8, 1})
	f.Add(uint8(0), []byte{4, 1, 0x80, 0, 0, 0, 0, 0, 0, 8, 1, 1, 1})
	f.Add(uint8(1), []byte{4, 2, 0x80, 0, 0, 0x41, 0, 0, 0, 0x10, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, kind uint8, script []byte) {
		cfg := Config{Kind: SPSCBytes + Kind(kind%2), Capacity: 256, SlotSize: 64}
		mem := alignedCopy(make([]byte, totalSize(cfg)))
		r, err := Format(mem, cfg)
		require.NoError(t, err)
		defer r.Close()
		next := func() byte {
			if len(script) == 0 {
				return 0
			}
			b := script[0]
			script = script[1:]
			return b
		}
		word := func() uint64 {
			var v uint64
			for i := 0; i < 8; i++ {
				v = v<<8 | uint64(next())
			}
			return v
		}
		buf := make([]byte, cfg.SlotSize)
		msg := make([]byte, cfg.SlotSize+1)
		for steps := 0; len(script) > 0 && steps < 256; steps++ {
			switch next() % 10 {
			case 0:
				err = r.TryPush(msg[:int(next())%(cfg.SlotSize+2)])
			case 1:
				var n int
				n, err = r.TryPop(buf[:int(next())%(cfg.SlotSize+1)])
				if err == nil && n > cfg.SlotSize {
					t.Fatalf("popped %d bytes", n)
				}
			case 2:
				_, err = r.TryPopFunc(int(next()%4), func(m []byte) {
					if len(m) > cfg.SlotSize {
						t.Fatalf("a view of %d bytes", len(m))
					}
				})
			case 3: // a record header or payload word: any unit of the data area
				*r.bHdr(uint64(next())) = word()
			case 4: // a header word as a record would have it: state and length
				*r.bHdr(uint64(next())) = uint64(next())<<56 | uint64(next())<<32 | uint64(next())
			case 5: // head, tail, the epochs
				offs := []uintptr{offTail, offHead, dataOffset, dataOffset + 8, dataOffset + 12, dataOffset + claimStride + 16, offClosed}
				*(*uint64)(unsafe.Pointer(&mem[offs[int(next())%len(offs)]])) = word()
			case 6:
				var view []byte
				if view, err = r.TryReserve(int(next()) % (cfg.SlotSize + 1)); err == nil {
					clear(view)
					switch next() % 3 {
					case 0:
						err = r.Commit(len(view))
					case 1:
						err = r.Commit(len(view) / 2)
					default:
						err = r.Abort()
					}
				}
			case 7:
				_, err = r.TryPushBatch([][]byte{msg[:3], msg[:int(next())%cfg.SlotSize]})
			case 8:
				st := r.Stats()
				if l := r.Len(); l < 0 || l > cfg.Capacity/8 {
					t.Fatalf("Len %d", l)
				}
				if st.BytesUsed < 0 || st.BytesUsed > cfg.Capacity {
					t.Fatalf("BytesUsed %d", st.BytesUsed)
				}
			case 9: // another handle attaches, as a successor would
				h, aerr := Attach(mem)
				require.NoError(t, aerr)
				_, err = h.TryPop(buf)
				if !knownErr(err) {
					t.Fatalf("successor's pop: unexpected error %v", err)
				}
				err = h.TryPush(msg[:5])
				h.Close()
			}
			if !knownErr(err) {
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}
