package ring

// This file is the binary layout of a ring, version 2, and nothing else:
// the diagram, the offsets, the slot states, the validation of a header
// written by someone else, and the accessors the algorithms use. It is the
// only file of the package that turns shared memory into typed words.
//
// All words are little-endian on the machines this runs on (native order;
// a ring is shared by processes of one host). Only fixed-width integers and
// byte arrays live here: another process cannot follow a pointer.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    magic "SHMRING1" (u64)                     |  0  written last, atomically
// |                                                               |
// +---------------------------------------------------------------+
// |                        version (u32) = 2                      |  8
// +---------------------------------------------------------------+
// |  kind (u32): 1 SPSC, 2 MPMC, 3 SPSCBytes, 4 MPSCBytes          | 12
// +---------------------------------------------------------------+
// |  capacity (u32): slots, power of two (byte kinds: bytes of data)| 16
// +---------------------------------------------------------------+
// |                slot size (u32): largest message               | 20
// +---------------------------------------------------------------+
// |  slot stride (u32): see slotLayout                            | 24
// +---------------------------------------------------------------+
// |                        flags (u32) = 0                        | 28
// +---------------------------------------------------------------+
// |                   data offset (u64) = 4096                    | 32
// +---------------------------------------------------------------+
// |  total size (u64) = data offset + SPSC lengths + capacity*stride| 40
// +---------------------------------------------------------------+
// |                      creator pid (u32)                        | 48
// +---------------------------------------------------------------+
// |                        reserved (u32)                         | 52
// +---------------------------------------------------------------+
// |              creation time (u64, Unix nanoseconds)            | 56
// +---------------------------------------------------------------+
// |                     reserved to 128                           | 64
// +===============================================================+
// |  shut down (u32): 0 open, 1 shut down; written once           | 128  every line below
// +===============================================================+       is a 128-byte
// |  tail (u64): producer position; MPMC: position<<8 | lane      | 256  stride: two
// +===============================================================+       cache lines,
// |  head (u64): consumer position; MPMC: position<<8 | lane      | 384  so neither the
// +===============================================================+       line nor its
// |  not-empty futex word (u32): bumped to wake consumers         | 512  prefetched pair
// +===============================================================+       is shared by two
// |  not-empty waiters (u64): bit i set while process record i    | 640  hot words.
// |    has consumers asleep or about to sleep                     |
// +===============================================================+
// |  not-full futex word (u32): bumped to wake producers          | 768
// +===============================================================+
// |  not-full waiters (u64): bit i set while record i has         | 896
// |    producers asleep or about to sleep                         |
// +===============================================================+
// |  reserved (u64)                                               | 1024
// +===============================================================+
// |  MPSCBytes: epochs: 64 x u32, one per process record          | 1280
// |  reserved                                                     |
// +===============================================================+
// |  process records: 64 x 32 bytes                               | 2048
// |    owner (u64)  = pid<<32 | handle token; 0 = free            |
// |    start (u64)  = process start time, clock ticks since boot  |
// |    pidns (u64)  = inode of the owner's pid namespace          |
// |    roles (u32)  = 1 produces, 2 consumes, 0x100 unfenced      |
// |      (the process could not register for expedited global    |
// |      membarriers: sleepers must not trust theirs)             |
// |    sleepers (u32) = this owner's waiters: consumers in the    |
// |      low 16 bits, producers in the high 16; its bit in a      |
// |      waiter mask is set while its count is not zero           |
// +===============================================================+
// |  SPSC: lengths: capacity x u32, padded to 128 bytes           | 4096
// +- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -+
// |  slot 0                                                       | SPSC: 4096 + lengths
// |    SPSC: payload only (stride: slot size rounded up to 8)     | MPMC: 4096
// |    MPMC: seq (u64) | claim (u64) | length (u32) | reserved    |
// |          (u32) | payload                                      |
// |  slot 1 ...                                                   | + stride
// +---------------------------------------------------------------+
// |  byte kinds instead: the data area, capacity bytes of records  | 4096
// |    (an 8-byte header, state<<32 | length, then the payload:   |
// |    see bytes.go)                                               |
// +---------------------------------------------------------------+
//
// Who writes what:
//
//   - header (0-127): the creator, once, in Format; everyone reads it once,
//     in Attach, and keeps a validated copy. Nothing on the fast path reads
//     the header again, so a process that rewrites it later cannot make
//     another one index outside the region.
//   - shut down: Shutdown (any process); read by every push and by pops that
//     find the ring empty.
//   - tail: SPSC: the producer's position, stored (store-release) after
//     every message it publishes: slots below it hold messages. The consumer
//     reads it only when its cached copy says the ring is empty.
//     MPMC: position<<8 | closed<<7 | lane, moved by producers' claims (CAS):
//     positions below it are claimed, the last one by lane; Shutdown sets
//     the closed bit.
//   - head: SPSC: the consumer's position, stored (store-release) after
//     copying out every message: slots below it are the producer's again
//     at once (capacity is exact). The producer reads it only when its
//     cached copy says the ring is full.
//     MPMC: position<<8 | lane, moved by consumers' claims (CAS).
//   - futex words: bumped by the side that makes progress, only when the
//     matching waiter mask is not zero; slept on by the other side.
//   - waiter masks: bit i is set (atomic OR) by a waiter of record i before
//     it sleeps, after counting itself in the record; cleared by the last
//     of the record's waiters to leave, or by whoever takes a dead owner's
//     record over. Each bit has one record, so a process killed anywhere in
//     between leaves nothing that a takeover cannot put right. Read by the
//     other side after every publication.
//   - process records: written by the process that claims them (SPSC:
//     record 0 is the producer role, record 1 the consumer role; MPMC: one
//     record per participating handle, its index is the lane in slot tags).
//
// SPSC slots hold the payload only, and the message lengths live in an
// array of their own before them: an 8-byte message takes 8 bytes of slot,
// eight to a cache line, and 4 of length, sixteen to a line, as in the index
// ring of the C reference. Nothing in a slot is polled: the tail word says
// which slots hold messages, so the consumer never waits on a line the
// producer is still filling. Layout version 1 had a sequence word per slot
// that the consumer polled; each line then crossed between the cores while
// the producer was still writing it.
//
// MPMC slots. The 64-bit sequence word is turn<<8 | tag, where turn is the
// ring position the slot currently serves, modulo 2^56 (it wraps after 2^56
// messages: centuries at a billion messages a second, so a compare-and-swap
// cannot mistake one turn for another; every comparison is modular anyway),
// and tag says what the slot holds for that turn:
//
//	tag      state      meaning
//	0x00     FREE       no message; the producer that claims this turn writes it
//	0x01     FULL       a message of this turn is ready; length and payload valid
//	0x02     ABANDONED  its producer died writing it: consumers claim and skip it
//
// A position is claimed by moving the tail (producers) or head (consumers)
// word past it with a CAS. Who claimed it is in that word while the claim is
// the latest, and in the slot's claim word, turn<<8 | kind | lane (kind 0x40
// writer, 0x80 reader), before the word moves on (see mpmc.go).
//
// Transitions (p is the position, c the capacity):
//
//	MPMC  FREE(p)  --producer that claimed p: store-release--> FULL(p)
//	      FULL(p) or ABANDONED(p)
//	               --consumer that claimed p: store-release--> FREE(p+c)
//	      FREE(p), claimed by a dead producer
//	               --any process: CAS--> ABANDONED(p)   (recovery)
//	      FULL(p) or ABANDONED(p), claimed by a dead consumer
//	               --any process: CAS--> FREE(p+c)      (recovery)
//
// Initial state (Format): an SPSC slot holds 0, MPMC slot i holds FREE(i).

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// LayoutVersion is the version of the binary layout this package writes
// and reads.
const LayoutVersion = layoutVersion

