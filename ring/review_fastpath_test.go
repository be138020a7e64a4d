package ring

// Review of the SPSC/SPSCBytes fast paths (push/pop with one way out,
// moveWords, spscSetLen, the batch-wide c.inFn of spscTryConsume, visitor).
//
// TestReviewFastpathBug* demonstrates a bug and fails on this tree (and on
// 4f1bfcb: not introduced by the change). TestReviewFastpathHarden* fail
// too, but call pops that doc.go forbids (a pop inside fn; a second
// goroutine popping while fn runs): they show that such a pop on a closed
// handle faults instead of returning os.ErrClosed. The others check
// properties of the change that the existing tests do not, and pass.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var reviewAllKinds = []Kind{SPSC, MPMC, SPSCBytes, MPSCBytes}

// reviewCfg is a configuration for capacity messages of slotSize bytes; a
// byte ring gets a data area of at least that many records.
func reviewCfg(kind Kind, capacity, slotSize int) Config {
	if !kind.bytes() {
		return Config{Kind: kind, Capacity: capacity, SlotSize: slotSize}
	}
	need := max(64, capacity*((8+slotSize+7)&^7), 4*slotSize)
	c := 64
	for c < need {
		c *= 2
	}
	return Config{Kind: kind, Capacity: c, SlotSize: slotSize}
}

func reviewAnon(t *testing.T, kind Kind, capacity, slotSize int) *Ring {
	t.Helper()
	r, err := Anonymous(reviewCfg(kind, capacity, slotSize))
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// reviewMsg is message seq of n bytes: every byte says seq and its index.
func reviewMsg(buf []byte, seq uint64, n int) []byte {
	m := buf[:n]
	for i := range m {
		m[i] = byte(seq*131 + uint64(i)*7 + 1)
	}
	return m
}

const reviewChildEnv = "SHMRING_REVIEW_FASTPATH_CHILD"

// reviewInChild runs scenario in a child process (this test binary, only
// this test, with the case named in the environment) and fails the test if
// the child dies: the scenarios below may fault, which would take the
// whole test binary down. In the child it runs scenario and returns true.
func reviewInChild(t *testing.T, name string, scenario func(t *testing.T)) (inChild bool) {
	t.Helper()
	if v := os.Getenv(reviewChildEnv); v != "" {
		if v == name {
			scenario(t)
		}
		return true
	}
	top, _, _ := strings.Cut(t.Name(), "/")
	cmd := exec.Command(os.Args[0], "-test.run=^"+top+"$", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), reviewChildEnv+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(out)
		if i := strings.Index(msg, "goroutine "); i > 0 {
			msg = msg[:i] // the fault line, not the traces
		}
		t.Errorf("%s: the child process died (%v):\n%s", name, err, msg)
	}
	return false
}

// TestReviewFastpathHardenPopAfterCloseInsideFn: fn closes the handle and
// then makes another pop on it (doc.go: "A pop's fn must not pop from the
// same SPSC handle"; but the handle is closed, and the design says every
// later operation returns os.ErrClosed, never a SIGSEGV). On the one-consumer kinds it announces
// itself in r.c.busy (already 1: the PopFunc in flight), finds the handle
// closing, and on its way out stores c.busy = 0 and calls finishClose,
// which now finds the handle quiet and unmaps the region under the
// PopFunc still in flight: fn's view and the PopFunc's store of head
// fault. (Not new in this change: spscPopSlow/sbPopSlow did the same.)
func TestReviewFastpathHardenPopAfterCloseInsideFn(t *testing.T) {
	ops := map[string]func(r *Ring) error{
		"TryPop":     func(r *Ring) error { _, err := r.TryPop(make([]byte, 64)); return err },
		"TryPopFunc": func(r *Ring) error { _, err := r.TryPopFunc(1, func([]byte) {}); return err },
	}
	for _, kind := range reviewAllKinds {
		for opName, op := range ops {
			name := kind.String() + "/" + opName
			t.Run(name, func(t *testing.T) {
				reviewInChild(t, name, func(t *testing.T) {
					r, err := Anonymous(reviewCfg(kind, 8, 16))
					require.NoError(t, err)
					for i := 0; i < 3; i++ {
						require.NoError(t, r.TryPush(reviewMsg(make([]byte, 16), uint64(i), 16)))
					}
					calls := 0
					n, err := r.PopFunc(context.Background(), 3, func(m []byte) {
						calls++
						if calls == 1 {
							require.NoError(t, r.Close())
							err := op(r)
							if !errors.Is(err, os.ErrClosed) {
								t.Errorf("%s after Close: %v, want os.ErrClosed", opName, err)
							}
						}
						_ = bytes.Clone(m) // the view is valid until fn returns
					})
					require.NoError(t, err)
					assert.Equal(t, 1, n)
					assert.Nil(t, r.Region().Bytes(), "unmapped once PopFunc returned")
				})
			})
		}
	}
}

