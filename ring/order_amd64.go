//go:build amd64 && !race

package ring

// storeRelease publishes v at p with release semantics: every store and load
// this goroutine made before it is visible to a process that observes v
// with an atomic load.
//
// sync/atomic has no release store: its Store is sequentially consistent,
// and on amd64 that is an XCHG, a full barrier that drains the store buffer
// (~25 ns measured here, see DESIGN.md). A release needs no barrier on amd64:
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