const (
	layoutVersion = 2
	// magic is "SHMRING1" in little-endian byte order.
	magic = uint64(0x31474e49524d4853)

	offMagic      = 0
	offVersion    = 8
	offKind       = 12
	offCapacity   = 16
	offSlotSize   = 20
	offStride     = 24
	offFlags      = 28
	offDataOffset = 32
	offTotalSize  = 40
	offCreatorPID = 48
	offCreated    = 56
	configEnd     = 64

	lineStride = 128 // two cache lines: the adjacent-line prefetcher pairs them

	offClosed       = 1 * lineStride
	offTail         = 2 * lineStride
	offHead         = 3 * lineStride
	offNotEmptySeq  = 4 * lineStride
	offNotEmptyWait = 5 * lineStride
	offNotFullSeq   = 6 * lineStride
	offNotFullWait  = 7 * lineStride
	offReserved     = 8 * lineStride

	offRecords     = 2048
	recordSize     = 32
	numRecords     = 64
	headerSize     = 4096
	dataOffset     = headerSize
	mpmcSlotHeader = 24 // seq u64, claim u64, length u32, reserved u32
	mpmcLenOffset  = 16
	mpmcRecOffset  = 8

	// Limits keep every product below 2^62 and every slot index in int:
	// capacity, slot size and stride fit their u32 header words, and
	// the total its u64.
	maxCapacity = 1 << 30
	maxSlotSize = 1 << 30
	// maxTotalSize bounds what Size accepts: 64 TiB, half the 47-bit
	// user address space of amd64 and arm64, so that a mapping of it can
	// exist beside the rest of a process. (The per-field limits alone
	// allow an exbibyte.) What a region of a size below it needs, memory
	// or disk, package shm checks when it makes the region.
	maxTotalSize = 1 << 46

	// SPSC roles live in these records.
	recProducer = 0
	recConsumer = 1

	roleProduces = 1
	roleConsumes = 2
	// roleUnfenced: the owner could not register for expedited global
	// membarriers, so a sleeper's membarrier does not order its stores.
	roleUnfenced = 0x100
)

