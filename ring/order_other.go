//go:build !amd64 || race

package ring

import "sync/atomic"

// storeRelease publishes v at p with (at least) release semantics. On arm64
// atomic.Store is STLR, a store-release; elsewhere it is as strong as the
// platform's sequentially consistent store. See order_amd64.go.
func storeRelease64(p *uint64, v uint64) { atomic.StoreUint64(p, v) }

// storeRelease32 is storeRelease64 for a 32-bit word.
func storeRelease32(p *uint32, v uint32) { atomic.StoreUint32(p, v) }

// plainBusy is unused here: atomic stores are as strong as needed (arm64's
// STLR is not reordered with a later LDAR), or the race detector wants them.
var plainBusy bool

// announceBusy marks an SPSC side busy, ordered before the load of the
// handle's life that follows (see close.go).
func announceBusy(p *uint32) { atomic.StoreUint32(p, 1) }
