package main

// Read-only inspection of ring files, for stat, ls and rm, and the guard
// that turns a fault in a mapping into an error.
//
// A ring file may be truncated, removed and re-created, or scribbled on by
// another process while we have it mapped. Attach validates the header
// against the mapping's length, and Stats only loads words, so a scribbled
// header gives an error or odd numbers, never an access outside the mapping.
// A truncated file is different: the mapping keeps its length, and a load
// from a page past the new end of the file raises SIGBUS. guard makes that a
// panic (debug.SetPanicOnFault) and the panic an error.

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

// errFault is wrapped by the error guard returns for a memory fault.
var errFault = errors.New("memory fault reading the ring (was the file truncated under us?)")

// guard calls fn with faults at non-nil addresses turned into an error
// wrapping errFault. It applies to the calling goroutine only, which is the
// one that must touch the mapping. Other panics go on.
func guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		f, ok := v.(interface{ Addr() uintptr }) // a runtime.Error for a fault at an address
		if !ok {
			panic(v)
		}
		err = fmt.Errorf("%w: address %#x", errFault, f.Addr())
	}()
	return fn()
}

// inspection is a read-only look at a ring file: a read-only mapping
// (PROT_READ: a store would fault, so nothing here can change the ring)
// and a read-only handle on it (ring.AttachReadOnly), only asked for Stats.
type inspection struct {
	path   string // resolved
	region *shm.Region
	ring   *ring.Ring
}

// errNoRingFile is why a file that is not a regular file, or is empty,
// cannot be a ring.
var errNoRingFile = errors.New("not a regular file with contents")

// inspect maps the ring file at path read-only and attaches to it. A bare
// name means a file in /dev/shm. A file that cannot be a ring, or that
// Attach refuses, gives an *attachError.
func inspect(path string) (*inspection, error) {
	p := shm.Resolve(path)
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil, &attachError{path: p, err: errNoRingFile}
	}
	reg, err := shm.Open(p, shm.ReadOnly())
	if err != nil {
		return nil, err
	}
	var r *ring.Ring
	err = guard(func() (err error) {
		r, err = ring.AttachReadOnly(reg.Bytes()) // pushes and pops would return ErrReadOnly
		return err
	})
	if err != nil {
		_ = reg.Close()
		return nil, &attachError{path: p, err: err}
	}
	return &inspection{path: p, region: reg, ring: r}, nil
}

// stats takes a snapshot of the ring's shared state.
func (in *inspection) stats() (ring.Stats, error) {
	var st ring.Stats
	err := guard(func() error {
		st = in.ring.Stats()
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("%s: %w", in.path, err)
	}
	return st, nil
}

// slots counts the ring's slots by state (a pass over the ring).
func (in *inspection) slots() (ring.SlotStates, error) {
	var st ring.SlotStates
	err := guard(func() error {
		st = in.ring.SlotStates()
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("%s: %w", in.path, err)
	}
	return st, nil
}

// close releases the handle and unmaps the file. The handle holds no role
// and no record, so closing it writes nothing to the ring.
func (in *inspection) close() {
	_ = guard(in.ring.Close)
	_ = in.region.Close()
}

// attachError is Attach's refusal of a file, with the file's path.
type attachError struct {
	path string
	err  error // ErrNotReady, or a *ring.LayoutError wrapping ErrIncompatible or ErrCorrupt
}

func (e *attachError) Error() string {
	detail := strings.TrimPrefix(e.err.Error(), "ring: ")
	switch {
	case errors.Is(e.err, ring.ErrNotReady):
		return e.path + " is not ready: its magic word is zero (its creator is still formatting it, or it is not a ring)"
	case notARing(e.err):
		return fmt.Sprintf("%s is not a ring: %s", e.path, detail)
	case unknownKind(e.err):
		return fmt.Sprintf("%s is a ring of a kind this shmring does not know (made by a newer shmring, or its header is corrupt): %s", e.path, detail)
	case errors.Is(e.err, ring.ErrIncompatible):
		return fmt.Sprintf("%s is not a ring this shmring can read: %s", e.path, detail)
	case errors.Is(e.err, ring.ErrCorrupt):
		return fmt.Sprintf("%s is a corrupt ring: %s", e.path, detail)
	}
	return fmt.Sprintf("%s: %s", e.path, detail)
}

func (e *attachError) Unwrap() error { return e.err }

// notARing reports whether err says that a file is not a shmring ring at
// all (not a regular file, empty, too small for a header, no magic), as
// opposed to a ring of another version, a corrupt one, or one we could not
// read.
func notARing(err error) bool {
	var le *ring.LayoutError
	if errors.As(err, &le) {
		return le.Field == "magic" || le.Field == "region size"
	}
	return errors.Is(err, ring.ErrNotReady) || errors.Is(err, errNoRingFile)
}

// unknownKind reports whether err is Attach's refusal of a header whose
// kind no version of ring this program was built with knows. Attach calls
// that corrupt; it may as well be a kind added after this program was built.
func unknownKind(err error) bool {
	var le *ring.LayoutError
	return errors.As(err, &le) && le.Field == "kind"
}

// liveness summarises a ring's process records.
//
//	live    at least one registered process is alive
//	stale   processes registered, all dead (crashed without closing)
//	unused  no process registered (none has pushed or popped, or all closed)
//
// A process that has opened a ring but not yet pushed or popped holds no
// record, so it does not make the ring live.
func liveness(procs []ring.Process) string {
	if len(procs) == 0 {
		return "unused"
	}
	for _, p := range procs {
		if p.Alive {
			return "live"
		}
	}
	return "stale"
}

// role names what a registered process does.
func role(p ring.Process) string {
	switch {
	case p.Produces && p.Consumes:
		return "producer+consumer"
	case p.Produces:
		return "producer"
	case p.Consumes:
		return "consumer"
	}
	return "registered"
}

// fill is the percentage of slots that hold a message, or of a byte
// ring's data area that its records take.
func fill(st ring.Stats) float64 {
	if st.Capacity == 0 {
		return 0
	}
	if isBytes(st.Kind) {
		return 100 * float64(st.BytesUsed) / float64(st.Capacity)
	}
	return 100 * float64(st.Len) / float64(st.Capacity)
}