// Slot tags (the low byte of a slot's sequence word).
const (
	tagFree      = 0x00
	tagFull      = 0x01
	tagAbandoned = 0x02

	// claim words: turn<<8 | kind | lane
	recWriter = 0x40
	recReader = 0x80
	recKind   = 0xc0

	// MPMC tail and head words: position<<8 | closed | lane
	idxClosed = 0x80 // tail only
	idxLane   = 0x3f
)

// seqWord makes a slot sequence word: the shift drops the top 8 bits of the
// position, which is the modulo-2^56 turn.
func seqWord(pos uint64, tag uint64) uint64 { return pos<<8 | tag }

// turnDiff is the signed distance from pos to the turn held in word v,
// computed modulo 2^56.
func turnDiff(v, pos uint64) int64 { return int64((v&^0xff)-pos<<8) >> 8 }

// record is a process record in the header. Every field is a fixed-width
// integer, so the struct may overlay shared memory.
type record struct {
	owner    uint64 // pid<<32 | handle token; 0 when free. CAS by claimers.
	start    uint64 // owner's start time in clock ticks since boot; 0 unknown
	pidns    uint64 // inode of the owner's pid namespace; 0 unknown
	roles    uint32 // roleProduces | roleConsumes, as used
	sleepers uint32 // owner's waiters counted in the waiter words; see takeSleepers
}

// Units of record.sleepers.
const (
	sleeperConsumer = 1       // counted in the not-empty waiters
	sleeperProducer = 1 << 16 // counted in the not-full waiters
)

// Compile-time checks: the record is 32 bytes, the records fit before the
// data, and the hot words sit on distinct 128-byte strides.
var (
	_ [recordSize - unsafe.Sizeof(record{})]byte
	_ [unsafe.Sizeof(record{}) - recordSize]byte
	_ [headerSize - offRecords - numRecords*recordSize]byte
	_ [offRecords - (offReserved + lineStride)]byte
)

// MPMC slots are laid out so that none straddles two cache lines, and so
// that the line a waiting consumer polls is not the one the producer is
// filling:
//
//   - compact, when the header and the payload (rounded up to 8 bytes) fit in
//     a cache line: the payload follows the header, and the stride is that
//     size rounded up to a power of two (an 8-byte message takes 32 bytes);
//   - split, otherwise: the header alone in the slot's first cache line, the
//     payload from the second, the stride a whole number of lines. The
//     producer fills payload lines nobody reads yet, then stores length and
//     sequence word in the header line the consumer polls: one transfer of
//     that line per message instead of a tug of war over a line both sides
//     write (64-byte messages, in C, interleaved runs here: 20 against 40 ns
//     per message with the header in the payload's first line).
//
// SPSC slots are the payload alone, rounded up to 8 bytes.
//
// Every sequence word is aligned for atomics and every payload for 8-byte
// words, on every architecture.
func slotLayout(kind Kind, slotSize int) (stride, payload int) {
	if kind.bytes() {
		return 8, 0 // records are aligned to 8 bytes (see bytes.go)
	}
	if kind == SPSC {
		return (slotSize + 7) &^ 7, 0
	}
	if compact := mpmcSlotHeader + (slotSize+7)&^7; compact <= cacheLine {
		p := 16
		for p < compact {
			p *= 2
		}
		return p, mpmcSlotHeader
	}
	return cacheLine + (slotSize+cacheLine-1)&^(cacheLine-1), cacheLine
}

