package ring

import (
	"errors"
	"fmt"
	"os/exec"
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
)

func (k Kind) String() string {
	switch k {
	case SPSC:
		return "spsc"
	case MPMC:
		return "mpmc"
	}
	return fmt.Sprintf("Kind(%d)", uint32(k))
}

// ParseKind parses "spsc" or "mpmc" (any case).
func ParseKind(s string) (Kind, error) {
	switch s {
	case "spsc", "SPSC":
		return SPSC, nil
	case "mpmc", "MPMC":
		return MPMC, nil
	}
	return 0, fmt.Errorf("ring: unknown kind %q (want spsc or mpmc)", s)
}

// Config describes a ring. It is written into the ring's header by Format
// and read back by Attach.
type Config struct {
	Kind     Kind // SPSC or MPMC
	Capacity int  // slots; a power of two, >= 2
	SlotSize int  // largest message in bytes, >= 1
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
	// Grace is how long an MPMC slot may stay claimed and unfinished before
	// this process checks whether its claimer is still alive, and if not,
	// recovers the slot (default 20ms). A live claimer is never overridden,
	// however slow: Grace only paces the checks.
	Grace time.Duration
}

const defaultGrace = 20 * time.Millisecond

// Ring is a process-local handle on a ring in shared memory.
//
// A handle may be used by several goroutines, within these rules: on an
// SPSC ring one goroutine at a time pushes and one at a time pops (the two
// may differ); on an MPMC ring any number of goroutines push and pop.
// Shutdown, Len, Config and Stats may be called at any time. Close must not
// run concurrently with other calls on the same handle: stop or cancel them
// first.
type Ring struct {
	layout
	region   *shm.Region // owned region; nil when the caller owns the memory
	mem      []byte
	owner    uint64 // this handle's owner word in process records
	opts     Options
	closed   bool
	readOnly bool  // from OpenReadOnly or AttachReadOnly: inspect only
	fault    error // set when the memory under the handle went bad (truncated file); every call returns it

	relEvery uint64 // SPSC consumer: messages between two stores of released

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
	held bool   // this handle holds the producer role
	pos  uint64 // next position to write
	head uint64 // cached consumer position: reloaded only when it says full
}

// consumerState is the SPSC consumer's process-local state, owned by the
// goroutine that pops.
type consumerState struct {
	held     bool   // this handle holds the consumer role
	pos      uint64 // next position to read
	released uint64 // last value stored in the released word
}

