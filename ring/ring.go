package ring

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmring/shmring/shm"
)

// Kind selects the queue algorithm of a ring.
type Kind uint32

const (
	// SPSC: one producer process and one consumer process. No atomic
	// read-modify-write on the fast path.
	SPSC Kind = 1
	// MPMC: any number of producers and consumers, in any processes. One
	// compare-and-swap per message on each side.
	MPMC Kind = 2
	// SPSCBytes: a byte ring for one producer process and one consumer
	// process. Messages of any length up to SlotSize take their length plus
	// an 8-byte header, rounded up to 8 bytes, in a data area of Capacity
	// bytes: no slot sized for the largest message. Roles, takeover and
	// ErrPeerDead as in SPSC.
	SPSCBytes Kind = 3
	// MPSCBytes: a byte ring for any number of producers, in any processes,
	// and one consumer process. A producer claims room with a
	// compare-and-swap and commits with one store; the consumer sees the
	// messages in the order of their claims.
	MPSCBytes Kind = 4
)

var kindNames = [...]string{SPSC: "spsc", MPMC: "mpmc", SPSCBytes: "spsc-bytes", MPSCBytes: "mpsc-bytes"}

func (k Kind) String() string {
	if k.known() {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint32(k))
}

func (k Kind) known() bool { return k >= SPSC && k <= MPSCBytes }

// bytes reports a byte ring: variable-length records in a data area.
func (k Kind) bytes() bool { return k == SPSCBytes || k == MPSCBytes }

// oneProducer reports a kind whose producer role is held by one handle:
// records 0 (producer) and 1 (consumer), positions in process-local state.
func (k Kind) oneProducer() bool { return k == SPSC || k == SPSCBytes }

// oneConsumer reports a kind whose consumer role is held by one handle.
func (k Kind) oneConsumer() bool { return k != MPMC }

// lanes reports a kind whose producers (MPMC: and consumers) each take a
// process record of their own, a lane.
func (k Kind) lanes() bool { return k == MPMC || k == MPSCBytes }

// ParseKind parses a kind's name: "spsc", "mpmc", "spsc-bytes" or
// "mpsc-bytes" (any case).
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name != "" && strings.EqualFold(s, name) {
			return Kind(k), nil
		}
	}
	return 0, fmt.Errorf("ring: unknown kind %q (want spsc, mpmc, spsc-bytes or mpsc-bytes)", s)
}

// Config describes a ring. It is written into the ring's header by Format
// and read back by Attach.
//
// For the fixed-slot kinds (SPSC, MPMC) Capacity counts slots and SlotSize
// is the size of each. For the byte kinds (SPSCBytes, MPSCBytes) Capacity
// is the size of the data area in bytes (a power of two, at least 64), and
// SlotSize the largest message, at most Capacity/4; 0 means Capacity/4.
// A message takes 8 bytes of header plus its length, rounded up to 8.
type Config struct {
	Kind     Kind // SPSC, MPMC, SPSCBytes or MPSCBytes
	Capacity int  // slots; byte kinds: bytes of the data area. A power of two
	SlotSize int  // largest message in bytes, >= 1 (byte kinds: 0 means Capacity/4)
}

// resolved fills in the defaults of cfg.
func (c Config) resolved() Config {
	if c.Kind.bytes() && c.SlotSize == 0 && c.Capacity > 0 {
		c.SlotSize = c.Capacity / 4
	}
	return c
}

// WaitMode says how Push and Pop wait for room or for a message.
type WaitMode uint8

const (
	// WaitBlock spins briefly, yields the CPU, then sleeps in the kernel
	// (futex) until the other side wakes it. An idle waiter uses no CPU.
	WaitBlock WaitMode = iota
	// WaitSpin spins and yields but never sleeps: the lowest latency, at the
	// price of a core per waiter. On a machine with fewer cores than
	// spinning processes, yielding lets the others run.
	WaitSpin
)

// Options are process-local settings of a handle: they change how this
// process waits and recovers, not the ring. Set them with SetOptions before
// the handle is used.
type Options struct {
	// Wait selects how blocking operations wait (default WaitBlock).
	Wait WaitMode
	// WaitForPeer makes a blocking SPSC Pop (or Push) keep waiting when the
	// producer (or consumer) process has died, for a replacement to take
	// over its role, instead of returning ErrPeerDead.
	WaitForPeer bool
	// Grace is how long an MPMC slot (or an MPSCBytes record) may stay
	// claimed and unfinished before this process checks whether its claimer
	// is still alive, and if not, recovers the slot (default 20ms). A live claimer is never overridden,
	// however slow: Grace only paces the checks.
	Grace time.Duration
}