// TestReviewFastpathHardenOtherGoroutinePopAfterClose: a goroutine closes
// the handle while the consumer is inside fn (Close returns at once:
// c.inFn), then calls TryPop on it (a second popping goroutine, which the
// one-goroutine-per-side rule forbids, on a closed handle), which should
// only say os.ErrClosed. On the
// one-consumer kinds that TryPop clears c.busy and unmaps; the consumer's
// fn, still reading its view, faults. With the batch-wide c.inFn the
// window is the whole batch, between fn calls too.
func TestReviewFastpathHardenOtherGoroutinePopAfterClose(t *testing.T) {
	for _, kind := range reviewAllKinds {
		name := kind.String()
		t.Run(name, func(t *testing.T) {
			reviewInChild(t, name, func(t *testing.T) {
				r, err := Anonymous(reviewCfg(kind, 8, 16))
				require.NoError(t, err)
				require.NoError(t, r.TryPush(reviewMsg(make([]byte, 16), 0, 16)))
				inFn, closed := make(chan struct{}), make(chan struct{})
				go func() {
					<-inFn
					require.NoError(t, r.Close()) // returns at once: the consumer is inside fn
					_, err := r.TryPop(make([]byte, 16))
					assert.ErrorIs(t, err, os.ErrClosed)
					close(closed)
				}()
				n, err := r.PopFunc(context.Background(), 4, func(m []byte) {
					close(inFn)
					<-closed
					_ = bytes.Clone(m) // still valid: fn has not returned
				})
				require.NoError(t, err)
				assert.Equal(t, 1, n)
			})
		})
	}
}

// TestReviewFastpathBugPanicInFnWhileAsleepLeaksWaiter: a consumer asleep in
// PopFunc whose fn panics on the message its look inside sleep finds (a
// message published without a wake-up: the publisher read the waiter mask
// before the sleeper set its bit, the case the sleeper's second look is
// for; or after a timed-out slice). sleep's try runs fn between announce
// and leave, and a panic skips leave: the consumer's process record keeps
// counting a sleeper and the waiter mask keeps its bit, in shared memory,
// after the handle is closed too. Every publish by every producer from
// then on makes a FUTEX_WAKE system call, Stats reports a sleeper that
// does not exist, and nothing but Format clears it (a record freed by Close
// is claimed again without takeSleepers). Not new in this change.
func TestReviewFastpathBugPanicInFnWhileAsleepLeaksWaiter(t *testing.T) {
	cfg := Config{Kind: SPSC, Capacity: 8, SlotSize: 16}
	mem := alignedCopy(make([]byte, totalSize(cfg)))
	r, err := Format(mem, cfg)
	require.NoError(t, err)
	defer r.Close()
	done := make(chan any)
	go func() {
		defer func() { done <- recover() }()
		_, _ = r.PopFunc(context.Background(), 1, func([]byte) { panic("boom") })
	}()
	for r.waiters(false) == 0 { // announced: inside sleep
		runtime.Gosched()
	}
	// Publish message 0 as a producer that found no sleeper would: payload,
	// length, tail; no wake-up. The sleeper's next look (at the latest after
	// its slice) finds it and calls fn.
	msg := reviewMsg(make([]byte, 16), 0, 16)
	copy(r.payload(r.slot(0), 16), msg)
	*r.spscLen(0) = 16
	atomic.StoreUint64(r.tail(), 1)
	// No deadline of our own: the sleeper looks again when its slice ends,
	// and a sleeper that never does is a hang the test binary's -timeout
	// reports.
	require.Equal(t, "boom", <-done, "fn ran inside the sleeper's look and panicked")
	assert.Zero(t, r.waiters(false), "a consumer whose fn panicked is still counted asleep")
	assert.Zero(t, atomic.LoadUint64(r.notEmptyWait()), "and producers still find its bit in the waiter mask")
	require.NoError(t, r.Close())
	other, err := Attach(mem)
	require.NoError(t, err)
	defer other.Close()
	assert.Zero(t, other.Stats().ConsumersWaiting, "after the handle is closed, too")
	// What it costs: with nobody asleep, every publish still bumps the
	// futex word (and makes a FUTEX_WAKE system call).
	seq := atomic.LoadUint32(other.notEmptySeq())
	require.NoError(t, other.TryPush(make([]byte, 16)))
	assert.Equal(t, seq, atomic.LoadUint32(other.notEmptySeq()), "a push with no sleeper woke someone")
}

