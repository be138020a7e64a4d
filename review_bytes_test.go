//go:build linux

package shmring_test

// Adversarial review of the byte rings with real processes.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/shmring/shmring/internal/faultinject"
	"github.com/shmring/shmring/ring"
	"github.com/stretchr/testify/require"
)

func init() {
	helpers["review-stale-producer"] = helperReviewStaleProducer
	helpers["review-claim-and-die"] = helperReviewClaimAndDie
}

const reviewPMagic = 0x5050505050505050 // "PPPPPPPP": the first word of the stale producer's messages

// helperReviewStaleProducer pushes 16-byte messages (reviewPMagic, seq)
// as fast as it can until the ring is shut down, then reports pushed=N.
func helperReviewStaleProducer(a args) int {
	r, code := openRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	msg := make([]byte, 16)
	binary.LittleEndian.PutUint64(msg, reviewPMagic)
	report("ready", 1)
	var seq uint64
	for {
		binary.LittleEndian.PutUint64(msg[8:], seq)
		err := r.TryPush(msg)
		switch {
		case err == nil:
			seq++
		case errors.Is(err, ring.ErrFull):
		case errors.Is(err, ring.ErrClosed):
			report("pushed", seq)
			return exitOK
		default:
			return failf("push %d: %v", seq, err)
		}
	}
}

// reviewWaitStopped waits until every thread of pid is stopped.
func reviewWaitStopped(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := len(tasks) > 0
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				stopped = false
				break
			}
			s := string(b)
			i := strings.LastIndexByte(s, ')')
			if i < 0 || i+2 >= len(s) || (s[i+2] != 'T' && s[i+2] != 't') {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
		time.Sleep(20 * time.Microsecond)
	}
	t.Fatalf("pid %d did not stop", pid)
}

// Finding 1, with real processes and no memory written by hand: a producer
// process P is stopped (SIGSTOP: a slow producer, as a preempted one is) at
// random moments while it pushes; while it is stopped another producer
// (this process, on its own handle) sends messages of ordinary bytes that
// happen to be the word FREE(k-1) (state 4, length k-1: data any program
// may send) over a lap of the ring, and P is continued. When P was stopped
// between its load of tail and its load of the header there, it claims
// inside one of those messages: that message arrives corrupted and P's own,
// for which Push returned nil, never arrives.
func TestReviewStalledProducerClaimsInsidePayload(t *testing.T) {
	if testing.Short() {
		t.Skip("a few thousand stops of a process")
	}
	const capacity, units = 4096, 512
	ctx := testContext(t, 3*time.Minute)
	r, err := ring.Anonymous(ring.Config{Kind: ring.MPSCBytes, Capacity: capacity, SlotSize: 1024})
	require.NoError(t, err)
	defer r.Close()
	mem := r.Region().Bytes()
	filler, err := ring.Attach(mem)
	require.NoError(t, err)
	defer filler.Close()

	c := newChild(ctx, t, "review-stale-producer", "ring=inherit:ring")
	require.NoError(t, r.Share(c.cmd, "ring"))
	c.cmd.Env = append(c.cmd.Env, "GOMAXPROCS=1")
	c.start()
	c.await("ready", nil)
	pid := c.pid()
	defer syscall.Kill(pid, syscall.SIGCONT)

	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 1024)
	var nextSeq, fillWord uint64
	var problems []string
	check := func(m []byte) {
		if len(m) == 16 && binary.LittleEndian.Uint64(m) == reviewPMagic {
			if seq := binary.LittleEndian.Uint64(m[8:]); seq != nextSeq {
				problems = append(problems, fmt.Sprintf("P's messages %d to %d are missing (P's Push returned nil for them)", nextSeq, seq-1))
				nextSeq = seq
			}
			nextSeq++
			return
		}
		for i := 0; i+8 <= len(m); i += 8 {
			if w := binary.LittleEndian.Uint64(m[i:]); w != fillWord {
				problems = append(problems, fmt.Sprintf("a %d-byte message of words %#x arrived with %#x at byte %d", len(m), fillWord, w, i))
				return
			}
		}
	}
	pop := func() error {
		n, err := r.TryPop(buf)
		if err == nil {
			check(buf[:n])
		}
		return err
	}
	fill := func(n int) {
		m := buf[:n]
		for i := 0; i < n; i += 8 {
			binary.LittleEndian.PutUint64(m[i:], fillWord)
		}
		require.NoError(t, filler.TryPush(m))
	}
	size, err := ring.Size(r.Config())
	require.NoError(t, err)
	dataOff := uint64(size - capacity) // the data area ends the ring
	word := func(u uint64) uint64 { return *(*uint64)(unsafe.Pointer(&mem[dataOff+(u%units)*8])) }

	trials, armed, holding := 0, 0, 0
	for ; trials < 2000 && len(problems) == 0; trials++ {
		for end := time.Now().Add(time.Duration(20+rng.IntN(200)) * time.Microsecond); time.Now().Before(end); {
			_ = pop()
		}
		require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
		reviewWaitStopped(t, pid)
		for pop() == nil {
		}
		if r.Len() != 0 { // P was stopped holding a claim
			holding++
			require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
			continue
		}
		t0 := r.Stats().Head // where P's next claim goes: P may hold it in a register
		fillWord = 4<<32 | uint64(uint32(t0/units)-1)
		for r.Stats().Head < t0+300 {
			fill(512 + 8*rng.IntN(64))
			require.NoError(t, pop())
		}
		for r.Stats().Tail < t0+units+8 {
			fill(512 + 8*rng.IntN(64))
		}
		if word(t0) == fillWord {
			armed++ // t0's unit is inside a queued message's payload
		}
		require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
		time.Sleep(200 * time.Microsecond)
	}
	require.NoError(t, r.Shutdown())
	for {
		if err := pop(); err != nil && err != ring.ErrEmpty {
			break
		}
	}
	rep := c.wait()
	t.Logf("%d trials: P stopped holding a claim in %d, its next claim's unit inside a message in %d; P pushed %s, %d arrived",
		trials, holding, armed, rep["pushed"], nextSeq)
	if len(problems) > 0 {
		t.Errorf("a producer stopped between its load of tail and its load of the header claimed inside another message:\n%s", strings.Join(problems, "\n"))
	}
}

