//go:build amd64 && !race

package ring

import "sync/atomic"

// storeRelease publishes v at p with release semantics: every store and load
// this goroutine made before it is visible to a process that observes v
// with an atomic load.
//
// sync/atomic has no release store: its Store is sequentially consistent,
// and on amd64 that is an XCHG, a full barrier that drains the store buffer
// (~25 ns on the 2-core machine of the README's performance section). A release needs no barrier on amd64:
// the hardware (TSO) never makes a store visible before an earlier store or
// load, and the Go compiler keeps memory operations in program order (every
// store is threaded through the SSA memory chain). So a plain MOV is a
// store-release, which is what C11 memory_order_release compiles to here.
//
// The race detector builds use atomic.Store instead (order_other.go): it
// would report the plain store on Go-allocated memory as a race.
func storeRelease64(p *uint64, v uint64) { *p = v }

// storeRelease32 is storeRelease64 for a 32-bit word.
func storeRelease32(p *uint32, v uint32) { *p = v }

// plainBusy is set when Close can make every thread of this process run a
// barrier (membarrier PRIVATE_EXPEDITED; see close.go): an SPSC operation
// then announces itself with a plain store.
var plainBusy bool

// announceBusy marks an SPSC side busy, ordered before the load of the
// handle's life that follows (see close.go).
func announceBusy(p *uint32) {
	if plainBusy {
		*p = 1
		return
	}
	atomic.StoreUint32(p, 1)
}