const cacheLine = 64

// payloadOffset is where the payload starts in a slot (see slotLayout).
func payloadOffset(kind Kind, slotSize int) int {
	_, p := slotLayout(kind, slotSize)
	return p
}

// stride is the distance between slots (see slotLayout).
func stride(kind Kind, slotSize int) int {
	st, _ := slotLayout(kind, slotSize)
	return st
}

// lengthsSize is the size of an SPSC ring's length array: a u32 per slot,
// padded to a line stride so that the slots start on one.
func lengthsSize(kind Kind, capacity uint64) uint64 {
	if kind != SPSC {
		return 0
	}
	return (capacity*4 + lineStride - 1) &^ (lineStride - 1)
}

// dataSize is the size of everything after the header: the SPSC length
// array and the slots; for a byte ring, its data area of capacity bytes.
func dataSize(kind Kind, capacity, slotSize uint64) uint64 {
	if kind.bytes() {
		return bytesTable(kind) + capacity
	}
	return lengthsSize(kind, capacity) + capacity*uint64(stride(kind, int(slotSize)))
}

// layout is a validated view of a ring's memory. Its fields are copies taken
// at Attach; the algorithms never re-read them from shared memory.
type layout struct {
	base     unsafe.Pointer // first byte of the region
	data     unsafe.Pointer // slot 0
	stride   uintptr
	hdr      uintptr        // the payload's offset in a slot
	lens     unsafe.Pointer // SPSC: the length array
	mask     uint64         // capacity - 1; byte rings: units - 1
	capacity uint64         // slots; byte rings: 8-byte units of the data area
	slotSize int
	lapShift uint   // byte rings: log2 of the units, to number laps
	lapMask  uint32 // byte rings: laps are numbered modulo lapMask+1
	cfg      Config
}

func (l *layout) u32(off uintptr) *uint32 { return (*uint32)(unsafe.Add(l.base, off)) }
func (l *layout) u64(off uintptr) *uint64 { return (*uint64)(unsafe.Add(l.base, off)) }

func (l *layout) closedWord() *uint32   { return l.u32(offClosed) }
func (l *layout) tail() *uint64         { return l.u64(offTail) }
func (l *layout) head() *uint64         { return l.u64(offHead) }
func (l *layout) notEmptySeq() *uint32  { return l.u32(offNotEmptySeq) }
func (l *layout) notEmptyWait() *uint64 { return l.u64(offNotEmptyWait) }
func (l *layout) notFullSeq() *uint32   { return l.u32(offNotFullSeq) }
func (l *layout) notFullWait() *uint64  { return l.u64(offNotFullWait) }

// record returns process record i; i must be below numRecords.
func (l *layout) record(i int) *record {
	return (*record)(unsafe.Add(l.base, offRecords+uintptr(i&(numRecords-1))*recordSize))
}

// slot returns the slot that serves position pos. The mask keeps any
// position, however wild, inside the region.
func (l *layout) slot(pos uint64) unsafe.Pointer {
	return unsafe.Add(l.data, uintptr(pos&l.mask)*l.stride)
}

// slotSeq is an MPMC slot's sequence word, slotRec its claim word.
func slotSeq(s unsafe.Pointer) *uint64 { return (*uint64)(s) }
func slotRec(s unsafe.Pointer) *uint64 { return (*uint64)(unsafe.Add(s, mpmcRecOffset)) }

// slotLen is an MPMC slot's length word.
func slotLen(s unsafe.Pointer) *uint32 { return (*uint32)(unsafe.Add(s, mpmcLenOffset)) }

// spscLen is the length word of the SPSC slot that serves position pos.
func (l *layout) spscLen(pos uint64) *uint32 {
	return (*uint32)(unsafe.Add(l.lens, uintptr(pos&l.mask)*4))
}

// payload is the payload of slot s, n bytes long; n must not exceed the
// validated slot size.
func (l *layout) payload(s unsafe.Pointer, n int) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(s, l.hdr)), n)
}

// unalignedWords: the CPU loads and stores 8-byte words at any address,
// at full speed.
const unalignedWords = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"

// smallPayload is the largest message the fast paths copy in line.
const smallPayload = 16