// TestReviewFastpathCloseFromOtherGoroutineDuringBatch: Close from another
// goroutine while PopFunc's fn runs returns at once (no hang: c.inFn is set
// for the whole batch), leaves the mapping in place while fn runs, and no
// further fn call follows; PopFunc returns the message fn had; the mapping
// goes when it returns and every later operation says os.ErrClosed.
func TestReviewFastpathCloseFromOtherGoroutineDuringBatch(t *testing.T) {
	for _, kind := range reviewAllKinds {
		t.Run(kind.String(), func(t *testing.T) {
			r, err := Anonymous(reviewCfg(kind, 8, 16))
			require.NoError(t, err)
			for i := 0; i < 5; i++ {
				require.NoError(t, r.TryPush(reviewMsg(make([]byte, 16), uint64(i), 16)))
			}
			inFn, closed := make(chan struct{}), make(chan error)
			go func() {
				<-inFn
				closed <- r.Close()
			}()
			calls := 0
			n, err := r.PopFunc(context.Background(), 5, func(m []byte) {
				calls++
				if calls == 1 {
					close(inFn)
					require.NoError(t, <-closed, "Close returned while fn runs")
					assert.NotNil(t, r.Region().Bytes(), "still mapped while fn runs")
					assert.Equal(t, reviewMsg(make([]byte, 16), 0, 16), m)
				}
			})
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			assert.Equal(t, 1, calls, "no fn call after Close")
			assert.Nil(t, r.Region().Bytes(), "unmapped when PopFunc returned")
			_, err = r.TryPop(make([]byte, 16))
			assert.ErrorIs(t, err, os.ErrClosed)
			assert.ErrorIs(t, r.TryPush(make([]byte, 16)), os.ErrClosed)
			_, err = r.TryPopFunc(1, func([]byte) {})
			assert.ErrorIs(t, err, os.ErrClosed)
		})
	}
}

// TestReviewFastpathCloseRacesConsume: Close at a random moment while one
// goroutine pushes fast-path messages and another consumes with PopFunc,
// TryPopFunc, Consume or Pop (one goroutine per side on the one-producer
// kinds): no fault, every error matches os.ErrClosed, the mapping goes.
// TestCloseWhileInFlight runs PopFunc on MPMC only.
func TestReviewFastpathCloseRacesConsume(t *testing.T) {
	reps := 40
	if testing.Short() {
		reps = 10
	}
	consumers := map[string]func(r *Ring, ctx context.Context) error{
		"PopFunc": func(r *Ring, ctx context.Context) error {
			_, err := r.PopFunc(ctx, 4, func(m []byte) { _ = bytes.Clone(m) })
			return err
		},
		"TryPopFunc": func(r *Ring, ctx context.Context) error {
			_, err := r.TryPopFunc(4, func(m []byte) { _ = bytes.Clone(m) })
			if err == ErrEmpty {
				return nil
			}
			return err
		},
		"Consume": func(r *Ring, ctx context.Context) error {
			_, err := r.Consume(ctx, 3, func(m []byte) error { _ = bytes.Clone(m); return nil })
			return err
		},
		"Pop": func(r *Ring, ctx context.Context) error {
			_, err := r.Pop(ctx, make([]byte, 64))
			return err
		},
	}
	for _, kind := range reviewAllKinds {
		for cname, consume := range consumers {
			t.Run(kind.String()+"/"+cname, func(t *testing.T) {
				for rep := 0; rep < reps; rep++ {
					r, err := Anonymous(reviewCfg(kind, 8, 64))
					require.NoError(t, err)
					ctx := context.Background()
					var wg sync.WaitGroup
					errs := make(chan error, 2)
					loop := func(op func() error) {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for {
								if err := op(); err != nil {
									errs <- err
									return
								}
							}
						}()
					}
					msg := reviewMsg(make([]byte, 64), uint64(rep), 8+rep%57)
					loop(func() error { return r.Push(ctx, msg) })
					loop(func() error { return consume(r, ctx) })
					for i := rand.IntN(3000); i > 0; i-- {
						_ = r.Len()
					}
					require.NoError(t, r.Close())
					wg.Wait()
					close(errs)
					for err := range errs {
						if !errors.Is(err, os.ErrClosed) {
							t.Fatalf("rep %d: %v, want os.ErrClosed", rep, err)
						}
					}
					require.Nil(t, r.Region().Bytes(), "unmapped once nothing is in flight")
				}
			})
		}
	}
}

