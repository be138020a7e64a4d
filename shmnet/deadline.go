package shmnet

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// deadline is one direction's deadline, and the context that the calls of
// that direction wait with. The context ends when the deadline passes
// (cause os.ErrDeadlineExceeded) and when the connection's base context
// ends (Close: net.ErrClosed; the peer gone: errPeerGone); the ring's
// blocking calls wake as soon as it does.
//
// Invariants:
//   - cur is the context of calls starting now; it changes only under mu,
//     and only when the one it replaces has ended: a call that loaded the
//     old one has returned, or is returning, with its cause.
//   - when is the deadline in force (zero: none); a timer firing finds it
//     under mu and ends cur only if it has really passed, so a firing
//     scheduled for a deadline moved since does nothing.
type deadline struct {
	base context.Context // the connection's: parent of every cur

	mu      sync.Mutex
	cur     atomic.Pointer[waitCtx] // written under mu; loaded by every call without it
	when    time.Time
	timer   *time.Timer // made on the first future deadline, then Reset
	stopped bool        // the connection is closed: no timer any more
}

type waitCtx struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func (d *deadline) init(base context.Context) {
	d.base = base
	d.renew()
}

func (d *deadline) renew() {
	ctx, cancel := context.WithCancelCause(d.base)
	d.cur.Store(&waitCtx{ctx, cancel})
}

// context returns the context a call starting now waits with.
func (d *deadline) context() context.Context { return d.cur.Load().ctx }

// set makes t the deadline: the zero time removes it, a time not in the
// future ends the calls in flight and fails the next ones at once, and a
// later time arms the timer. It takes effect on calls already waiting.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.when = t
	if d.timer != nil {
		d.timer.Stop() // a firing already on its way finds when moved, and does nothing
	}
	cur := d.cur.Load()
	if cur.ctx.Err() != nil && d.base.Err() == nil {
		// The deadline had passed: every call that saw it has returned,
		// or is returning. Calls from now on wait afresh.
		d.renew()
		cur = d.cur.Load()
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		cur.cancel(os.ErrDeadlineExceeded)
		return
	}
	if d.timer == nil {
		d.timer = time.AfterFunc(dur, d.expire)
	} else {
		d.timer.Reset(dur)
	}
}

// expire is the timer's function.
func (d *deadline) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.when.IsZero() || time.Now().Before(d.when) {
		return // moved or removed since this firing was scheduled
	}
	d.cur.Load().cancel(os.ErrDeadlineExceeded)
}

// stop disarms the timer for good: the connection is closed.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	d.when = time.Time{}
	if d.timer != nil {
		d.timer.Stop()
	}
}
