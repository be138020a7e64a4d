package shm

import (
	"os"
	"sync"
)

// A Region is this process's mapping of a shared memory region. Its methods
// are safe for concurrent use; the bytes of the mapping are not synchronised
// by anything (see the package documentation).
type Region struct {
	// Set when the region is made, never changed: read without the lock.
	path     string // resolved path; "" when anonymous or inherited
	name     string // what errors call it: the path, memfd:shmring, SHMRING_FD_x=3
	size     int    // length of the mapping in bytes
	writable bool   // stores are allowed (false with ReadOnly)

	// mu orders Close (writer) against the methods that use the mapping or
	// the descriptor (readers), so that none of them sees it half released.
	mu   sync.RWMutex
	mem  []byte   // the mapping; nil once closed
	file *os.File // the descriptor behind the mapping; nil once closed
}

// Bytes returns the mapping, or nil after Close. The slice must not be used
// after Close: its pages are unmapped and an access faults.
func (r *Region) Bytes() []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mem
}

// Size returns the length of the region in bytes. It does not change when
// the region is closed.
func (r *Region) Size() int { return r.size }

// Path returns the resolved path of the region's file, or "" for an
// anonymous or inherited region.
func (r *Region) Path() string { return r.path }

// File returns the descriptor behind the mapping, or nil after Close. The
// region owns it: leave closing it to Close. (Closing it would not unmap
// the region, but would break Share and the accounting of what is open.)
func (r *Region) File() *os.File {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.file
}

// Writable reports whether stores into the mapping are allowed: false for a
// ReadOnly mapping, true otherwise (a Private mapping takes stores, but keeps
// them in this process).
func (r *Region) Writable() bool { return r.writable }