// TestReviewFastpathPanicInFn: for every kind and both TryPopFunc and
// PopFunc, a panic in fn on message 1: message 0 is consumed (not delivered
// again), message 1 is delivered next (one-consumer kinds), nothing is
// left "in flight" (c.busy, c.inFn, r.inFn), the handle goes on working and
// Close unmaps at once. With Close called inside fn before the panic, the
// close completes while the panic unwinds.
func TestReviewFastpathPanicInFn(t *testing.T) {
	for _, kind := range reviewAllKinds {
		for _, wait := range []bool{false, true} {
			for _, closeFirst := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/wait=%v/close=%v", kind, wait, closeFirst), func(t *testing.T) {
					r, err := Anonymous(reviewCfg(kind, 8, 16))
					require.NoError(t, err)
					defer r.Close()
					for i := 0; i < 3; i++ {
						require.NoError(t, r.TryPush(reviewMsg(make([]byte, 16), uint64(i), 16)))
					}
					var seen [][]byte
					fn := func(m []byte) {
						if len(seen) == 1 {
							if closeFirst {
								require.NoError(t, r.Close())
							}
							panic("boom")
						}
						seen = append(seen, bytes.Clone(m))
					}
					p := func() (p any) {
						defer func() { p = recover() }()
						if wait {
							_, _ = r.PopFunc(context.Background(), 3, fn)
						} else {
							_, _ = r.TryPopFunc(3, fn)
						}
						return nil
					}()
					require.Equal(t, "boom", p)
					require.Len(t, seen, 1)
					assert.Equal(t, reviewMsg(make([]byte, 16), 0, 16), seen[0])
					assert.Zero(t, atomic.LoadUint32(&r.c.busy), "c.busy")
					assert.Zero(t, atomic.LoadUint32(&r.c.inFn), "c.inFn")
					assert.Zero(t, r.inFn.Load(), "r.inFn")
					assert.Zero(t, r.ops.Load(), "r.ops")
					if closeFirst {
						assert.Nil(t, r.Region().Bytes(), "the close completed as the panic unwound")
						_, err := r.TryPop(make([]byte, 16))
						assert.ErrorIs(t, err, os.ErrClosed)
						return
					}
					buf := make([]byte, 16)
					if kind != MPMC { // an MPMC claim is final: the message fn panicked on is released
						n, err := r.TryPop(buf)
						require.NoError(t, err)
						assert.Equal(t, reviewMsg(make([]byte, 16), 1, 16), buf[:n], "message 1 next")
					}
					n, err := r.TryPop(buf)
					require.NoError(t, err)
					assert.Equal(t, reviewMsg(make([]byte, 16), 2, 16), buf[:n])
					require.NoError(t, r.Close())
					assert.Nil(t, r.Region().Bytes(), "Close unmaps at once")
				})
			}
		}
	}
}