const defaultGrace = 20 * time.Millisecond

// Ring is a process-local handle on a ring in shared memory.
//
// A handle may be used by several goroutines, within these rules: on an
// SPSC ring one goroutine at a time pushes and one at a time pops (the two
// may differ); on an MPMC ring any number of goroutines push and pop.
// Shutdown, Len, Config, Stats and Close may be called at any time, from any
// goroutine: Close makes the calls in flight return an error matching
// os.ErrClosed (see close.go).
type Ring struct {
	layout
	region   *shm.Region // owned region; nil when the caller owns the memory
	mem      []byte
	owner    uint64 // this handle's owner word in process records
	opts     Options
	readOnly bool // from OpenReadOnly or AttachReadOnly: inspect only

	// life is the handle's state (see close.go): 0 while open; read by
	// every operation on entry, after it has announced itself.
	life uint32
	// ops is written by every MPMC and MPSCBytes producer operation: on a
	// line of its own, away from life, which every operation reads.
	_    [60]byte
	ops  atomic.Int32 // operations in flight other than the SPSC sides'
	inFn atomic.Int32 // of those, MPMC pops inside a caller's fn
	// of those, reservations open between Reserve and Commit or Abort
	reserving atomic.Int32
	res       reservation
	fault     atomic.Pointer[error]
	lives     *handleLife // what a cleanup needs to give the records back

	_ [64]byte
	p producerState
	_ [64]byte
	c consumerState
	_ [64]byte
	m mpmcState
}

// producerState is the SPSC producer's process-local state, owned by the
// goroutine that pushes.
type producerState struct {
	busy uint32 // 1 while a push is in flight; read by Close (see close.go)
	held bool   // this handle holds the producer role
	// reserved: a reservation holds the position (reserve.go): no push
	// may write it
	reserved bool
	pos      uint64 // next position to write
	head     uint64 // cached consumer position: reloaded only when it says full
}

// consumerState is the SPSC consumer's process-local state, owned by the
// goroutine that pops.
type consumerState struct {
	busy uint32 // 1 while a pop is in flight; read by Close
	inFn uint32 // 1 while a pop is inside the caller's fn; read by Close
	held bool   // this handle holds the consumer role
	pos  uint64 // next position to read
	tail uint64 // cached producer position: reloaded only when it says empty
}

// mpmcState is shared by every goroutine that uses an MPMC handle.
type mpmcState struct {
	lane       atomic.Int32  // index of this handle's process record; -1 none yet
	laneMu     sync.Mutex    // serialises registration
	roles      atomic.Uint32 // roles already marked in the record
	stuck      stuckClaim
	recovered  atomic.Uint64 // slots (byte rings: claims) this handle freed from dead claimers
	epoch      atomic.Uint32 // MPSCBytes: the epoch of this handle's lane, shifted into claims
	bHead      atomic.Uint64 // MPSCBytes producers: a cached copy of head
	claimMu    sync.Mutex    // MPSCBytes producers: one claim of this handle's lane at a time
	claimEnd   uint64        // MPSCBytes: the end of this handle's last claim (under claimMu)
	claimed    bool          // and whether it made one
	entrySize  uint32        // MPSCBytes: the size and epoch this handle last wrote in its entry
	entryEpoch uint32

	// recordedW and recordedR are one past the last position this handle
	// claimed and put on record as a writer and as a reader: a later claim
	// by the same lane records the previous position itself unless these
	// say it is done (see mpmc.go). Plain stores: a stale value only costs
	// a redundant record.
	recordedW uint64
	_         [56]byte
	recordedR uint64

	peerChecked atomic.Int64 // monotonic ns of the last look at the SPSC peer's liveness
	missedWakes atomic.Int64 // wake-ups that found nobody asleep, since the last sweep
	lastSweep   atomic.Int64 // monotonic ns of the last sweepDead
}

// stuckClaim remembers a claim seen in the way of this handle's operations,
// to tell one that lasts from the usual ones that last nanoseconds. Every
// empty or full poll may update it, so it is written with plain stores
// (storeRelease64: sync/atomic's Store is a full barrier on amd64, and would
// drain the store buffer on every poll). It is a heuristic, shared by the
// handle's goroutines: a lost update only delays a recovery.
type stuckClaim struct {
	key   uint64 // the slot's sequence word, xor the claim kind
	polls uint64 // times in a row it was seen
	since uint64 // monotonic ns when the clock started on it; 0: not yet
}