// helperReviewClaimAndDie pushes one message on the ring and dies at the
// fault point arm=POINT (its first arrival there).
func helperReviewClaimAndDie(a args) int {
	p, err := faultinject.Parse(a.str("arm", ""))
	if err != nil || !faultinject.Enabled {
		return usagef("arm=%q: %v (faults build: %v)", a.str("arm", ""), err, faultinject.Enabled)
	}
	r, code := openRing(a)
	if r == nil {
		return code
	}
	faultinject.Arm(p, 1)
	err = r.TryPush([]byte("the victim's"))
	return failf("the push returned (%v) instead of dying at %s", err, p)
}

// Finding 8, with real processes: a producer process killed after its
// claim's tail CAS and before its header store (after-claim-cas), and its
// process record taken over by a new producer before the consumer came by
// (here because every other record is in use: 62 live handles; sweepDead
// frees a dead record as well when the victim had a goroutine asleep). The
// new owner's claim used to skip the wait for the dead claim's header (the
// tail names its own lane) and overwrite the lane's claim entry: the
// consumer could never recover the dead claim, and every pop failed with
// ErrCorrupt. Now only a claim of this very handle is exempt.
func TestReviewTakenOverLaneWedgesTheConsumer(t *testing.T) {
	ctx := testContext(t, time.Minute)
	r, err := ring.Anonymous(ring.Config{Kind: ring.MPSCBytes, Capacity: 64 << 10, SlotSize: 1024})
	require.NoError(t, err)
	defer r.Close()
	r.SetOptions(ring.Options{Grace: time.Millisecond})
	victim := newChild(ctx, t, "review-claim-and-die", "ring=inherit:ring", "arm=after-claim-cas")
	require.NoError(t, r.Share(victim.cmd, "ring"))
	victim.mayFail = true
	victim.start()
	<-victim.done
	require.True(t, killedBySIGKILL(victim.waitErr), "%s: %v\n%s", victim, victim.waitErr, victim.transcript())

	// Live producers on every other record but the consumer's (record 1).
	mem := r.Region().Bytes()
	var others []*ring.Ring
	defer func() {
		for _, o := range others {
			o.Close()
		}
	}()
	for i := 0; i < 62; i++ {
		o, err := ring.Attach(mem)
		require.NoError(t, err)
		others = append(others, o)
		err = o.TryPush([]byte("x")) // registers a lane; may wait for the victim's header: ErrFull
		require.True(t, err == nil || errors.Is(err, ring.ErrFull), "handle %d: %v", i, err)
	}
	n, err := ring.Attach(mem) // takes the victim's record over: the only one left
	require.NoError(t, err)
	defer n.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The new owner waits for the dead claim's header like every producer
	// (a TryPush says ErrFull for now), until the consumer recovers it.
	pushed := make(chan error, 1)
	go func() { pushed <- n.Push(pctx, []byte("from the new owner")) }()
	defer func() { require.NoError(t, <-pushed) }()
	buf := make([]byte, 1024)
	for {
		k, err := r.Pop(pctx, buf)
		require.NoError(t, err, "the consumer recovers the dead claim and delivers what is behind it")
		if string(buf[:k]) == "from the new owner" {
			return
		}
		require.Equal(t, "x", string(buf[:k]))
	}
}