// mpmcState is shared by every goroutine that uses an MPMC handle.
type mpmcState struct {
	lane      atomic.Int32  // index of this handle's process record; -1 none yet
	laneMu    sync.Mutex    // serialises registration
	roles     atomic.Uint32 // roles already marked in the record
	stuck     stuckClaim
	recovered atomic.Uint64 // slots this handle freed from dead claimers

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
	r := &Ring{layout: *l, mem: mem, owner: newOwner(), opts: Options{Grace: defaultGrace},
		relEvery: releaseEvery(l.cfg.Capacity)}
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
	if r.closed || r.fault != nil {
		return 0
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
	if r.closed {
		return ErrClosed
	}
	if r.fault != nil {
		return r.fault
	}
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
	return !r.closed && r.fault == nil && atomic.LoadUint32(r.closedWord()) != 0
}

// usable is the check of the slow paths that start using a handle (taking
// a role or a record): not closed, not broken, and the file under it still
// whole.
func (r *Ring) usable() error {
	if r.closed {
		return ErrClosed
	}
	if r.readOnly {
		return ErrReadOnly
	}
	if r.fault != nil {
		return r.fault
	}
	if err := r.checkTruncated(); err != nil {
		return r.broken(err)
	}
	return nil
}

// broken records that the memory under the handle went bad and makes every
// later call on the handle return err instead of touching it. Goroutines
// already inside an operation on another path are not stopped.
func (r *Ring) broken(err error) error {
	r.fault = err
	r.p.held, r.c.held = false, false
	r.m.lane.Store(-1)
	return err
}

// Close releases this handle: it gives up the SPSC roles or the MPMC
// process record it holds (so another process may take them at once) and
// unmaps the region if the handle owns one. It does not shut the ring down.
// A second Close returns nil.
func (r *Ring) Close() error {
	if r.closed {
		return nil
	}
	if r.fault == nil {
		r.fault = r.checkTruncated()
	}
	if r.fault != nil { // the header may be gone: give nothing back, just unmap
		r.p.held, r.c.held = false, false
		r.m.lane.Store(-1)
	}
	if r.p.held {
		storeRelease64(r.tail(), r.p.pos) // exact, for whoever comes next
		r.releaseRecord(recProducer)
	}
	if r.c.held {
		r.spscRelease()
		r.releaseRecord(recConsumer)
	}
	if lane := r.m.lane.Load(); lane >= 0 {
		r.releaseRecord(int(lane))
	}
	r.p.held, r.c.held = false, false
	r.m.lane.Store(-1)
	r.closed = true
	if r.region != nil {
		return r.region.Close()
	}
	return nil
}

// wakeConsumers wakes consumers asleep waiting for messages, if any: a load
// of a line nobody writes while nobody sleeps, and no system call.
func (r *Ring) wakeConsumers() {
	if atomic.LoadUint32(r.notEmptyWait()) != 0 {
		r.wakeAt(offNotEmptySeq)
	}
}

// wakeProducers wakes producers asleep waiting for room, if any.
func (r *Ring) wakeProducers() {
	if atomic.LoadUint32(r.notFullWait()) != 0 {
		r.wakeAt(offNotFullSeq)
	}
}

// wakeAt wakes the processes asleep on the futex word at offset off.
// Callers check the matching waiter count first, so that nobody makes a
// system call per message when nobody sleeps. It is kept out of line so that
// the checks, which run once per message, inline into the fast paths.
//
//go:noinline
func (r *Ring) wakeAt(off uintptr) { r.wake(r.u32(off)) }

// wake bumps futex word w and wakes every process asleep on it.
func (r *Ring) wake(w *uint32) {
	atomic.AddUint32(w, 1) // a sleeper about to sleep sees the change and does not
	if futexWakeAll(w) == 0 && r.cfg.Kind == MPMC {
		r.missedWake()
	}
}

// missedWake is called when a wake-up found nobody asleep although a waiter
// count said someone was: usually a waiter between its announcement and its
// sleep, but if it goes on, a process that died asleep and left its count.
// Then, at most once a second, the records of dead processes that still
// count waiters are swept.
func (r *Ring) missedWake() {
	if r.m.missedWakes.Add(1) < 64 {
		return
	}
	now := monotime()
	if last := r.m.lastSweep.Load(); last != 0 && now-last < int64(time.Second) || !r.m.lastSweep.CompareAndSwap(last, now) {
		return
	}
	r.m.missedWakes.Store(0)
	r.sweepDead()
}

// sweepDead takes over the records of dead processes that still count
// waiters, gives their counts and their claimed slots back, and frees them.
func (r *Ring) sweepDead() {
	for i := 0; i < numRecords; i++ {
		if atomic.LoadUint32(&r.record(i).sleepers) == 0 {
			continue
		}
		if owned, alive := r.recordOwnerAlive(i); !owned || alive {
			continue
		}
		if err := r.claimRecord(i, 0, r.recoverLane); err == nil {
			r.releaseRecord(i)
		}
	}
}

// claimingBit marks an owner word whose record is being filled in: its
// start and pidns words may still be the previous owner's.
const claimingBit = 1 << 31

// claimRecord makes this handle the owner of process record i. A free
// record is taken; a record whose owner has died is taken over; a record
// held by a live process gives ErrBusy. recoverLane, when not nil, runs on
// a dead owner's record before it becomes ours.
func (r *Ring) claimRecord(i int, role uint32, recoverLane func(lane int)) error {
	rec := r.record(i)
	me := self()
	for {
		cur, alive := ownerOf(rec)
		if alive {
			return fmt.Errorf("%w (pid %d)", ErrBusy, ownerPID(cur))
		}
		// claimingBit: the start time below is not ours yet.
		if !atomic.CompareAndSwapUint64(&rec.owner, cur, r.owner|claimingBit) {
			continue // someone else moved first; look again
		}
		if cur != 0 {
			r.takeSleepers(rec)
			if recoverLane != nil {
				recoverLane(i)
			}
		}
		atomic.StoreUint64(&rec.start, me.start)
		atomic.StoreUint64(&rec.pidns, me.pidns)
		atomic.StoreUint32(&rec.roles, role)
		atomic.StoreUint64(&rec.owner, r.owner) // the record is complete
		return nil
	}
}

// ownerOf returns the owner word of rec (0: free) and whether that owner's
// process is alive. A record being filled in (claimingBit) has no start
// time of its owner yet: it is judged by the pid alone.
func ownerOf(rec *record) (owner uint64, alive bool) {
	owner = atomic.LoadUint64(&rec.owner)
	if owner == 0 {
		return 0, false
	}
	start, ns := atomic.LoadUint64(&rec.start), atomic.LoadUint64(&rec.pidns)
	if owner&claimingBit != 0 {
		start = 0
	}
	return owner, recordAlive(owner, start, ns)
}

// takeSleepers takes back from the waiter words the waiters that the dead
// owner of rec left counted: the caller holds rec in the claiming state, so
// the dead owner's count is no longer anyone's.
func (r *Ring) takeSleepers(rec *record) {
	n := atomic.SwapUint32(&rec.sleepers, 0)
	if c := n & 0xffff; c != 0 {
		atomic.AddUint32(r.notEmptyWait(), -c)
	}
	if p := n >> 16; p != 0 {
		atomic.AddUint32(r.notFullWait(), -p)
	}
}

// releaseRecord gives record i back if this handle still owns it.
func (r *Ring) releaseRecord(i int) {
	atomic.CompareAndSwapUint64(&r.record(i).owner, r.owner, 0)
}

// recordOwnerAlive reports whether record i has an owner, and whether that
// owner's process is alive.
func (r *Ring) recordOwnerAlive(i int) (owned, alive bool) {
	owner, alive := ownerOf(r.record(i))
	return owner != 0, alive
}

var monoStart = time.Now()

// monotime returns monotonic nanoseconds since the package started.
func monotime() int64 { return int64(time.Since(monoStart)) + 1 } // never 0: 0 means "not yet"