func (c *stuckClaim) get() (key, polls, since uint64) {
	return atomic.LoadUint64(&c.key), atomic.LoadUint64(&c.polls), atomic.LoadUint64(&c.since)
}

// Size returns the number of bytes a region needs for a ring of cfg.
func Size(cfg Config) (int, error) {
	cfg = cfg.resolved()
	if err := checkConfig(cfg); err != nil {
		return 0, err
	}
	return totalSize(cfg), nil
}

// Format writes a fresh, empty ring of cfg on mem and returns a handle on
// it. mem must be at least Size(cfg) bytes, 8-byte aligned, writable, and
// not in use by another process: Format overwrites whatever was there. It
// publishes the header last, so processes that attach meanwhile get
// ErrNotReady. The caller keeps ownership of mem.
func Format(mem []byte, cfg Config) (*Ring, error) {
	l, err := format(mem, cfg, self().pid, time.Now().UnixNano())
	if err != nil {
		return nil, err
	}
	return newRing(l, mem), nil
}

// Attach validates the ring header on mem against len(mem) and returns a
// handle on it. A header that is not a ring, or of another version, gives
// ErrIncompatible; one whose values cannot be true gives ErrCorrupt; one
// still being formatted gives ErrNotReady. Attach only reads mem. The caller
// keeps ownership of mem.
func Attach(mem []byte) (*Ring, error) {
	cfg, err := validate(mem)
	if err != nil {
		return nil, err
	}
	return newRing(newLayout(mem, cfg), mem), nil
}

func newRing(l *layout, mem []byte) *Ring {
	registerFence()
	r := &Ring{layout: *l, mem: mem, owner: newOwner(), opts: Options{Grace: defaultGrace}}
	r.m.lane.Store(-1)
	return r
}

// Create makes a new file-backed region at path (a bare name means a file
// in /dev/shm), formats a ring of cfg on it and returns a handle that owns
// the region. It fails if path exists. Remove the file with shm.Remove when
// no process needs the ring any more.
func Create(path string, cfg Config) (*Ring, error) {
	size, err := Size(cfg)
	if err != nil {
		return nil, err
	}
	reg, err := shm.Create(path, size)
	if err != nil {
		return nil, err
	}
	r, err := Format(reg.Bytes(), cfg)
	if err != nil {
		_ = reg.Close()
		_ = shm.Remove(reg.Path())
		return nil, err
	}
	r.region = reg
	r.watchDrop()
	return r, nil
}

// Open maps the ring file at path and attaches to it. The handle owns the
// mapping. Errors from Attach are wrapped with the path.
func Open(path string) (*Ring, error) {
	reg, err := shm.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	return attachRegion(reg, "open", reg.Path())
}

// AttachReadOnly is Attach for inspectors: the handle reads Stats, Len,
// Config and SlotStates, and every push, pop or Shutdown returns
// ErrReadOnly. Use it on read-only mappings, where a push would fault.
func AttachReadOnly(mem []byte) (*Ring, error) {
	r, err := Attach(mem)
	if err != nil {
		return nil, err
	}
	r.readOnly = true
	return r, nil
}

// OpenReadOnly maps the ring file at path read-only and attaches an
// inspector's handle to it (see AttachReadOnly). It never changes the ring.
func OpenReadOnly(path string) (*Ring, error) {
	reg, err := shm.Open(path, shm.ReadOnly())
	if err != nil {
		return nil, openError(path, err)
	}
	r, err := attachRegion(reg, "open", reg.Path())
	if err != nil {
		return nil, err
	}
	r.readOnly = true
	return r, nil
}

// Anonymous makes a ring of cfg on a new anonymous region (memfd on Linux):
// no name in any file system, freed by the kernel when the last process
// holding it exits. Hand it to child processes with Share.
func Anonymous(cfg Config) (*Ring, error) {
	size, err := Size(cfg)
	if err != nil {
		return nil, err
	}
	reg, err := shm.Anonymous(size)
	if err != nil {
		return nil, err
	}
	r, err := Format(reg.Bytes(), cfg)
	if err != nil {
		_ = reg.Close()
		return nil, err
	}
	r.region = reg
	r.watchDrop()
	return r, nil
}

// Inherit attaches to the ring a parent process passed to this one with
// Share under name.
func Inherit(name string) (*Ring, error) {
	reg, err := shm.Inherit(name)
	if err != nil {
		return nil, err
	}
	return attachRegion(reg, "inherit", name)
}