// TestReviewFastpathEveryLength: on SPSC and SPSCBytes, messages of every
// length from 0 to 100 (fast path 8..64, slow path around it) wrap a small
// ring many times, popped by TryPop, Pop and TryPopFunc at random, into
// buffers of exactly their length, of one byte less (io.ErrShortBuffer with
// the length, message left in place) and larger: the bytes of the buffer
// past the message are never written. On SPSC the producer's next length
// word is scribbled before every push (spscSetLen stores only when the
// value differs: a stale or hostile value, equal or not, must not survive
// a push).
func TestReviewFastpathEveryLength(t *testing.T) {
	for _, kind := range []Kind{SPSC, SPSCBytes} {
		t.Run(kind.String(), func(t *testing.T) {
			const largest = 100
			r := reviewAnon(t, kind, 4, largest)
			rng := rand.New(rand.NewPCG(7, uint64(kind)))
			in := make([]byte, largest)
			buf := make([]byte, largest+32)
			var pushed, popped uint64
			lens := map[uint64]int{}
			ctx := context.Background()
			pop := func() bool {
				want, ok := lens[popped]
				if !ok {
					return false
				}
				if want > 0 {
					n, err := r.TryPop(buf[:want-1])
					require.ErrorIs(t, err, io.ErrShortBuffer, "message %d of %d bytes into %d", popped, want, want-1)
					require.Equal(t, want, n)
				}
				for i := range buf {
					buf[i] = 0xEE
				}
				size := want + rng.IntN(2)*rng.IntN(32)
				var n int
				var err error
				switch rng.IntN(3) {
				case 0:
					n, err = r.TryPop(buf[:size])
				case 1:
					n, err = r.Pop(ctx, buf[:size])
				default:
					var got int
					got, err = r.TryPopFunc(1, func(m []byte) { n = copy(buf[:size], m) })
					require.Equal(t, 1, got)
				}
				require.NoError(t, err, "message %d", popped)
				require.Equal(t, want, n, "message %d", popped)
				require.Equal(t, reviewMsg(in, popped, want), buf[:n], "message %d", popped)
				require.Equal(t, bytes.Repeat([]byte{0xEE}, len(buf)-n), buf[n:], "message %d: bytes past it written", popped)
				delete(lens, popped)
				popped++
				return true
			}
			for round := 0; round < 3000; round++ {
				for k := rng.IntN(6); k >= 0; k-- {
					n := rng.IntN(largest + 1)
					if kind == SPSC && rng.IntN(2) == 0 && r.p.pos-atomic.LoadUint64(r.head()) < r.capacity {
						// The slot is the producer's (the ring is not full); a
						// hostile value there must go.
						v := []uint32{uint32(n), uint32(n + 1), 0, 0xffffffff, uint32(rng.IntN(largest + 1))}[rng.IntN(5)]
						*r.spscLen(r.p.pos) = v
					}
					if err := r.TryPush(reviewMsg(in, pushed, n)); err != nil {
						require.ErrorIs(t, err, ErrFull)
						break
					}
					lens[pushed] = n
					pushed++
				}
				for k := rng.IntN(6); k >= 0 && pop(); k-- {
				}
			}
			for pop() {
			}
			assert.Equal(t, pushed, popped)
			assert.Greater(t, popped, uint64(3000))
		})
	}
}

// TestReviewFastpathShutdownDrain: Shutdown with fast-path messages queued
// (TestShutdownDrainsThenEOF pushes 1-byte messages, which never take the
// fast paths): Pop and TryPop deliver every one, then io.EOF, for ever;
// pushes fail with ErrClosed; a short buffer leaves the message.
func TestReviewFastpathShutdownDrain(t *testing.T) {
	for _, kind := range reviewAllKinds {
		t.Run(kind.String(), func(t *testing.T) {
			r := reviewAnon(t, kind, 8, 64)
			ctx := context.Background()
			for i := 0; i < 5; i++ {
				require.NoError(t, r.Push(ctx, reviewMsg(make([]byte, 64), uint64(i), 8+i*14)))
			}
			require.NoError(t, r.Shutdown())
			assert.ErrorIs(t, r.TryPush(make([]byte, 32)), ErrClosed)
			assert.ErrorIs(t, r.Push(ctx, make([]byte, 32)), ErrClosed)
			buf := make([]byte, 64)
			n, err := r.Pop(ctx, buf[:7])
			assert.ErrorIs(t, err, io.ErrShortBuffer)
			assert.Equal(t, 8, n)
			for i := 0; i < 5; i++ {
				var n int
				var err error
				if i%2 == 0 {
					n, err = r.Pop(ctx, buf)
				} else {
					n, err = r.TryPop(buf)
				}
				require.NoError(t, err, "message %d", i)
				assert.Equal(t, reviewMsg(make([]byte, 64), uint64(i), 8+i*14), buf[:n])
			}
			for i := 0; i < 2; i++ {
				_, err := r.Pop(ctx, buf)
				assert.ErrorIs(t, err, io.EOF)
				_, err = r.TryPop(buf)
				assert.ErrorIs(t, err, io.EOF)
				_, err = r.PopFunc(ctx, 4, func([]byte) { t.Error("fn after EOF") })
				assert.ErrorIs(t, err, io.EOF)
			}
		})
	}
}