// moveSmall copies n <= smallPayload bytes from src to dst without calling
// memmove: a call would make the whole fast path save its registers to the
// stack, and on a producer that waits for cache lines every store counts.
// 8 to 16 bytes move as one word or two overlapping ones.
func moveSmall(dst, src unsafe.Pointer, n int) {
	if unalignedWords && n >= 8 {
		*(*uint64)(dst) = *(*uint64)(src)
		if n > 8 {
			*(*uint64)(unsafe.Add(dst, n-8)) = *(*uint64)(unsafe.Add(src, n-8))
		}
		return
	}
	for i := 0; i < n; i++ {
		*(*byte)(unsafe.Add(dst, i)) = *(*byte)(unsafe.Add(src, i))
	}
}

// wordPayload is the largest message the SPSC fast paths copy in line, with
// moveWords.
const wordPayload = 64

// moveWords copies n bytes, 8 <= n <= wordPayload, from src to dst without
// calling memmove, on CPUs with unalignedWords: up to 15 bytes as two
// overlapping words, up to 32 as two overlapping 16-byte blocks, up to 64 as
// four (the first two and the last two). The areas must not overlap.
func moveWords(dst, src unsafe.Pointer, n int) {
	if n < 16 {
		*(*uint64)(dst) = *(*uint64)(src)
		*(*uint64)(unsafe.Add(dst, n-8)) = *(*uint64)(unsafe.Add(src, n-8))
		return
	}
	*(*[16]byte)(dst) = *(*[16]byte)(src)
	if n > 32 {
		*(*[16]byte)(unsafe.Add(dst, 16)) = *(*[16]byte)(unsafe.Add(src, 16))
		*(*[16]byte)(unsafe.Add(dst, n-32)) = *(*[16]byte)(unsafe.Add(src, n-32))
	}
	*(*[16]byte)(unsafe.Add(dst, n-16)) = *(*[16]byte)(unsafe.Add(src, n-16))
}

// inWords reports whether the SPSC fast paths copy an n-byte message in
// line (moveWords).
func inWords(n int) bool { return unalignedWords && n >= 8 && n <= wordPayload }

// writeSmall copies msg (len(msg) <= smallPayload) into slot s.
func (l *layout) writeSmall(s unsafe.Pointer, msg []byte) {
	moveSmall(unsafe.Add(s, l.hdr), unsafe.Pointer(unsafe.SliceData(msg)), len(msg))
}

// writePayload copies msg into slot s: in line when small, else memmove.
func (l *layout) writePayload(s unsafe.Pointer, msg []byte) {
	if len(msg) <= smallPayload {
		l.writeSmall(s, msg)
		return
	}
	copy(l.payload(s, len(msg)), msg)
}

// readPayload copies the n-byte message of slot s into buf (len(buf) >= n).
func (l *layout) readPayload(buf []byte, s unsafe.Pointer, n int) {
	if n <= smallPayload {
		l.readSmall(buf, s, n)
		return
	}
	copy(buf, l.payload(s, n))
}

// readSmall copies the n-byte (n <= smallPayload, n <= len(buf)) message of
// slot s into buf.
func (l *layout) readSmall(buf []byte, s unsafe.Pointer, n int) {
	moveSmall(unsafe.Pointer(unsafe.SliceData(buf)), unsafe.Add(s, l.hdr), n)
}

// checkConfig validates a configuration for Size and Format.
func checkConfig(cfg Config) error {
	bad := func(field string, v int64, problem string) error {
		return wrap(ErrInvalidConfig, "%s %d %s", field, v, problem)
	}
	if cfg.Kind.bytes() {
		if field, v, problem := bytesConfigProblem(cfg); field != "" {
			return bad(field, int64(v), problem)
		}
		return nil
	}
	switch {
	case !cfg.Kind.known():
		return bad("kind", int64(cfg.Kind), "is not SPSC (1), MPMC (2), SPSCBytes (3) or MPSCBytes (4)")
	case cfg.Capacity < 2:
		return bad("capacity", int64(cfg.Capacity), "is below 2")
	case cfg.Capacity > maxCapacity:
		return bad("capacity", int64(cfg.Capacity), fmt.Sprintf("is above %d", maxCapacity))
	case cfg.Capacity&(cfg.Capacity-1) != 0:
		return bad("capacity", int64(cfg.Capacity), "is not a power of two")
	case cfg.SlotSize < 1:
		return bad("slot size", int64(cfg.SlotSize), "is below 1")
	case cfg.SlotSize > maxSlotSize:
		return bad("slot size", int64(cfg.SlotSize), fmt.Sprintf("is above %d", maxSlotSize))
	}
	total := uint64(dataOffset) + dataSize(cfg.Kind, uint64(cfg.Capacity), uint64(cfg.SlotSize))
	if total > maxTotalSize {
		return &LayoutError{Field: "total size", Value: total, Err: ErrInvalidConfig,
			Problem: fmt.Sprintf("(capacity %d, slot size %d) is above %d (64 TiB), the largest ring", cfg.Capacity, cfg.SlotSize, uint64(maxTotalSize))}
	}
	if total > uint64(maxInt) {
		return &LayoutError{Field: "total size", Value: total, Err: ErrInvalidConfig,
			Problem: fmt.Sprintf("(capacity %d, slot size %d) is above %d, the largest int here", cfg.Capacity, cfg.SlotSize, maxInt)}
	}
	return nil
}