// openError maps an empty file to ErrNotReady: shm.Create makes the file
// before it sizes it, so a process that opens a ring at that moment sees
// one that is not formatted yet, not a broken one.
func openError(path string, err error) error {
	if errors.Is(err, shm.ErrEmpty) {
		return fmt.Errorf("ring: open %s: empty file (being created?): %w", shm.Resolve(path), ErrNotReady)
	}
	return err
}

func attachRegion(reg *shm.Region, op, what string) (*Ring, error) {
	r, err := Attach(reg.Bytes())
	if err != nil {
		_ = reg.Close()
		var le *LayoutError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("ring: %s %s: %s: %w", op, what, le.Error()[len("ring: "):], le.Err)
		}
		return nil, fmt.Errorf("ring: %s %s: %w", op, what, err)
	}
	r.region = reg
	r.watchDrop()
	return r, nil
}

// Share arranges for cmd's process to inherit this ring's region under
// name (see shm.Region.Share); the child attaches with Inherit(name). Call
// it before cmd.Start.
func (r *Ring) Share(cmd *exec.Cmd, name string) error {
	if r.region == nil {
		return errors.New("ring: Share needs a ring from Create, Open, Anonymous or Inherit (this one's memory belongs to the caller)")
	}
	return r.region.Share(cmd, name)
}

// SetOptions sets this handle's process-local options. Call it before the
// handle is used.
func (r *Ring) SetOptions(o Options) {
	if o.Grace <= 0 {
		o.Grace = defaultGrace
	}
	r.opts = o
}

// Options returns this handle's options.
func (r *Ring) Options() Options { return r.opts }

// Config returns the ring's configuration.
func (r *Ring) Config() Config { return r.cfg }

// Region returns the region this handle owns, or nil when the caller
// supplied the memory to Format or Attach.
func (r *Ring) Region() *shm.Region { return r.region }

// Len returns the number of messages queued now: a snapshot, stale as soon
// as it returns. On an MPMC ring it counts the positions claimed by
// producers and not yet by consumers, including those being written.
func (r *Ring) Len() int {
	if r.enter() != nil {
		return 0
	}
	defer r.exit()
	return r.queued()
}

func (r *Ring) queued() int {
	if r.cfg.Kind.bytes() {
		return r.bQueued()
	}
	head := r.headPos()
	n := int64(r.tailPos() - head)
	if n < 0 {
		return 0
	}
	if n > int64(r.cfg.Capacity) {
		return r.cfg.Capacity
	}
	return int(n)
}

// Shutdown ends the stream for every process: from now on pushes fail with
// ErrClosed, pops deliver what is queued and then return io.EOF, and every
// process sleeping in Push or Pop wakes up. It cannot be undone.
//
// On an MPMC ring Shutdown is exact: a push either completes before it, and
// its message is delivered, or fails. On an SPSC ring the producer has no
// atomic step to order against another process, so call Shutdown from the
// producer (or after the producer has stopped): a push that races with a
// Shutdown from elsewhere may be left in the ring after consumers saw io.EOF.
func (r *Ring) Shutdown() error {
	if err := r.enter(); err != nil {
		return err
	}
	defer r.exit()
	if r.readOnly {
		return ErrReadOnly
	}
	if r.cfg.Kind == MPMC {
		r.mpmcShutdown() // in the tail word: no claim can follow it
	}
	atomic.StoreUint32(r.closedWord(), 1) // every push after this fails; pops see it when the ring runs dry
	r.wake(r.notEmptySeq())
	r.wake(r.notFullSeq())
	return nil
}

// IsShutdown reports whether the ring has been shut down.
func (r *Ring) IsShutdown() bool {
	if r.enter() != nil {
		return false
	}
	defer r.exit()
	return atomic.LoadUint32(r.closedWord()) != 0
}

// usable is the check of the slow paths that start using a handle (taking
// a role or a record): not read-only, not broken, and the file under it
// still whole.
func (r *Ring) usable() error {
	if r.readOnly {
		return ErrReadOnly
	}
	if err := r.faulted(); err != nil {
		return err
	}
	if err := r.checkTruncated(); err != nil {
		return r.broken(err)
	}
	return nil
}

var monoStart = time.Now()

// monotime returns monotonic nanoseconds since the package started.
func monotime() int64 { return int64(time.Since(monoStart)) + 1 } // never 0: 0 means "not yet"
