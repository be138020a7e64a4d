// Command producer pushes numbered, checksummed messages into a shmring ring,
// for examples/consumer to check. It prints a one-line summary with its rate.
//
// Two programs, one ring file in /dev/shm:
//
//	consumer -ring demo -expect 1000000                # terminal 1: waits for /dev/shm/demo
//	producer -ring demo -create -n 1000000 -remove     # terminal 2
//
// One command: the producer makes an anonymous ring (no file anywhere) and
// starts its consumers itself, handing them the ring across exec:
//
//	producer -spawn 1 -consumer ./consumer -n 1000000
//	producer -spawn 3 -consumer ./consumer -kind mpmc -n 1000000
//
// # Flags
//
// -ring PATH opens a ring file (a bare name means /dev/shm/NAME), or with
// -create makes it (-kind, -capacity, -slot). -inherit NAME attaches to a
// ring the parent passed with ring.Ring.Share. -spawn N makes an anonymous
// ring and starts N processes of the -consumer program on it.
//
// Each message is -size bytes (at least the 24-byte header of
// examples/internal/message): producer id (-id), sequence number 0, 1, ...,
// length and checksum, then a payload derived from both numbers. After -n
// messages the producer shuts the ring down, so that consumers get io.EOF
// once they have drained it. Several producers sharing an MPMC ring (each
// with its own -id) run with -shutdown=false, since one producer's shutdown
// would end the others' pushes; their consumers stop after a count instead
// (consumer -n). If the consumers make no room for -timeout, the producer
// gives up.
//
// # Lifecycle
//
// Ctrl-C or SIGTERM stops the producer at once; it shuts the ring down, so
// consumers drain what is queued, get io.EOF and print their summaries.
//
// A ring file the producer made with -create outlives a successful run by
// default: consumers that have not opened it yet can still drain it
// (remove it with rm, or shmring rm). With -remove the producer waits, after
// shutting the ring down, until its consumers are done (the ring is empty
// and no live consumer is attached; at most -timeout) and removes it. An
// interrupted or failed run removes the file it made at once, unless -keep:
// nobody can read a complete stream from it, and processes that have it
// mapped are not disturbed.
//
// Consumers started with -spawn inherit an anonymous ring: the kernel frees
// it when the last of them exits, whatever happens. The producer waits for
// them and fails unless each succeeded and together they received every
// message.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shmring/shmring/examples/internal/message"
	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

var (
	path     = flag.String("ring", "", "ring file to open (a bare name means /dev/shm/NAME)")
	inherit  = flag.String("inherit", "", "attach to the ring the parent passed under this name")
	create   = flag.Bool("create", false, "create the ring file instead of opening it")
	kind     = flag.String("kind", "spsc", "with -create or -spawn: spsc or mpmc")
	capacity = flag.Int("capacity", 1024, "with -create or -spawn: slots, a power of two")
	slot     = flag.Int("slot", 256, "with -create or -spawn: slot size, the largest message in bytes")
	n        = flag.Int("n", 1000000, "messages to send")
	size     = flag.Int("size", 64, "bytes per message, at least 24")
	id       = flag.Uint64("id", 0, "this producer's id")
	spawn    = flag.Int("spawn", 0, "make an anonymous ring and start this many consumers on it")
	consumer = flag.String("consumer", "", "with -spawn: the consumer program")
	shutdown = flag.Bool("shutdown", true, "shut the ring down after the last message")
	timeout  = flag.Duration("timeout", 10*time.Second, "how long to wait for room in the ring before giving up")
	remove   = flag.Bool("remove", false, "with -create: remove the ring file once the consumers are done")
	keep     = flag.Bool("keep", false, "with -create: keep the ring file even if the run fails")
)

func main() {
	flag.Parse()
	os.Exit(run())
}

func run() int {
	if err := checkFlags(); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		return 2
	}
	// Ctrl-C and SIGTERM cancel ctx, which stops a waiting Push.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	r, err := openRing()
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		return 1
	}
	defer r.Close()

	var consumers []*spawned
	if *spawn > 0 {
		if consumers, err = startConsumers(r); err != nil {
			fmt.Fprintln(os.Stderr, "producer:", err)
			r.Shutdown() // releases the consumers that did start
			waitConsumers(consumers)
			return 1
		}
	}

	msg := make([]byte, *size)
	start := time.Now()
	sent := 0
	for ; sent < *n; sent++ {
		message.Fill(msg, *id, uint64(sent))
		if err = push(ctx, r, msg); err != nil {
			break
		}
	}
	elapsed := time.Since(start)
	if err != nil || *shutdown {
		r.Shutdown() // consumers drain what is queued, then get io.EOF
	}
	ok := err == nil
	switch {
	case err == nil:
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "producer: interrupted")
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(os.Stderr, "producer: no room in the ring for %v\n", *timeout)
	default: // ring.ErrPeerDead, ring.ErrBusy, ...
		fmt.Fprintln(os.Stderr, "producer:", err)
	}
	verdict := "ok"
	if !ok {
		verdict = "FAIL"
	}
	secs, bytes := elapsed.Seconds(), float64(sent)*float64(*size)
	fmt.Printf("producer %d: %s sent=%d size=%d msg/s=%.0f MB/s=%.1f time=%v\n",
		*id, verdict, sent, *size, float64(sent)/secs, bytes/secs/1e6, elapsed.Round(time.Millisecond))

	if consumers != nil && !waitConsumers(consumers) {
		ok = false
	}
	if *create {
		cleanUp(ctx, r, ok)
	}
	if !ok {
		return 1
	}
	return 0
}