// TestReviewFastpathReservedPush: with a reservation open, TryPush and Push
// (which would otherwise wait: the ring is full) of fast-path sizes return
// ErrReserved at once on the one-producer kinds; after Commit the committed
// message comes first and pushes work again.
func TestReviewFastpathReservedPush(t *testing.T) {
	for _, kind := range []Kind{SPSC, SPSCBytes} {
		t.Run(kind.String(), func(t *testing.T) {
			r := reviewAnon(t, kind, 2, 16)
			view, err := r.TryReserve(16)
			require.NoError(t, err)
			copy(view, reviewMsg(make([]byte, 16), 9, 16))
			assert.ErrorIs(t, r.TryPush(make([]byte, 16)), ErrReserved)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			assert.ErrorIs(t, r.Push(ctx, make([]byte, 16)), ErrReserved, "at once, not after waiting")
			require.NoError(t, ctx.Err())
			require.NoError(t, r.Commit(12))
			require.NoError(t, r.TryPush(reviewMsg(make([]byte, 16), 1, 16)))
			buf := make([]byte, 16)
			n, err := r.TryPop(buf)
			require.NoError(t, err)
			assert.Equal(t, reviewMsg(make([]byte, 16), 9, 16)[:12], buf[:n], "the committed 12 bytes")
			n, err = r.TryPop(buf)
			require.NoError(t, err)
			assert.Equal(t, reviewMsg(make([]byte, 16), 1, 16), buf[:n])
		})
	}
}

// TestReviewFastpathHostileBytesHeader: on SPSCBytes, a record header
// rewritten (below tail) to a MESSAGE of any length: up to the slot size,
// and not crossing the end, it is delivered with that length (a hostile
// process can lie about lengths, not make us read outside the area); above
// the slot size or past the end it is ErrCorrupt, for TryPop, Pop and
// TryPopFunc alike, and nothing is consumed.
func TestReviewFastpathHostileBytesHeader(t *testing.T) {
	const capacity, slot = 256, 64
	for _, l := range []int{0, 1, 7, 8, 9, 63, 64, 65, 200, 1 << 20} {
		t.Run(fmt.Sprint(l), func(t *testing.T) {
			r, err := Anonymous(Config{Kind: SPSCBytes, Capacity: capacity, SlotSize: slot})
			require.NoError(t, err)
			defer r.Close()
			for i := 0; i < 3; i++ {
				require.NoError(t, r.TryPush(reviewMsg(make([]byte, 56), uint64(i), 56))) // 64-byte records
			}
			buf := make([]byte, 2*slot)
			_, err = r.TryPop(buf)
			require.NoError(t, err)
			*r.bHdr(r.c.pos) = bWord(bMessage, uint32(l)) // record 1, at unit 8
			fits := l <= slot && 8+recUnits(l) <= capacity/8
			for _, how := range []string{"TryPop", "Pop", "TryPopFunc"} {
				var n int
				var err error
				switch how {
				case "TryPop":
					n, err = r.TryPop(buf)
				case "Pop":
					n, err = r.Pop(context.Background(), buf)
				default:
					_, err = r.TryPopFunc(1, func(m []byte) { n = len(m) })
				}
				if !fits {
					require.ErrorIs(t, err, ErrCorrupt, how)
					continue
				}
				require.NoError(t, err, how)
				assert.Equal(t, l, n, how)
				break // consumed
			}
			if !fits {
				assert.Equal(t, uint64(8), r.c.pos, "nothing consumed")
			}
		})
	}
}
