// Package ring lays lock-free queues on shared memory: a header and a fixed
// number of fixed-size slots, or a data area of variable-length records, in
// a region that several processes map. The
// processes coordinate with atomic operations on the mapped words alone: no
// locks, no sockets, no daemon, and no system call on the fast path.
//
// # Kinds
//
// An SPSC ring has one producer process and one consumer process. Its fast
// path has no atomic read-modify-write at all: an index ring. The producer
// publishes each message with a store-release of its position (tail), the
// consumer reads tail only when its cached copy says the ring is empty, and
// frees each slot at once with a store-release of its own position (head).
// Use it for a pipeline stage that feeds another.
//
// An MPMC ring takes any number of producers and consumers, in any
// processes, and costs one compare-and-swap per message on each side, on the
// producers' (consumers') own index word, as in Dmitry Vyukov's bounded
// queue; the claimer of every position stays on record, so that the claim of
// a process that dies can be undone. Use it for a pool of workers, or fan-in
// from several processes.
//
// The byte rings carry messages of any length up to a configured maximum,
// each taking its length plus an 8-byte header (rounded up to 8 bytes) in a
// data area of Capacity bytes, instead of a slot sized for the largest. An
// SPSCBytes ring is the SPSC index ring with records for slots. An MPSCBytes
// ring takes any number of producer processes and one consumer process: a
// producer claims its record with a compare-and-swap on the header at the
// end of the queue and commits it with one store; the consumer sees the
// records in the order of their claims. See bytes.go for the protocol.
//
// # Writing in place
//
// Every kind takes in-place writes: Reserve (or TryReserve) returns a
// writable view of room in the ring, Commit publishes what was written there
// (possibly shorter than reserved) and Abort gives the room back. With
// PopFunc on the other side, a message is never copied. A handle has one
// reservation open at a time.
//
// # Process model
//
// A process maps the region (Create, Open, Anonymous, Inherit, or its own
// mapping with Format/Attach) and gets a *Ring handle. Handles are
// process-local; the ring is not. On an SPSC ring the first push through a
// handle claims the producer role and the first pop the consumer role, by
// writing the handle's identity (pid, a per-handle token, the process start
// time and pid namespace) into the header: a second producer is refused with
// ErrBusy, in another process or in this one. Close gives the roles up. On an
// MPMC ring each handle takes a process record on first use (64 at most).
// SPSCBytes has SPSC's roles; on an MPSCBytes ring the consumer takes a role
// and each producer handle a record (63 at most).
//
// Within a process: an SPSC handle is pushed by one goroutine at a time and
// popped by one goroutine at a time; an MPMC handle may be used by any number
// of goroutines. Shutdown, Len, Config, Stats and Close are safe at any time
// (see Closing). A pop's fn must not pop from the same SPSC handle.
//
// # Memory ordering contract
//
// Everything a producer writes into a message happens before a consumer that
// receives it returns from Pop: tail (SPSC) or the slot's sequence word
// (MPMC) is stored with release semantics after the payload and length, and
// loaded with acquire semantics before them. A consumer's reads of a slot
// happen before the producer that reuses the slot writes it (head, or the
// slot's sequence word, is a store-release after the copy). Nothing else is ordered between
// processes: two messages from different producers of an MPMC ring arrive in
// the order of their claims, which need not be the order in which Push was
// called. Messages from one producer arrive in order, at any one consumer.
//
// On amd64 a store-release is an ordinary MOV (the hardware keeps stores in
// order; sync/atomic's Store would add a full barrier, ten times the cost),
// on arm64 an STLR. The race detector builds use sync/atomic throughout.
//
// # Waiting
//
// Push and Pop spin briefly, yield, then sleep in the kernel on a futex word
// in the header until the other side wakes them, or their context ends. The
// other side makes the wake-up system call only when a waiter has announced
// itself, so a busy ring makes no system calls. An idle waiter uses no CPU
// (it wakes every few tens of milliseconds to check on its peer). Set
// Options.Wait to WaitSpin for the lowest latency at the price of a core.
//
// # Crashes
//
// A ring outlives its processes. A producer or consumer killed at any
// instruction loses at most the message it was handling: an SPSC successor
// takes the role over from the dead process and continues where the ring
// stands; on an MPMC ring, a position left claimed by a dead process is
// undone by whoever finds it in the way (see Options.Grace): a message being
// written is abandoned and skipped, a slot being read is released; and the
// record the dead process held is reused. An SPSC consumer killed inside PopFunc has not
// released the batch fn was shown: its successor gets those messages again.
// A process killed while asleep in Push or Pop leaves itself counted as a
// waiter; the count is taken back when its record is taken over (and, on an
// MPMC ring, by a publisher whose wake-ups keep finding nobody).
//
// A process is judged dead only on proof: kill(pid, 0) says ESRCH, a pidfd
// says it has exited (a zombie), or /proc shows another start time for its
// pid. Anything that hides a process (EPERM, /proc mounted hidepid, no
// /proc, another pid namespace) means alive: a wrong "dead" would let two
// processes write one slot, a wrong "alive" only delays recovery. What stays
// undetected is pid reuse where /proc cannot show the start time (no /proc,
// hidepid for other users' processes): a dead owner whose pid now belongs to
// a live process counts as alive until that one exits too. Zombies escape
// detection without /proc only before Linux 5.3 (no pidfd). A record from
// another pid namespace, or one whose namespace only one side knows (no
// /proc and Linux before 6.11), is never judged, so rings shared across pid
// namespaces do not recover from crashes by themselves.
//
// # Closing
//
// Close may be called at any moment, from any goroutine: operations in
// flight on the handle, asleep or not, return an error matching
// os.ErrClosed (not ErrClosed, which says the ring was shut down), and the
// mapping goes only when none is left; a pop inside fn finishes the close
// when fn returns. A handle that owns its region and is dropped without
// Close gives its roles and records back when the garbage collector finds
// it; its mapping stays until the process exits.
//
// An SPSC Pop on an empty ring whose producer died returns ErrPeerDead (and a
// Push on a full ring whose consumer died), unless Options.WaitForPeer.
//
// # Hostile memory
//
// Attach validates the header against the region's real size and keeps a
// copy; nothing on the fast path reads the configuration from shared memory
// again, and every slot index is masked. A process that scribbles on the
// ring can make operations fail with ErrCorrupt, never make another process
// panic or read or write outside the region.
//
// A file truncated under a mapping is the one thing the kernel answers with
// a signal: touching a page past the new end raises SIGBUS. Attach checks the
// header against the file's size; a handle checks the size again before it
// first takes a role or a record, and before and after each sleep, and then
// returns ErrCorrupt (for good) instead of touching the memory. A process in
// the middle of an operation when the file shrinks still dies of SIGBUS.
// Anonymous regions are sealed against shrinking; for files, keep the default
// 0600 mode so that only their owner can truncate them.
package ring
