package ring_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
)

// closeReps is how many times each Close race runs.
func closeReps() int {
	if testing.Short() || raceEnabled {
		return 24
	}
	return 100
}

// endedByClose checks an operation's result once Close has been called:
// it completed, or it says use of a closed handle, and nothing else.
func endedByClose(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, os.ErrClosed) {
		t.Errorf("%s: %v, want nil or an error matching os.ErrClosed", what, err)
	}
	if errors.Is(err, os.ErrClosed) && errors.Is(err, ring.ErrClosed) {
		t.Errorf("%s: %v says the ring was shut down; only the handle was closed", what, err)
	}
}

// Close while other goroutines are inside every kind of operation, some
// asleep, some running: they all return, with nil or os.ErrClosed, and the
// mapping goes only after them (a fault here would kill the test binary).
func TestCloseWhileInFlight(t *testing.T) {
	forAllKinds(t, func(t *testing.T, kind ring.Kind) {
		for rep := 0; rep < closeReps(); rep++ {
			r, err := ring.Anonymous(cfgFor(kind, 8, 32))
			require.NoError(t, err)
			ctx := context.Background()
			var wg sync.WaitGroup
			run := func(what string, op func() error) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						if err := op(); err != nil {
							endedByClose(t, what, err)
							return
						}
					}
				}()
			}
			msg := []byte("a message of some bytes")
			// One goroutine per side on SPSC; several on MPMC.
			run("Push", func() error { return r.Push(ctx, msg) })
			run("Pop", func() error { _, err := r.Pop(ctx, make([]byte, 32)); return err })
			if kind == ring.MPMC {
				run("PushBatch", func() error { _, err := r.PushBatch(ctx, [][]byte{msg, msg[:3]}); return err })
				run("PopFunc", func() error { _, err := r.PopFunc(ctx, 4, func([]byte) {}); return err })
				run("TryPush", func() error {
					if err := r.TryPush(msg); err != ring.ErrFull {
						return err
					}
					return nil
				})
				run("Len", func() error {
					if r.Len() < 0 || r.IsShutdown() {
						return errors.New("impossible")
					}
					if r.Stats().Size == 0 {
						return os.ErrClosed // Stats of a closed handle: the configuration alone
					}
					return nil
				})
			}
			// Close at a random moment: at once, after some traffic, or
			// once someone sleeps.
			switch rep % 3 {
			case 1:
				for i := 0; i < rand.IntN(2000); i++ {
					_ = r.Len()
				}
			case 2:
				waitFor(func() bool { s := r.Stats(); return s.ConsumersWaiting+s.ProducersWaiting > 0 || r.Len() == 8 })
			}
			require.NoError(t, r.Close())
			wg.Wait()
			assert.Nil(t, r.Region().Bytes(), "unmapped once nothing is in flight")
			require.NoError(t, r.Close(), "a second Close returns nil")
		}
	})
}

// Close while a goroutine sleeps in Pop on an empty ring and another in
// Push on a full one (two handles, so that both sides can block): the
// sleepers wake and return os.ErrClosed.
func TestCloseWakesSleepers(t *testing.T) {
	forAllKinds(t, func(t *testing.T, kind ring.Kind) {
		for rep := 0; rep < closeReps()/4; rep++ {
			empty, err := ring.Anonymous(cfgFor(kind, 2, 8))
			require.NoError(t, err)
			full, err := ring.Anonymous(cfgFor(kind, 2, 8))
			require.NoError(t, err)
			for full.TryPush([]byte{1}) == nil {
			}
			ctx := context.Background()
			errs := make(chan error, 2)
			go func() { _, err := empty.Pop(ctx, make([]byte, 8)); errs <- err }()
			go func() { errs <- full.Push(ctx, []byte{3}) }()
			waitFor(func() bool {
				return empty.Stats().ConsumersWaiting > 0 && full.Stats().ProducersWaiting > 0
			})
			require.NoError(t, empty.Close())
			require.NoError(t, full.Close())
			for i := 0; i < 2; i++ {
				err := <-errs
				assert.ErrorIs(t, err, os.ErrClosed)
				assert.NotErrorIs(t, err, ring.ErrClosed)
			}
		}
	})
}

// Close from inside PopFunc's fn: the pop finishes the messages fn
// accepted, returns, and the close completes then (the mapping fn is
// reading must outlive fn).
func TestCloseInsideFn(t *testing.T) {
	forAllKinds(t, func(t *testing.T, kind ring.Kind) {
		r, err := ring.Anonymous(cfgFor(kind, 8, 8))
		require.NoError(t, err)
		for i := 0; i < 5; i++ {
			require.NoError(t, r.TryPush([]byte{byte(i)}))
		}
		var seen []byte
		n, err := r.PopFunc(context.Background(), 5, func(m []byte) {
			if len(seen) == 1 {
				require.NoError(t, r.Close())
				assert.NotNil(t, r.Region().Bytes(), "still mapped while fn runs")
			}
			seen = append(seen, m[0]) // m is still readable
		})
		require.NoError(t, err)
		assert.Equal(t, 2, n, "stops after the message during which Close was called")
		assert.Equal(t, []byte{0, 1}, seen)
		assert.Nil(t, r.Region().Bytes(), "unmapped when PopFunc returned")
		_, err = r.TryPop(make([]byte, 8))
		assert.ErrorIs(t, err, os.ErrClosed)
	})
}

// A consumer fn that refuses a message leaves it in the ring, first in
// line (SPSC), or queued again (MPMC): nothing is lost.
func TestConsumeRefusal(t *testing.T) {
	forAllKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 8, 8)
		for i := 0; i < 4; i++ {
			require.NoError(t, r.TryPush([]byte{byte(i)}))
		}
		refuse := errors.New("stdout is full")
		var took []byte
		n, err := r.TryConsume(8, func(m []byte) error {
			if m[0] == 2 {
				return refuse
			}
			took = append(took, m[0])
			return nil
		})
		assert.ErrorIs(t, err, refuse)
		assert.Equal(t, 2, n)
		assert.Equal(t, []byte{0, 1}, took)
		assert.Equal(t, 2, r.Len(), "the refused message and the one after it are still queued")
		var rest []byte
		_, err = r.TryPopFunc(8, func(m []byte) { rest = append(rest, m[0]) })
		require.NoError(t, err)
		assert.ElementsMatch(t, []byte{2, 3}, rest)
		if kind == ring.SPSC {
			assert.Equal(t, []byte{2, 3}, rest, "in order")
		}
	})
}

// Capacity is exact: after filling the ring, one pop lets one push in.
func TestCapacityExact(t *testing.T) {
	forAllKinds(t, func(t *testing.T, kind ring.Kind) {
		r := newRing(t, kind, 64, 8)
		for i := 0; i < 64; i++ {
			require.NoError(t, r.TryPush([]byte{byte(i)}))
		}
		assert.ErrorIs(t, r.TryPush([]byte{0}), ring.ErrFull)
		for i := 0; i < 200; i++ {
			_, err := r.TryPop(make([]byte, 8))
			require.NoError(t, err)
			require.NoError(t, r.TryPush([]byte{byte(i)}), "the slot one pop freed is free at once")
			assert.ErrorIs(t, r.TryPush([]byte{0}), ring.ErrFull)
		}
	})
}
