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
	Tail     uint64 // producer position (MPMC: the producers' hint)
	Head     uint64 // consumer position (MPMC: the consumers' hint)
	Released uint64 // SPSC: slots below this are the producer's again
	Len      int    // messages queued (see Ring.Len)
	Shutdown bool

	ProducersWaiting int // processes asleep (or about to be) waiting for room
	ConsumersWaiting int // processes asleep (or about to be) waiting for messages

	CreatorPID int
	Created    time.Time
	Size       int // bytes of the ring: header and slots

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
}

func (r *Ring) tailPos() uint64 {
	if r.cfg.Kind == SPSC {
		return r.spscTail()
	}
	return atomic.LoadUint64(r.tail())
}

// Stats returns a snapshot of the ring's shared state.
func (r *Ring) Stats() Stats {
	if r.closed || r.fault != nil {
		return Stats{Config: r.cfg}
	}
	pid, created := r.creator()
	s := Stats{
		Config:           r.cfg,
		Version:          int(atomic.LoadUint32(r.u32(offVersion))),
		Tail:             r.tailPos(),
		Head:             atomic.LoadUint64(r.head()),
		Released:         atomic.LoadUint64(r.released()),
		Len:              r.Len(),
		Shutdown:         atomic.LoadUint32(r.closedWord()) != 0,
		ProducersWaiting: int(atomic.LoadUint32(r.notFullWait())),
		ConsumersWaiting: int(atomic.LoadUint32(r.notEmptyWait())),
		CreatorPID:       int(pid),
		Created:          time.Unix(0, created),
		Size:             totalSize(r.cfg),
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
		})
	}
	return s
}

// SlotStates counts the ring's slots by state: an exact picture of an MPMC
// ring, where Stats has only hints. It reads every slot's sequence word, so
// it costs a pass over the ring; the slots keep changing while it reads.
type SlotStates struct {
	Free    int // empty, waiting for a producer
	Full    int // a message waiting for a consumer
	Writing int // MPMC: claimed by a producer, being written
	Reading int // MPMC: claimed by a consumer, being read
	Closed  int // MPMC: end-of-stream markers
	Stuck   int // claimed (Writing or Reading) by a process that has died: recovered when someone needs the slot
	Corrupt int // words no version of this package writes
}

// SlotStates returns the counts of r's slots by state. On an SPSC ring,
// whose consumer does not write slots, a slot counts as Full when it holds a
// message between the consumer's and the producer's positions.
func (r *Ring) SlotStates() SlotStates {
	var st SlotStates
	if r.closed || r.fault != nil {
		return st
	}
	if r.cfg.Kind == SPSC {
		st.Full = r.Len()
		st.Free = r.cfg.Capacity - st.Full
		return st
	}
	alive := map[int]bool{}
	for i := uint64(0); i < r.capacity; i++ {
		v := atomic.LoadUint64(slotSeq(r.slot(i)))
		switch tag := v & 0xff; {
		case tag == tagFree:
			st.Free++
		case tag == tagFull:
			st.Full++
		case tag == tagClosed:
			st.Closed++
		case tag&0xc0 == tagWriting || tag&0xc0 == tagReading:
			if tag&0xc0 == tagWriting {
				st.Writing++
			} else {
				st.Reading++
			}
			lane := int(tag & laneMask)
			a, ok := alive[lane]
			if !ok {
				owned, live := r.recordOwnerAlive(lane)
				a = owned && live
				alive[lane] = a
			}
			if !a {
				st.Stuck++
			}
		default:
			st.Corrupt++
		}
	}
	return st
}
