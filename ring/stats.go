package ring

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a ring's shared state, for inspectors and
// monitoring. Reading it only loads words: it works on a read-only mapping
// and does not disturb processes using the ring at full speed.
type Stats struct {
	Config
	Version  int    // layout version of the header
	Tail     uint64 // producer position: messages claimed by producers; byte kinds: 8-byte units
	Head     uint64 // consumer position: messages claimed by consumers; byte kinds: 8-byte units
	Released uint64 // slots below this are the producer's again: Head, since layout 2 frees every slot at once
	Len      int    // messages queued (see Ring.Len)
	Shutdown bool

	// Byte kinds: bytes of the data area taken by queued records (headers
	// and padding included), and free. The largest message is SlotSize.
	BytesUsed int
	BytesFree int

	ProducersWaiting int // processes asleep (or about to be) waiting for room
	ConsumersWaiting int // processes asleep (or about to be) waiting for messages

	CreatorPID int
	Created    time.Time
	Size       int // bytes of the ring: header and slots (or data area)

	Processes []Process // the process records in use
}

// Process is a process record: an SPSC role holder or an MPMC participant.
type Process struct {
	Record   int    // index in the header; SPSC: 0 producer, 1 consumer
	PID      int    // in the pid namespace of the process that wrote it
	Handle   uint32 // tells apart the handles of one process
	Alive    bool   // false: the process has exited (its slots can be recovered)
	Unjudged bool   // another pid namespace: Alive is assumed, not known
	Produces bool
	Consumes bool
	// Unfenced: the process could not register for expedited membarriers
	// (a seccomp filter, an old kernel); while it lives, sleepers sleep in
	// short slices, because their membarrier does not order its stores.
	Unfenced bool
}

// tailPos and headPos are the producers' and consumers' positions.
func (r *Ring) tailPos() uint64 {
	if r.cfg.Kind == SPSC || r.cfg.Kind == SPSCBytes { // MPSCBytes: position<<8 | lane, as MPMC
		return atomic.LoadUint64(r.tail())
	}
	return atomic.LoadUint64(r.tail()) >> 8
}

func (r *Ring) headPos() uint64 {
	if r.cfg.Kind == SPSC || r.cfg.Kind.bytes() {
		return atomic.LoadUint64(r.head())
	}
	return atomic.LoadUint64(r.head()) >> 8
}

// Stats returns a snapshot of the ring's shared state.
func (r *Ring) Stats() Stats {
	if r.enter() != nil {
		return Stats{Config: r.cfg}
	}
	defer r.exit()
	pid, created := r.creator()
	s := Stats{
		Config:           r.cfg,
		Version:          int(atomic.LoadUint32(r.u32(offVersion))),
		Tail:             r.tailPos(),
		Head:             r.headPos(),
		Released:         r.headPos(),
		Len:              r.queued(),
		Shutdown:         atomic.LoadUint32(r.closedWord()) != 0,
		ProducersWaiting: r.waiters(true),
		ConsumersWaiting: r.waiters(false),
		CreatorPID:       int(pid),
		Created:          time.Unix(0, created),
		Size:             totalSize(r.cfg),
	}
	if r.cfg.Kind.bytes() {
		used := int64(min(dist(s.Head, s.Tail), r.capacity)) * 8
		s.BytesUsed, s.BytesFree = int(used), r.cfg.Capacity-int(used)
	}
	for i := 0; i < numRecords; i++ {
		owned, alive := r.recordOwnerAlive(i)
		if !owned {
			continue
		}
		rec := r.record(i)
		roles := atomic.LoadUint32(&rec.roles)
		owner := atomic.LoadUint64(&rec.owner)
		ns := atomic.LoadUint64(&rec.pidns)
		s.Processes = append(s.Processes, Process{
			Record:   i,
			PID:      ownerPID(owner),
			Handle:   uint32(owner) &^ claimingBit,
			Alive:    alive,
			Unjudged: ns != 0 && self().pidns != 0 && ns != self().pidns,
			Produces: roles&roleProduces != 0,
			Consumes: roles&roleConsumes != 0,
			Unfenced: roles&roleUnfenced != 0,
		})
	}
	return s
}

// SlotStates counts the ring's slots by state: an exact picture of an MPMC
// ring, with the claims in progress and those whose claimer has died. It
// reads every slot, so it costs a pass over the ring; the slots keep
// changing while it reads.
type SlotStates struct {
	Free      int // empty, waiting for a producer
	Full      int // a message waiting for a consumer
	Writing   int // MPMC: claimed by a producer, being written
	Reading   int // MPMC: claimed by a consumer, being read
	Abandoned int // MPMC: its producer died writing it; consumers skip it
	Stuck     int // claimed (Writing or Reading) by a process that has died: recovered when someone needs the slot
	Corrupt   int // words no version of this package writes
}

// SlotStates returns the counts of r's slots by state. On an SPSC ring,
// whose consumer does not write slots, a slot counts as Full when it holds a
// message between the consumer's and the producer's positions.
func (r *Ring) SlotStates() SlotStates {
	var st SlotStates
	if r.enter() != nil {
		return st
	}
	defer r.exit()
	if r.cfg.Kind == SPSC {
		st.Full = r.queued()
		st.Free = r.cfg.Capacity - st.Full
		return st
	}
	if r.cfg.Kind.bytes() {
		st.Full = r.queued() // records, not slots: a byte ring has none
		return st
	}
	tail := atomic.LoadUint64(r.tail()) >> 8
	head := atomic.LoadUint64(r.head()) >> 8
	alive := map[int]bool{}
	claimedBy := func(p, kind uint64) {
		lane := r.claimer(p, kind)
		if lane < 0 {
			return
		}
		a, ok := alive[lane]
		if !ok {
			owned, live := r.recordOwnerAlive(lane)
			a = owned && live
			alive[lane] = a
		}
		if !a {
			st.Stuck++
		}
	}
	for i := uint64(0); i < r.capacity; i++ {
		v := atomic.LoadUint64(slotSeq(r.slot(i)))
		p := v >> 8
		switch v & 0xff {
		case tagFree:
			if int64(tail-p) > 0 {
				st.Writing++
				claimedBy(p, recWriter)
			} else {
				st.Free++
			}
		case tagFull, tagAbandoned:
			switch {
			case int64(head-p) > 0:
				st.Reading++
				claimedBy(p, recReader)
			case v&0xff == tagFull:
				st.Full++
			default:
				st.Abandoned++
			}
		default:
			st.Corrupt++
		}
	}
	return st
}