const maxInt = int(^uint(0) >> 1)

func totalSize(cfg Config) int {
	return dataOffset + int(dataSize(cfg.Kind, uint64(cfg.Capacity), uint64(cfg.SlotSize)))
}

// format writes a fresh ring on mem, which must be at least totalSize(cfg)
// bytes, 8-byte aligned and not in use by anyone. The magic word is stored
// last, atomically: a process that attaches meanwhile sees ErrNotReady,
// never half a header.
func format(mem []byte, cfg Config, creatorPID uint32, createdNs int64) (*layout, error) {
	cfg = cfg.resolved()
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	need := totalSize(cfg)
	if len(mem) < need {
		return nil, wrap(ErrInvalidConfig, "region size %d is below the %d bytes the configuration needs", len(mem), need)
	}
	if addr := uintptr(unsafe.Pointer(&mem[0])); addr%8 != 0 {
		return nil, wrap(ErrInvalidConfig, "address %#x is not 8-byte aligned", addr)
	}
	l := newLayout(mem, cfg)
	atomic.StoreUint64(l.u64(offMagic), 0) // not ready, before anything else changes
	clear(mem[offMagic+8 : headerSize])
	*l.u32(offVersion) = layoutVersion
	*l.u32(offKind) = uint32(cfg.Kind)
	*l.u32(offCapacity) = uint32(cfg.Capacity)
	*l.u32(offSlotSize) = uint32(cfg.SlotSize)
	*l.u32(offStride) = uint32(stride(cfg.Kind, cfg.SlotSize))
	*l.u64(offDataOffset) = dataOffset
	*l.u64(offTotalSize) = uint64(need)
	*l.u32(offCreatorPID) = creatorPID
	*l.u64(offCreated) = uint64(createdNs)
	if cfg.Kind == MPSCBytes {
		clear(mem[dataOffset:need]) // every header position reads "unwritten" in lap 0 (see bytes.go)
	}
	for i := uint64(0); i < uint64(cfg.Capacity) && !cfg.Kind.bytes(); i++ {
		if cfg.Kind == SPSC {
			*l.spscLen(i) = 0
			continue
		}
		s := l.slot(i)
		*slotSeq(s) = seqWord(i, tagFree)
		*slotRec(s) = 0
		*slotLen(s) = 0
	}
	atomic.StoreUint64(l.u64(offMagic), magic) // publishes the header: every write above happens before
	return l, nil
}

func newLayout(mem []byte, cfg Config) *layout {
	base := unsafe.Pointer(&mem[0])
	if cfg.Kind.bytes() {
		units := uint64(cfg.Capacity) / 8
		shift := uint(bits.TrailingZeros64(units))
		return &layout{
			base: base, lens: unsafe.Add(base, dataOffset), data: unsafe.Add(base, dataOffset+uintptr(bytesTable(cfg.Kind))),
			stride: 8, mask: units - 1, capacity: units, slotSize: cfg.SlotSize,
			lapShift: shift, lapMask: uint32(min(uint64(1)<<(56-shift), 1<<32) - 1), cfg: cfg,
		}
	}
	return &layout{
		base:     base,
		lens:     unsafe.Add(base, dataOffset),
		data:     unsafe.Add(base, dataOffset+uintptr(lengthsSize(cfg.Kind, uint64(cfg.Capacity)))),
		stride:   uintptr(stride(cfg.Kind, cfg.SlotSize)),
		hdr:      uintptr(payloadOffset(cfg.Kind, cfg.SlotSize)),
		mask:     uint64(cfg.Capacity - 1),
		capacity: uint64(cfg.Capacity),
		slotSize: cfg.SlotSize,
		cfg:      cfg,
	}
}

