package ring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

// Format lays a ring on memory you already have (here a region from
// package shm); Attach validates it and returns another handle, as a second
// process would after mapping the same memory.
func ExampleFormat() {
	cfg := ring.Config{Kind: ring.SPSC, Capacity: 64, SlotSize: 128}
	size, err := ring.Size(cfg)
	if err != nil {
		log.Fatal(err)
	}
	region, err := shm.Anonymous(size)
	if err != nil {
		log.Fatal(err)
	}
	defer region.Close()

	producer, err := ring.Format(region.Bytes(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	consumer, err := ring.Attach(region.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := producer.TryPush([]byte("hello")); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, cfg.SlotSize)
	n, err := consumer.TryPop(buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %+v\n", buf[:n], consumer.Config())
	// Output: hello {Kind:spsc Capacity:64 SlotSize:128}
}

// Attach refuses memory that does not hold a ring, and says why.
func ExampleAttach() {
	mem := make([]byte, 8192)
	copy(mem, "definitely not a ring")
	_, err := ring.Attach(mem)
	fmt.Println(err)
	fmt.Println(errors.Is(err, ring.ErrIncompatible))
	// Output:
	// ring: magic 0x6574696e69666564 is not "SHMRING1"
	// true
}

// A Typed view moves fixed-size values with no encoding: the bytes of the
// struct are copied into the slot and out again.
func ExampleNewTyped() {
	type Tick struct {
		Seq   uint64
		Price float64
		Qty   int32
	}
	r, err := ring.Anonymous(ring.Config{Kind: ring.SPSC, Capacity: 1024, SlotSize: 64})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	ticks, err := ring.NewTyped[Tick](r)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := ticks.Push(ctx, Tick{Seq: 1, Price: 99.5, Qty: 10}); err != nil {
		log.Fatal(err)
	}
	t, err := ticks.Pop(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", t)
	// Output: {Seq:1 Price:99.5 Qty:10}
}

// Shutdown ends the stream: pushes fail, pops drain what is queued and then
// return io.EOF, in every process.
func ExampleRing_Shutdown() {
	r, err := ring.Anonymous(ring.Config{Kind: ring.MPMC, Capacity: 8, SlotSize: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for _, m := range []string{"one", "two"} {
		if err := r.TryPush([]byte(m)); err != nil {
			log.Fatal(err)
		}
	}
	r.Shutdown()
	fmt.Println(r.TryPush([]byte("three")))
	buf := make([]byte, 16)
	for {
		n, err := r.Pop(context.Background(), buf)
		if err == io.EOF {
			fmt.Println("EOF")
			break
		}
		fmt.Println(string(buf[:n]))
	}
	// Output:
	// ring: ring is shut down
	// one
	// two
	// EOF
}

// Batches publish once: TryPushBatch writes as many messages as fit, and
// PopFunc hands out views into the slots, released together afterwards.
func ExampleRing_PopFunc() {
	r, err := ring.Anonymous(ring.Config{Kind: ring.SPSC, Capacity: 4, SlotSize: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	n, err := r.TryPushBatch([][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e")})
	fmt.Println(n, err)
	got, err := r.PopFunc(context.Background(), 10, func(msg []byte) { fmt.Print(string(msg), " ") })
	fmt.Println(got, err)
	// Output:
	// 4 ring: ring is full
	// a b c d 4 <nil>
}

// Create makes a ring in a file; Open attaches to it by name from any
// process. A bare name means a file in /dev/shm.
func ExampleCreate() {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("example-ring-%d", os.Getpid()))
	r, err := ring.Create(path, ring.Config{Kind: ring.MPMC, Capacity: 16, SlotSize: 32})
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(path)
	defer r.Close()
	r.TryPush([]byte("from the creator"))

	other, err := ring.Open(path) // as another process would
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()
	buf := make([]byte, 32)
	n, _ := other.TryPop(buf)
	fmt.Println(string(buf[:n]), other.Len())
	// Output: from the creator 0
}

// Stats reads the shared state without touching it: inspectors may use a
// read-only mapping.
func ExampleRing_Stats() {
	r, err := ring.Anonymous(ring.Config{Kind: ring.SPSC, Capacity: 8, SlotSize: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	r.TryPush([]byte("x"))
	r.TryPush([]byte("y"))
	s := r.Stats()
	fmt.Println(s.Kind, s.Capacity, s.Len, s.Tail, s.Head, len(s.Processes), s.Processes[0].Produces)
	// Output: spsc 8 2 2 0 1 true
}

// Anonymous rings have no name: hand them to child processes with Share;
// the child attaches with Inherit.
func ExampleAnonymous() {
	r, err := ring.Anonymous(ring.Config{Kind: ring.SPSC, Capacity: 256, SlotSize: 512})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("/proc/self/exe", "-child") // your worker program
	if err := r.Share(cmd, "jobs"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(cmd.Env[len(cmd.Env)-1])
	// In the child: jobs, err := ring.Inherit("jobs")

	// Output: SHMRING_FD_jobs=3
}

// TryPush and TryPop never wait: a full ring says ErrFull, an empty one
// ErrEmpty, and a buffer too short says how long the message is, leaving
// it in the ring.
func ExampleRing_TryPush() {
	r, err := ring.Anonymous(ring.Config{Kind: ring.SPSC, Capacity: 2, SlotSize: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.TryPush([]byte("first")), r.TryPush([]byte("second")))
	fmt.Println(r.TryPush([]byte("third")))
	n, err := r.TryPop(make([]byte, 2))
	fmt.Println(n, err)
	buf := make([]byte, 16)
	n, _ = r.TryPop(buf)
	fmt.Println(string(buf[:n]), r.Len())
	// Output:
	// <nil> <nil>
	// ring: ring is full
	// 5 short buffer
	// first 1
}

// Pop waits for a message until its context ends.
func ExampleRing_Pop() {
	r, err := ring.Anonymous(ring.Config{Kind: ring.MPMC, Capacity: 8, SlotSize: 16})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	go r.Push(context.Background(), []byte("later"))
	buf := make([]byte, 16)
	n, err := r.Pop(context.Background(), buf)
	fmt.Println(string(buf[:n]), err)

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err = r.Pop(ctx, buf) // nothing more comes
	fmt.Println(err)
	// Output:
	// later <nil>
	// context deadline exceeded
}

// Size says how much memory a configuration needs, before making anything.
func ExampleSize() {
	for _, cfg := range []ring.Config{
		{Kind: ring.SPSC, Capacity: 1024, SlotSize: 8},
		{Kind: ring.SPSC, Capacity: 1024, SlotSize: 1000},
		{Kind: ring.MPMC, Capacity: 1 << 16, SlotSize: 64},
	} {
		n, err := ring.Size(cfg)
		fmt.Println(n, err)
	}
	_, err := ring.Size(ring.Config{Kind: ring.MPMC, Capacity: 1000, SlotSize: 64})
	fmt.Println(err)
	// Output:
	// 16384 <nil>
	// 1032192 <nil>
	// 8392704 <nil>
	// ring: capacity 1000 is not a power of two
}

// OpenReadOnly is for inspectors: it maps the file read-only and the handle
// refuses to push or pop.
func ExampleOpenReadOnly() {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("example-ro-%d", os.Getpid()))
	r, err := ring.Create(path, ring.Config{Kind: ring.MPMC, Capacity: 8, SlotSize: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer shm.Remove(path)
	defer r.Close()
	r.TryPush([]byte("a"))

	ro, err := ring.OpenReadOnly(path)
	if err != nil {
		log.Fatal(err)
	}
	defer ro.Close()
	fmt.Printf("%+v\n", ro.SlotStates())
	fmt.Println(ro.TryPush([]byte("b")))
	// Output:
	// {Free:7 Full:1 Writing:0 Reading:0 Abandoned:0 Stuck:0 Corrupt:0}
	// ring: handle is read-only
}

// SetOptions changes how this process waits: WaitSpin never sleeps (the
// lowest latency, a core per waiter), WaitForPeer outlives a dead SPSC peer.
func ExampleRing_SetOptions() {
	r, err := ring.Anonymous(ring.Config{Kind: ring.SPSC, Capacity: 64, SlotSize: 64})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	r.SetOptions(ring.Options{Wait: ring.WaitSpin, WaitForPeer: true})
	fmt.Printf("%+v\n", r.Options())
	// Output: {Wait:1 WaitForPeer:true Grace:20ms}
}

// TryPushBatch writes as many messages as fit and publishes them together.
func ExampleRing_TryPushBatch() {
	r, err := ring.Anonymous(ring.Config{Kind: ring.SPSC, Capacity: 4, SlotSize: 4})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	n, err := r.TryPushBatch([][]byte{[]byte("ab"), []byte("toolong"), []byte("cd")})
	fmt.Println(n, err)
	// Output: 1 ring: message of 7 bytes exceeds the slot size 4
}

// Reserve hands out room in the ring to build a message in place, here by
// appending to the view (within its capacity, so in place); Commit
// publishes what was written, which may be shorter than the reservation:
// on a byte ring the record is as long as the message. PopFunc reads it
// where it lies: no copy on either side. Abort gives a reservation back
// unseen.
func ExampleRing_Reserve() {
	r, err := ring.Anonymous(ring.Config{Kind: ring.SPSCBytes, Capacity: 4096})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()

	view, err := r.Reserve(ctx, 256) // waits for room, like Push
	if err != nil {
		log.Fatal(err)
	}
	msg := strconv.AppendInt(append(view[:0], "order #"...), 1234, 10)
	if err := r.Commit(len(msg)); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(view), len(msg), r.Stats().BytesUsed) // 8 bytes of header and 11 of message, rounded up to 8

	view, err = r.TryReserve(16)
	if err != nil {
		log.Fatal(err)
	}
	copy(view, "never sent")
	fmt.Println(r.Abort(), r.Len())

	_, err = r.PopFunc(ctx, 10, func(m []byte) { fmt.Printf("%q\n", m) })
	fmt.Println(err)
	// Output:
	// 256 11 24
	// <nil> 1
	// "order #1234"
	// <nil>
}

// A byte ring (SPSCBytes, or MPSCBytes for many producers) carries messages
// of any length up to its largest, by default a quarter of its data area
// of Capacity bytes: each takes its length and an 8-byte header, rounded up
// to 8, rather than a slot sized for the largest. PopFunc hands out views
// into the data area: zero copies.
func Example_byteRing() {
	r, err := ring.Anonymous(ring.Config{Kind: ring.MPSCBytes, Capacity: 64 << 10})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	cfg := r.Config()
	fmt.Println(cfg.Kind, cfg.Capacity, cfg.SlotSize)

	for i, n := range []int{1, 100, 5000, 16384} {
		if err := r.TryPush(bytes.Repeat([]byte{'a' + byte(i)}, n)); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(errors.Is(r.TryPush(make([]byte, 16385)), ring.ErrTooLarge))
	st := r.Stats()
	fmt.Println(st.Len, st.BytesUsed, st.BytesFree)

	n, err := r.PopFunc(context.Background(), 10, func(msg []byte) {
		fmt.Printf("%d bytes of %c\n", len(msg), msg[0]) // msg is valid until fn returns: copy what you keep
	})
	fmt.Println(n, err, r.Stats().BytesUsed)
	// Output:
	// mpsc-bytes 65536 16384
	// true
	// 4 21528 44008
	// 1 bytes of a
	// 100 bytes of b
	// 5000 bytes of c
	// 16384 bytes of d
	// 4 <nil> 0
}
