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
	Record   int  // index in the header; SPSC: 0 producer, 1 consumer
	PID      int  // in the pid namespace of the process that wrote it
	Alive    bool // false: the process has exited (its slots can be recovered)
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
		roles := atomic.LoadUint32(&r.record(i).roles)
		s.Processes = append(s.Processes, Process{
			Record:   i,
			PID:      ownerPID(atomic.LoadUint64(&r.record(i).owner)),
			Alive:    alive,
			Produces: roles&roleProduces != 0,
			Consumes: roles&roleConsumes != 0,
		})
	}
	return s
}
