//go:build linux

package shmring_test

// Byte rings with real processes: messages of log-uniform lengths from 8
// bytes (the message's own number) to the ring's largest, checked byte by
// byte against the ledger (crash_test.go), on rings small enough to wrap
// thousands of times; the same children killed at every fault point; and
// the random-kill soak. Messages of 1 to 7 bytes cannot carry their number,
// so the in-process round trips of package ring cover those lengths.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmring/shmring/internal/faultinject"
	"github.com/shmring/shmring/ring"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	byteRingCap = 16 << 10 // the tests' byte rings: 16 KiB of data
	byteRingMax = 4 << 10  // and their largest message, a quarter of it
)

func byteRing(t *testing.T, kind ring.Kind) *ring.Ring {
	t.Helper()
	r, err := ring.Anonymous(ring.Config{Kind: kind, Capacity: byteRingCap, SlotSize: byteRingMax})
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// TestBytesAcrossProcesses: an SPSCBytes ring between a producer and a
// consumer process, and an MPSCBytes ring with three producer processes
// (one writing in place with Reserve/Commit/Abort, one pushing batches)
// and one consumer: every message arrives once, intact, in its producer's
// order, and the consumer sees io.EOF after Shutdown.
func TestBytesAcrossProcesses(t *testing.T) {
	per := crashCount(30_000)
	for _, kind := range []ring.Kind{ring.SPSCBytes, ring.MPSCBytes} {
		t.Run(kind.String(), func(t *testing.T) {
			start := time.Now()
			cr := &crashRun{t: t, ctx: testContext(t, testTimeout()), r: byteRing(t, kind)}
			cr.lg = newLedger(t, 1024, 4*(per/1024+2), 4, 1)
			cr.lg.varSizes(byteRingMax)
			cons := cr.start("crash-consumer", false, "slot=0", "batch=16")
			producers := 1
			if kind == ring.MPSCBytes {
				producers = 3
			}
			fates := map[int]producerFate{}
			var prods []*child
			for id := 0; id < producers; id++ {
				batch, reserve := 1, 0
				switch id {
				case 0:
					reserve = 1
				case 2:
					batch = 16
				}
				fates[id] = producerFate{batch: batch}
				prods = append(prods, cr.start("crash-producer", false, arg("id", id), arg("n", per), arg("batch", batch), arg("reserve", reserve)))
			}
			for _, p := range prods {
				rep, end := ended(t, p)
				require.Equal(t, "done", end, "%s", p)
				assert.Equal(t, per, rep.int(t, "pushed"))
			}
			require.NoError(t, cr.r.Shutdown())
			rep, end := ended(t, cons)
			require.Equal(t, "eof", end)
			assert.Equal(t, producers*per, rep.int(t, "received"))
			res := cr.lg.tally(t, fates)
			assert.Zero(t, res.lost)
			assert.Zero(t, res.duplicated)
			assert.Equal(t, producers*per, res.distinct)
			st := cr.r.Stats()
			t.Logf("%v; the ring wrapped %d times; %v", res, st.Tail/(byteRingCap/8), time.Since(start).Round(time.Millisecond))
			assert.Zero(t, st.BytesUsed)
		})
	}
}

// TestBytesCrashAtEveryPoint: SPSCBytes with the producer killed at each
// of its points (single pushes, batches, and in place between Reserve and
// Commit) and a successor taking the role over, or the consumer killed and
// a successor resuming; MPSCBytes with two of three producer processes
// killed at each point of the claim and commit, or its consumer killed
// after it marked a record consumed (before the wipe) and after the copy.
// Nothing stalls, nothing arrives twice, and nothing is lost but a dead
// producer's in-flight message or, for a consumer killed inside Pop after
// marking, the message it was returning.
func TestBytesCrashAtEveryPoint(t *testing.T) {
	per := crashCount(6_000)
	t.Run("spsc-bytes", func(t *testing.T) {
		for _, tc := range []crashCase{
			{point: faultinject.AfterCopy, producer: true, batch: 1},
			{point: faultinject.BeforePublish, producer: true, batch: 1},
			{point: faultinject.BeforePublish, producer: true, batch: 8},
			{point: faultinject.AfterCopy, producer: true, batch: 1, reserve: true},
			{point: faultinject.AfterConsume, batch: 1},
			{point: faultinject.AfterConsume, batch: 8},
		} {
			t.Run(tc.String(), func(t *testing.T) { crashSPSC(t, tc, per, byteRing(t, ring.SPSCBytes), byteRingMax) })
		}
	})
	t.Run("mpsc-bytes", func(t *testing.T) {
		var cases []crashCase
		for _, p := range []faultinject.Point{faultinject.AfterClaimCAS, faultinject.AfterClaim, faultinject.AfterCopy, faultinject.BeforePublish} {
			cases = append(cases, crashCase{point: p, producer: true, batch: 1}, crashCase{point: p, producer: true, batch: 8})
		}
		cases = append(cases, crashCase{point: faultinject.AfterCopy, producer: true, batch: 1, reserve: true})
		for _, p := range []faultinject.Point{faultinject.AfterRead, faultinject.AfterConsume} {
			cases = append(cases, crashCase{point: p, batch: 1}, crashCase{point: p, batch: 8})
		}
		for _, tc := range cases {
			t.Run(tc.String(), func(t *testing.T) { crashMPSC(t, tc, per) })
		}
	})
}

// crashMPSC: three producer processes and one consumer process on an
// MPSCBytes ring. Producer victims: two producers die at tc.point, one
// early and one later, and a replacement with a fresh id starts for each.
// Consumer victim: the consumer dies at tc.point and a successor resumes.
func crashMPSC(t *testing.T, tc crashCase, per int) {
	start := time.Now()
	const producers = 3
	cr := &crashRun{t: t, ctx: testContext(t, testTimeout()), r: byteRing(t, ring.MPSCBytes)}
	cr.lg = newLedger(t, 1024, 6*(per/1024+2), 8, 2)
	cr.lg.varSizes(byteRingMax)
	fates := map[int]producerFate{}
	var prods []*child
	startProducer := func(id int, arm string) *child {
		victim := arm != ""
		b := 1 + 3*(id%2)
		if victim {
			b = tc.batch
		}
		reserve := tc.reserve && tc.producer
		if reserve {
			b = 1
		}
		fates[id] = producerFate{killed: victim, batch: b}
		// When the consumer dies, the producers wait for its successor
		// (else a Push on the full ring returns ErrPeerDead).
		c := cr.start("crash-producer", victim, arg("id", id), arg("n", per), arg("batch", b), arg("arm", arm),
			arg("reserve", b2i(reserve)), arg("waitpeer", b2i(!tc.producer)))
		prods = append(prods, c)
		return c
	}
	var cons *child
	var victims []*child
	if tc.producer {
		cons = cr.start("crash-consumer", false, "slot=0", "batch=4")
		for i, k := range []int{per / 10, per / 3} {
			victims = append(victims, startProducer(i, fmt.Sprintf("%s:%d", tc.point, k)))
		}
		startProducer(2, "")
		for i, v := range victims {
			cr.killedItself(v)
			startProducer(producers+i, "")
		}
	} else {
		for i := 0; i < producers; i++ {
			startProducer(i, "")
		}
		v := cr.start("crash-consumer", true, "slot=0", arg("batch", tc.batch), arg("arm", fmt.Sprintf("%s:%d", tc.point, per/(2*tc.batch))))
		victims = append(victims, v)
		cr.killedItself(v)
		cons = cr.start("crash-consumer", false, "slot=1", arg("batch", tc.batch))
	}
	for _, p := range prods {
		if fates[pidOf(p)].killed {
			continue
		}
		rep, end := ended(t, p)
		assert.Equal(t, "done", end, "%s", p)
		assert.Equal(t, per, rep.int(t, "pushed"), "%s", p)
	}
	require.NoError(t, cr.r.Shutdown())
	_, end := ended(t, cons)
	assert.Equal(t, "eof", end)
	res := cr.lg.tally(t, fates)
	t.Logf("%v; %v", res, time.Since(start).Round(time.Millisecond))
	for _, e := range res.examples {
		t.Log(e)
	}
	assert.Zero(t, res.duplicated, "no message may arrive twice")
	if tc.producer {
		assert.Zero(t, res.lost, "every published message arrives")
		assert.LessOrEqual(t, res.inFlight, len(victims), "one in-flight message per killed producer")
	} else {
		assert.LessOrEqual(t, res.lost, 1, "at most the message the killed consumer was returning")
		assert.Zero(t, res.inFlight)
	}
	assert.Zero(t, cr.r.Stats().BytesUsed, "every record consumed or recovered")
}

// TestBytesRandomKillSoak: the soak of crash_test.go on byte rings.
// MPSCBytes: four producer processes (every other one pushing from three
// goroutines on one handle, every other pair in batches of 16 or in place)
// and one consumer; SPSCBytes: one producer and one consumer. The test
// SIGKILLs a child picked with a seeded PRNG every 50-150 ms and starts a
// replacement, until SHMRING_SOAK_MESSAGES messages (a fifth of the MPMC
// soak's by default: the messages are up to 4 KiB) are acknowledged and
// enough children died. Lengths are log-uniform from 8 bytes to 4 KiB on
// a 16 KiB ring. Same bookkeeping and assertions as the MPMC soak.
//
//	SHMRING_SOAK_MESSAGES=10000000 go test -count=1 -run TestBytesRandomKillSoak -v -timeout 60m .
func TestBytesRandomKillSoak(t *testing.T) {
	for _, kind := range []ring.Kind{ring.SPSCBytes, ring.MPSCBytes} {
		t.Run(kind.String(), func(t *testing.T) { bytesSoak(t, kind) })
	}
}

func bytesSoak(t *testing.T, kind ring.Kind) {
	start := time.Now()
	n := soakMessages(t) / 5
	if testing.Short() {
		n /= 2
	}
	minKills := 12
	if raceEnabled || testing.Short() {
		minKills = 6
	}
	stallAfter := 15 * time.Second
	if raceEnabled {
		stallAfter = 45 * time.Second
	}
	const rangeSize, maxIDs = 4096, 4096
	producers := 4
	if kind == ring.SPSCBytes {
		producers = 1
	}
	ranges := (n+n/4)/rangeSize + (1<<24)/rangeSize
	cr := &crashRun{t: t, ctx: testContext(t, testTimeout()+time.Duration(n/50_000)*time.Second), r: byteRing(t, kind)}
	cr.lg = newLedger(t, rangeSize, ranges, maxIDs, maxIDs)
	cr.lg.varSizes(byteRingMax)
	rng := rand.New(rand.NewPCG(1, 0xb17e))

	var live []*soakProc
	nextProducer, nextConsumer, producerProcs := 0, 0, 0
	fates := map[int]producerFate{}
	spawn := func(producer bool) {
		p := &soakProc{producer: producer, goroutines: 1}
		if producer {
			b, reserve := 1, 0
			if kind == ring.MPSCBytes {
				p.goroutines = 1 + 2*(producerProcs%2)
			}
			switch producerProcs / 2 % 3 {
			case 1:
				b = 16
			case 2:
				if p.goroutines == 1 { // one reservation per handle at a time
					reserve = 1
				}
			}
			producerProcs++
			p.id, nextProducer = nextProducer, nextProducer+p.goroutines
			for i := 0; i < p.goroutines; i++ {
				fates[p.id+i] = producerFate{batch: b}
			}
			// Every side waits for a killed peer's successor (waitpeer).
			p.c = cr.start("crash-producer", false, arg("id", p.id), arg("batch", b), arg("goroutines", p.goroutines), arg("reserve", reserve), "waitpeer=1")
		} else {
			p.id, nextConsumer = nextConsumer, nextConsumer+1
			batch := 1 + 15*(p.id%2)
			if kind == ring.SPSCBytes {
				batch = 1 // an SPSC consumer killed inside PopFunc hands its successor the batch again
			}
			p.c = cr.start("crash-consumer", false, arg("slot", p.id), arg("batch", batch), "waitpeer=1")
		}
		live = append(live, p)
	}
	spawn(false)
	for i := 0; i < producers; i++ {
		spawn(true)
	}
	var acked, received uint64
	progress := func() uint64 {
		acked, received = 0, 0
		for id := 0; id < nextProducer; id++ {
			acked += atomic.LoadUint64(cr.lg.acked(id))
		}
		for s := 0; s < nextConsumer; s++ {
			received += atomic.LoadUint64(cr.lg.received(s))
		}
		return acked + received
	}
	last, lastMoved := progress(), time.Now()
	var longest time.Duration
	watch := func(phase string) {
		now := time.Now()
		if p := progress(); p != last {
			longest = max(longest, now.Sub(lastMoved))
			last, lastMoved = p, now
			return
		}
		if stalled := now.Sub(lastMoved); stalled > stallAfter {
			var who []string
			for _, p := range live {
				who = append(who, p.c.String())
			}
			t.Fatalf("STALL while %s: nothing acknowledged or received for %v (acked %d, received %d)\nstats %+v\nlive: %s",
				phase, stalled.Round(time.Millisecond), acked, received, cr.r.Stats(), strings.Join(who, ", "))
		}
		if err := cr.ctx.Err(); err != nil {
			t.Fatalf("the test's context ended while %s: %v", phase, why(cr.ctx))
		}
	}
	killsP, killsC, killedIDs := 0, 0, 0
	nextKill := time.Now()
	for {
		watch("producing")
		if progress(); acked >= uint64(n) && killsP+killsC >= minKills {
			break
		}
		if cr.lg.rangesTaken() == cr.lg.ranges {
			t.Logf("the ledger ran out of numbers after %d kills", killsP+killsC)
			break
		}
		if time.Now().Before(nextKill) {
			time.Sleep(5 * time.Millisecond) // pacing of the supervisor's looks
			continue
		}
		nextKill = time.Now().Add(time.Duration(50+rng.IntN(101)) * time.Millisecond)
		i := rng.IntN(len(live))
		v := live[i]
		live = append(live[:i], live[i+1:]...)
		v.c.kill()
		if v.producer {
			killsP++
			killedIDs += v.goroutines
			for i := 0; i < v.goroutines; i++ {
				fates[v.id+i] = producerFate{killed: true, batch: fates[v.id+i].batch}
			}
		} else {
			killsC++
		}
		spawn(v.producer)
	}
	cr.lg.stop()
	for _, p := range live {
		if !p.producer {
			continue
		}
		for waiting := true; waiting; {
			select {
			case <-p.c.done:
				waiting = false
			case <-time.After(10 * time.Millisecond):
				watch("producers finish")
			}
		}
		_, end := ended(t, p.c)
		assert.Equal(t, "done", end, "%s", p.c)
	}
	require.NoError(t, cr.r.Shutdown())
	for _, p := range live {
		if p.producer {
			continue
		}
		for waiting := true; waiting; {
			select {
			case <-p.c.done:
				waiting = false
			case <-time.After(10 * time.Millisecond):
				watch("consumer drains")
			}
		}
		_, end := ended(t, p.c)
		assert.Equal(t, "eof", end, "%s", p.c)
	}
	elapsed := time.Since(start)
	res := cr.lg.tally(t, fates)
	for _, e := range res.examples {
		t.Log(e)
	}
	st := cr.r.Stats()
	t.Logf("SOAK %s messages=%d received=%d kills=%d (producers %d, consumers %d) stalls=0 lost=%d in-flight-lost=%d duplicated=%d longest-pause=%v wraps=%d time=%v",
		kind, res.acked, res.received, killsP+killsC, killsP, killsC, res.lost, res.inFlight, res.duplicated,
		longest.Round(time.Millisecond), st.Tail/(byteRingCap/8), elapsed.Round(time.Millisecond))
	assert.GreaterOrEqual(t, res.acked, n, "messages acknowledged")
	assert.Zero(t, res.duplicated, "no message may arrive twice")
	assert.LessOrEqual(t, res.lost, killsC, "at most one message lost per killed consumer")
	assert.LessOrEqual(t, res.inFlight, killedIDs, "at most one in-flight message per goroutine of a killed producer")
	assert.Zero(t, st.BytesUsed, "drained")
}