func checkFlags() error {
	sources := 0
	for _, given := range []bool{*path != "", *inherit != "", *spawn > 0} {
		if given {
			sources++
		}
	}
	switch {
	case sources != 1:
		return errors.New("give one of -ring PATH (optionally with -create), -inherit NAME, -spawn N")
	case *create && *path == "":
		return errors.New("-create needs -ring PATH")
	case *spawn > 0 && *consumer == "":
		return errors.New("-spawn needs -consumer PROGRAM")
	case *spawn > 1 && *kind != "mpmc":
		return errors.New("-spawn above 1 needs -kind mpmc: an SPSC ring has one consumer")
	case *size < message.HeaderSize:
		return fmt.Errorf("-size %d is below the %d-byte message header", *size, message.HeaderSize)
	}
	return nil
}

// openRing attaches to the ring the flags name, or makes it.
func openRing() (*ring.Ring, error) {
	switch {
	case *inherit != "":
		return ring.Inherit(*inherit)
	case *path != "" && !*create:
		return ring.Open(*path)
	}
	k, err := ring.ParseKind(*kind)
	if err != nil {
		return nil, err
	}
	cfg := ring.Config{Kind: k, Capacity: *capacity, SlotSize: *slot}
	if *spawn > 0 {
		return ring.Anonymous(cfg) // no name in any file system: nothing to clean up
	}
	return ring.Create(*path, cfg)
}

// push copies msg into the ring, waiting up to -timeout for room. The common
// case, a free slot, costs no context and no timer.
func push(ctx context.Context, r *ring.Ring, msg []byte) error {
	err := r.TryPush(msg)
	if !errors.Is(err, ring.ErrFull) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	return r.Push(ctx, msg)
}

// spawned is a consumer process started with -spawn.
type spawned struct {
	cmd *exec.Cmd
	out bytes.Buffer // its summary line
}

// startConsumers starts the -spawn consumer processes, each inheriting the
// ring under the name "ring": r.Share passes the ring's descriptor in
// cmd.ExtraFiles and its number in the child's environment, and the child's
// -inherit ring (ring.Inherit) maps it.
func startConsumers(r *ring.Ring) ([]*spawned, error) {
	args := []string{"-inherit", "ring", "-producers", strconv.FormatUint(*id+1, 10), "-timeout", timeout.String()}
	if *spawn == 1 {
		args = append(args, "-expect", strconv.Itoa(*n)) // the only consumer: it must get everything
	} else {
		args = append(args, "-share") // each gets a share: the producer adds them up
	}
	var cs []*spawned
	for i := 0; i < *spawn; i++ {
		c := &spawned{cmd: exec.Command(*consumer, args...)}
		c.cmd.Stdout = &c.out
		c.cmd.Stderr = os.Stderr
		if err := r.Share(c.cmd, "ring"); err != nil {
			return cs, err
		}
		if err := c.cmd.Start(); err != nil {
			return cs, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// waitConsumers waits for the spawned consumers, prints their summaries and
// reports whether each succeeded and together they received every message.
func waitConsumers(cs []*spawned) bool {
	ok := len(cs) == *spawn
	total := 0
	for i, c := range cs {
		err := c.cmd.Wait()
		line := strings.TrimPrefix(strings.TrimSpace(c.out.String()), "consumer: ")
		fmt.Printf("  consumer %d (pid %d): %s\n", i, c.cmd.Process.Pid, line)
		if err != nil {
			fmt.Fprintf(os.Stderr, "producer: consumer %d: %v\n", i, err)
			ok = false
		}
		total += received(line)
	}
	if total != *n {
		fmt.Fprintf(os.Stderr, "producer: the consumers received %d messages of %d\n", total, *n)
		ok = false
	}
	return ok
}

// received reads "received=N" from a consumer's summary line.
func received(line string) int {
	for _, f := range strings.Fields(line) {
		if v, found := strings.CutPrefix(f, "received="); found {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// cleanUp applies the lifecycle of a ring file this producer made (see the
// package documentation).
func cleanUp(ctx context.Context, r *ring.Ring, ok bool) {
	file := r.Region().Path()
	switch {
	case !ok && !*keep, ok && *remove:
		if ok {
			waitDrained(ctx, r)
		}
		if err := shm.Remove(file); err != nil {
			fmt.Fprintln(os.Stderr, "producer:", err)
		}
	case ok:
		fmt.Fprintf(os.Stderr, "producer: ring %s stays for its consumers; remove it with rm when they are done\n", file)
	}
}

// waitDrained waits, at most -timeout, until the ring is empty and no live
// process holds a consumer role in it: every consumer has read everything.
// It polls: consumers that exit do not tell anyone.
func waitDrained(ctx context.Context, r *ring.Ring) {
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st := r.Stats()
		busy := st.Len > 0
		for _, p := range st.Processes {
			busy = busy || p.Consumes && p.Alive
		}
		if !busy {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "producer: consumers still busy; removing the ring file anyway (they keep their mapping)")
}