// validate checks the header on mem against mem's real length and returns
// the configuration it describes. It reads the header only; it never writes.
func validate(mem []byte) (Config, error) {
	if len(mem) < headerSize {
		return Config{}, &LayoutError{Field: "region size", Value: uint64(len(mem)),
			Problem: fmt.Sprintf("is below the %d-byte header", headerSize), Err: ErrIncompatible}
	}
	base := unsafe.Pointer(&mem[0])
	if addr := uintptr(base); addr%8 != 0 {
		return Config{}, &LayoutError{Field: "address", Value: uint64(addr), Problem: "is not 8-byte aligned", Err: ErrIncompatible}
	}
	u32 := func(off uintptr) uint32 { return atomic.LoadUint32((*uint32)(unsafe.Add(base, off))) }
	u64 := func(off uintptr) uint64 { return atomic.LoadUint64((*uint64)(unsafe.Add(base, off))) }

	switch m := u64(offMagic); m { // load-acquire: pairs with the store in format
	case magic:
	case 0:
		return Config{}, ErrNotReady
	default:
		return Config{}, &LayoutError{Field: "magic", Value: m, Problem: "is not \"SHMRING1\"", Err: ErrIncompatible}
	}
	if v := u32(offVersion); v != layoutVersion {
		problem := fmt.Sprintf("is not the supported version %d", layoutVersion)
		if v == 1 {
			problem += " (a ring of shmring's first layout, whose SPSC slots had a sequence word each: recreate it)"
		}
		return Config{}, &LayoutError{Field: "version", Value: uint64(v), Problem: problem, Err: ErrIncompatible}
	}
	kind := Kind(u32(offKind))
	capacity := u32(offCapacity)
	slotSize := u32(offSlotSize)
	if kind.bytes() {
		if field, v, problem := bytesConfigProblem(Config{Kind: kind, Capacity: int(capacity), SlotSize: int(slotSize)}); field != "" {
			return Config{}, corrupt(field, v, problem)
		}
	}
	switch {
	case !kind.known():
		return Config{}, corrupt("kind", uint64(kind), "is not SPSC (1), MPMC (2), SPSCBytes (3) or MPSCBytes (4)")
	case capacity < 2:
		return Config{}, corrupt("capacity", uint64(capacity), "is below 2")
	case capacity > maxCapacity:
		return Config{}, corrupt("capacity", uint64(capacity), fmt.Sprintf("is above %d", maxCapacity))
	case capacity&(capacity-1) != 0:
		return Config{}, corrupt("capacity", uint64(capacity), "is not a power of two")
	case slotSize < 1:
		return Config{}, corrupt("slot size", uint64(slotSize), "is below 1")
	case slotSize > maxSlotSize:
		return Config{}, corrupt("slot size", uint64(slotSize), fmt.Sprintf("is above %d", maxSlotSize))
	}
	if st, want := u32(offStride), stride(kind, int(slotSize)); st != uint32(want) {
		return Config{}, corrupt("slot stride", uint64(st), fmt.Sprintf("is not %d for slot size %d", want, slotSize))
	}
	if f := u32(offFlags); f != 0 {
		return Config{}, &LayoutError{Field: "flags", Value: uint64(f), Problem: "has bits this version does not know", Err: ErrIncompatible}
	}
	if d := u64(offDataOffset); d != dataOffset {
		return Config{}, corrupt("data offset", d, fmt.Sprintf("is not %d", dataOffset))
	}
	want := uint64(dataOffset) + dataSize(kind, uint64(capacity), uint64(slotSize))
	if t := u64(offTotalSize); t != want {
		return Config{}, corrupt("total size", t, fmt.Sprintf("is not %d for capacity %d and slot size %d", want, capacity, slotSize))
	}
	if want > uint64(len(mem)) {
		return Config{}, corrupt("total size", want, fmt.Sprintf("exceeds the %d-byte region (truncated?)", len(mem)))
	}
	return Config{Kind: kind, Capacity: int(capacity), SlotSize: int(slotSize)}, nil
}

// headerInfo is what Format wrote about the creator.
func (l *layout) creator() (pid uint32, createdNs int64) {
	return *l.u32(offCreatorPID), int64(*l.u64(offCreated))
}
