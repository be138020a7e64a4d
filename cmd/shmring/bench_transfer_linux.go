package main

// Throughput: one transport, one message size, producers in some processes
// and consumers in others (or both in one, for the Go channel).
//
// Every message carries producer<<40 | sequence in its first 8 bytes, and
// again in its last 8 when it is 16 bytes or longer, so a consumer checks
// that each message arrived whole, once and in order; the parent checks the
// count and the sum of sequences. A transport that loses, duplicates, tears
// or reorders messages fails the run instead of reporting a fast number.

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/ring"
)

const (
	seqBits    = 40
	markerWord = ^uint64(0) // end of a run for consumers that cannot count (several consumers)
	maxProd    = 64
	bufioSize  = 64 << 10
)

// stamp writes v at the start of msg, and at its end when there is room.
func stamp(msg []byte, v uint64) {
	binary.LittleEndian.PutUint64(msg, v)
	if len(msg) >= 16 {
		binary.LittleEndian.PutUint64(msg[len(msg)-8:], v)
	}
}

// checker verifies what a consumer receives during one run.
type checker struct {
	size      int
	mixed     bool // message s is mixedLen(s) bytes
	producers int
	strict    bool   // one producer per consumer: sequences must follow each other exactly
	last      uint64 // sequence of each producer's last message
	next      [maxProd]uint64
	count     uint64 // good messages
	sum       uint64 // of their sequence numbers
	errs      uint64
	first     string // the first error
	tlast     int64  // nanotime at the last message of a producer
}

func (c *checker) failf(format string, a ...any) {
	if c.errs == 0 {
		c.first = fmt.Sprintf(format, a...)
	}
	c.errs++
}

// expected is check's common case, small enough to be inlined: the next
// message of the one producer, of the fixed size, whole. It counts it and
// reports true; anything else it leaves to check.
func (c *checker) expected(m []byte) bool {
	if !c.strict || c.mixed || c.producers != 1 || len(m) != c.size || len(m) < 8 {
		return false
	}
	v := binary.LittleEndian.Uint64(m)
	if v != c.next[0] || v == c.last || len(m) >= 16 && binary.LittleEndian.Uint64(m[len(m)-8:]) != v {
		return false
	}
	c.next[0] = v + 1
	c.count++
	c.sum += v
	return true
}

// check looks at one message and reports whether it is an end marker.
func (c *checker) check(m []byte) (marker bool) {
	if len(m) < 8 || !c.mixed && len(m) != c.size {
		c.failf("message %d is %d bytes, want %d", c.count+c.errs, len(m), c.size)
		return false
	}
	v := binary.LittleEndian.Uint64(m)
	if v == markerWord {
		return true
	}
	if c.mixed {
		if want := mixedLen(v & (1<<seqBits - 1)); len(m) != want {
			c.failf("message %d is %d bytes, want %d", v&(1<<seqBits-1), len(m), want)
			return false
		}
	}
	if len(m) >= 16 {
		if w := binary.LittleEndian.Uint64(m[len(m)-8:]); w != v {
			c.failf("torn message: starts with %#x, ends with %#x", v, w)
			return false
		}
	}
	p, s := v>>seqBits, v&(1<<seqBits-1)
	if p >= uint64(c.producers) {
		c.failf("message from producer %d, there are %d", p, c.producers)
		return false
	}
	if c.strict && s != c.next[p] || s < c.next[p] {
		c.failf("producer %d: message %d after %d", p, s, int64(c.next[p])-1)
	}
	c.next[p] = s + 1
	c.count++
	c.sum += s
	if s == c.last {
		c.tlast = nanotime()
	}
	return false
}

// mixedLen is the length of message seq in the mixed-sizes group:
// log-uniform from mixedMin to mixedMax, the same for every transport.
func mixedLen(seq uint64) int {
	x := seq*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 29
	u := float64(x>>11) / (1 << 53)
	return min(mixedMax, int(mixedMin*math.Pow(float64(mixedMax)/mixedMin, u)))
}

// mixedMean is the mean length of the mixed sequence, for MB/s.
var mixedMean = func() float64 {
	const n = 1 << 16
	sum := 0
	for i := uint64(0); i < n; i++ {
		sum += mixedLen(i)
	}
	return float64(sum) / n
}()

// msgLen is the length of message seq of a child.
func (o *childOptions) msgLen(seq uint64) int {
	if o.mixed {
		return mixedLen(seq)
	}
	return o.size
}

// reply is a consumer's answer at the end of a run: got COUNT SUM ERRS
// TLAST, or an error naming the first bad message.
func (c *checker) reply() (string, error) {
	if c.errs > 0 {
		return "", fmt.Errorf("%d bad messages after %d good ones; the first: %s", c.errs, c.count, c.first)
	}
	return fmt.Sprintf("got %d %d %d %d", c.count, c.sum, c.errs, c.tlast), nil
}

// newTransferRole sets up a producer, consumer or self-contained (channel,
// memcpy) process of a throughput cell.
func newTransferRole(o childOptions) (childHandler, func(), error) {
	ctx := context.Background()
	nothing := func() {}
	switch o.mode {
	case "chan":
		return chanRole(o), nothing, nil
	case "memcpy":
		return memcpyRole(o), nothing, nil
	case "ring":
		r, err := ring.Inherit("bench")
		if err != nil {
			return nil, nil, err
		}
		if o.wait == "spin" {
			r.SetOptions(ring.Options{Wait: ring.WaitSpin})
		}
		if o.role == "producer" {
			return ringProducer(ctx, r, o), func() { r.Close() }, nil
		}
		return ringConsumer(ctx, r, o), func() { r.Close() }, nil
	case "unix", "pipe":
		f := os.NewFile(uintptr(o.fd), o.mode)
		if f == nil {
			return nil, nil, fmt.Errorf("descriptor %d not inherited", o.fd)
		}
		if o.role == "producer" {
			return fdProducer(f, o), func() { f.Close() }, nil
		}
		return fdConsumer(f, o), func() { f.Close() }, nil
	case "conn":
		c, release, err := newConnEnd(o)
		if err != nil {
			return nil, nil, err
		}
		if o.role == "producer" {
			return fdProducer(c, o), release, nil
		}
		return fdConsumer(c, o), release, nil
	}
	return nil, nil, fmt.Errorf("unknown transfer mode %q", o.mode)
}

// producer command: run COUNT. Reply: sent T0 T1.
func ringProducer(ctx context.Context, r *ring.Ring, o childOptions) childHandler {
	batch := max(o.batch, 1)
	back := make([]byte, batch*o.size)
	msgs := make([][]byte, batch)
	for i := range msgs {
		msgs[i] = back[i*o.size : (i+1)*o.size]
	}
	id := uint64(o.id) << seqBits
	return func(args []int64, _ io.Writer) (string, error) {
		if err := argsN(args, 1); err != nil {
			return "", err
		}
		n := int(args[0])
		t0 := nanotime()
		switch {
		case o.reserve:
			for i := 0; i < n; i++ {
				l := o.msgLen(uint64(i))
				view, err := r.Reserve(ctx, l)
				if err != nil {
					return "", fmt.Errorf("reserve %d: %w", i, err)
				}
				stamp(view, id|uint64(i))
				if err := r.Commit(l); err != nil {
					return "", fmt.Errorf("commit %d: %w", i, err)
				}
			}
		case o.batch == 0:
			if err := pushEach(ctx, r, msgs[0], id, n, o.mixed); err != nil {
				return "", err
			}
		default:
			for sent := 0; sent < n; {
				k := min(batch, n-sent)
				for j := 0; j < k; j++ {
					stamp(msgs[j], id|uint64(sent+j))
				}
				if _, err := r.PushBatch(ctx, msgs[:k]); err != nil {
					return "", fmt.Errorf("push batch at %d: %w", sent, err)
				}
				sent += k
			}
		}
		return fmt.Sprintf("sent %d %d", t0, nanotime()), nil
	}
}

// pushEach is the loop of the Push/Pop rows: n messages of msg's size, each
// stamped with its number, as the C references do. It is a function of its
// own, not part of the closure above, so that the compiler keeps it tight:
// in a closure copied by inlining it called Push and copied the options for
// every message, and a producer that waits for cache lines pays for every
// store it makes.
// With mixed, message i is mixedLen(i) bytes of msg.
func pushEach(ctx context.Context, r *ring.Ring, msg []byte, id uint64, n int, mixed bool) error {
	for i := 0; i < n; i++ {
		m := msg
		if mixed {
			m = msg[:mixedLen(uint64(i))]
		}
		stamp(m, id|uint64(i))
		if err := r.Push(ctx, m); err != nil {
			return fmt.Errorf("push %d: %w", i, err)
		}
	}
	return nil
}

// popEach is the consumer's loop of the Push/Pop rows, a function of its
// own for the reason pushEach is: Pop into buf and check every message,
// until done says so.
func popEach(ctx context.Context, r *ring.Ring, buf []byte, c *checker, total int64, multi bool) error {
	for {
		n, err := r.Pop(ctx, buf)
		if err != nil {
			return fmt.Errorf("pop after %d messages: %w", c.count, err)
		}
		if c.expected(buf[:n]) {
			if !multi && int64(c.count) >= total {
				return nil
			}
			continue
		}
		if c.check(buf[:n]) || !multi && int64(c.count+c.errs) >= total {
			return nil
		}
	}
}

// consumerRun parses a consumer's command, run TOTAL PER PRODUCERS
// CONSUMERS, into a checker and the stopping rule: a lone consumer stops
// when it has every message; several stop at an end marker each.
func consumerRun(args []int64, o childOptions) (*checker, int64, bool, error) {
	size := o.size
	if err := argsN(args, 4); err != nil {
		return nil, 0, false, err
	}
	total, per, producers, consumers := args[0], args[1], int(args[2]), args[3]
	if producers < 1 || producers > maxProd {
		return nil, 0, false, fmt.Errorf("%d producers", producers)
	}
	c := &checker{size: size, mixed: o.mixed, producers: producers, strict: consumers == 1, last: uint64(per - 1)}
	return c, total, consumers > 1, nil
}

func ringConsumer(ctx context.Context, r *ring.Ring, o childOptions) childHandler {
	buf := make([]byte, o.size)
	return func(args []int64, stdout io.Writer) (string, error) {
		c, total, multi, err := consumerRun(args, o)
		if err != nil {
			return "", err
		}
		fmt.Fprintln(stdout, "ready")
		if o.zerocopy || o.batch > 0 {
			err = popFuncEach(ctx, r, max(o.batch, 1), !o.zerocopy, buf, c, total, multi)
		} else {
			err = popEach(ctx, r, buf, c, total, multi)
		}
		if err != nil {
			return "", err
		}
		return c.reply()
	}
}

// popFuncEach is the consumer's loop of the PopFunc rows, a function of its
// own for the reason pushEach is: PopFunc with up to batch messages, fn
// checking each one in the ring, or (copyOut) in buf after copying it out,
// as a consumer that keeps what it reads does.
func popFuncEach(ctx context.Context, r *ring.Ring, batch int, copyOut bool, buf []byte, c *checker, total int64, multi bool) error {
	done := false
	fn := func(m []byte) {
		if copyOut {
			m = buf[:copy(buf, m)]
		}
		if c.expected(m) {
			done = !multi && int64(c.count) >= total
			return
		}
		done = c.check(m) || !multi && int64(c.count+c.errs) >= total
	}
	for !done {
		if _, err := r.PopFunc(ctx, batch, fn); err != nil {
			return fmt.Errorf("pop after %d messages: %w", c.count, err)
		}
	}
	return nil
}

func fdProducer(f io.Writer, o childOptions) childHandler {
	msg := make([]byte, o.size)
	id := uint64(o.id) << seqBits
	var w io.Writer = f
	var bw *bufio.Writer
	if o.bufio {
		bw = bufio.NewWriterSize(f, bufioSize)
		w = bw
	}
	return func(args []int64, _ io.Writer) (string, error) {
		if err := argsN(args, 1); err != nil {
			return "", err
		}
		n := int(args[0])
		t0 := nanotime()
		var hdr [4]byte
		for i := 0; i < n; i++ {
			m := msg[:o.msgLen(uint64(i))]
			stamp(m, id|uint64(i))
			if o.mixed { // a stream: say where each message ends
				binary.LittleEndian.PutUint32(hdr[:], uint32(len(m)))
				if _, err := w.Write(hdr[:]); err != nil {
					return "", fmt.Errorf("write %d: %w", i, err)
				}
			}
			if _, err := w.Write(m); err != nil {
				return "", fmt.Errorf("write %d: %w", i, err)
			}
		}
		if bw != nil {
			if err := bw.Flush(); err != nil {
				return "", fmt.Errorf("flush: %w", err)
			}
		}
		return fmt.Sprintf("sent %d %d", t0, nanotime()), nil
	}
}

func fdConsumer(f io.Reader, o childOptions) childHandler {
	buf := make([]byte, o.size)
	var rd io.Reader = f
	if o.bufio {
		rd = bufio.NewReaderSize(f, bufioSize)
	}
	return func(args []int64, stdout io.Writer) (string, error) {
		c, total, multi, err := consumerRun(args, o)
		if err != nil {
			return "", err
		}
		if multi {
			return "", fmt.Errorf("%s has one consumer", o.mode)
		}
		fmt.Fprintln(stdout, "ready")
		var hdr [4]byte
		for int64(c.count+c.errs) < total {
			m := buf
			if o.mixed {
				if _, err := io.ReadFull(rd, hdr[:]); err != nil {
					return "", fmt.Errorf("read after %d messages: %w", c.count, err)
				}
				l := int(binary.LittleEndian.Uint32(hdr[:]))
				if l > len(buf) {
					return "", fmt.Errorf("a frame of %d bytes after %d messages, above %d", l, c.count, len(buf))
				}
				m = buf[:l]
			}
			if _, err := io.ReadFull(rd, m); err != nil {
				return "", fmt.Errorf("read after %d messages: %w", c.count, err)
			}
			if !c.expected(m) {
				c.check(m)
			}
		}
		return c.reply()
	}
}

// chanRole: a buffered Go channel between two goroutines of this process,
// as many slots as the rings. The producer copies each message into a
// buffer from a pool and sends the slice; the consumer copies it out. So
// every byte is written and read once, as with the rings. The pool holds two
// buffers more than the channel, so a buffer is never written while the
// consumer may still read it.
// Command: run COUNT. Reply: done NS COUNT SUM ERRS.
func chanRole(o childOptions) childHandler {
	ch := make(chan []byte, o.capacity)
	pool := make([][]byte, o.capacity+2)
	back := make([]byte, len(pool)*o.size)
	for i := range pool {
		pool[i] = back[i*o.size : (i+1)*o.size]
	}
	msg, buf := make([]byte, o.size), make([]byte, o.size)
	return func(args []int64, _ io.Writer) (string, error) {
		if err := argsN(args, 1); err != nil {
			return "", err
		}
		n := int(args[0])
		c := &checker{size: o.size, producers: 1, strict: true, last: uint64(n - 1)}
		done := make(chan struct{})
		t0 := nanotime()
		go func() {
			defer close(done)
			for i := 0; i < n; i++ {
				m := <-ch
				copy(buf, m)
				c.check(buf)
			}
		}()
		for i := 0; i < n; i++ {
			b := pool[i%len(pool)]
			stamp(msg, uint64(i))
			copy(b, msg)
			ch <- b
		}
		<-done
		if _, err := c.reply(); err != nil {
			return "", err
		}
		return fmt.Sprintf("done %d %d %d %d", c.tlast-t0, c.count, c.sum, c.errs), nil
	}
}

// memcpyRole: one core copying message-sized blocks from one area to
// another, each as large as a ring's slots: the bandwidth a ring moving the
// same bytes is compared with. Command: run COUNT. Reply: done NS COUNT SUM 0.
func memcpyRole(o childOptions) childHandler {
	area := o.capacity * o.size
	src, dst := make([]byte, area), make([]byte, area)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src) // touch every page before timing
	mask := o.capacity - 1
	return func(args []int64, _ io.Writer) (string, error) {
		if err := argsN(args, 1); err != nil {
			return "", err
		}
		n := int(args[0])
		t0 := nanotime()
		for i := 0; i < n; i++ {
			off := (i & mask) * o.size
			copy(dst[off:off+o.size], src[off:off+o.size])
		}
		el := nanotime() - t0
		if dst[area-1] != src[area-1] {
			return "", fmt.Errorf("memcpy: copy did not copy")
		}
		return fmt.Sprintf("done %d %d 0 0", el, n), nil
	}
}

// transferCell is the parent's side of one throughput measurement: one
// transport at one message size, its processes kept between runs.
type transferCell struct {
	row  *rowSpec
	size int
	cfg  *benchConfig

	ring      *ring.Ring // ring transports: the parent's handle (MPMC: pushes end markers)
	producers []*benchProc
	consumers []*benchProc
	self      *benchProc // chan, memcpy
	mem       int        // bytes the transport holds: the ring, or kernel and bufio buffers
	release   func()     // conn rows: the socket directory and listener copy, once the children are gone
}

// memory is what the transport holds between the processes, in bytes.
func (c *transferCell) memory() int { return c.mem }

func (c *transferCell) name() string { return fmt.Sprintf("%s %dB", c.row.Key, c.size) }

func (c *transferCell) procs() []*benchProc {
	ps := append(append([]*benchProc{}, c.producers...), c.consumers...)
	if c.self != nil {
		ps = append(ps, c.self)
	}
	return ps
}

// participantCPUs returns the CPUs of the i-th process in the order
// producer 1, consumer 1, producer 2, consumer 2: with two CPUs, producers
// on the first and consumers on the second.
func (c *transferCell) participantCPUs(i int) string {
	if len(c.cfg.cpus) == 0 {
		return ""
	}
	return fmt.Sprint(c.cfg.cpus[i%len(c.cfg.cpus)])
}

func (c *transferCell) start() (err error) {
	defer func() {
		if err != nil {
			killAll(c.procs())
			if c.ring != nil {
				c.ring.Close()
			}
			if c.release != nil {
				c.release()
			}
		}
	}()
	size := c.size
	if c.row.mixed {
		size = mixedMax
	}
	base := []string{"-mode", c.row.mode, "-size", fmt.Sprint(size), "-capacity", fmt.Sprint(c.cfg.capacity)}
	if c.row.mixed {
		base = append(base, "-mixed")
	}
	switch c.row.mode {
	case "chan", "memcpy":
		cpus := ""
		if len(c.cfg.cpus) > 0 {
			cpus = formatCPUList(c.cfg.cpus[:min(len(c.cfg.cpus), 2)])
			if c.row.mode == "memcpy" {
				cpus = fmt.Sprint(c.cfg.cpus[0])
			}
		}
		c.self, err = startProc(c.name(), append(base, "-role", "self", "-cpus", cpus), nil)
		return err
	case "ring":
		rc := ringConfig(c.cfg, c.row, size)
		c.ring, err = ring.Anonymous(rc)
		if err != nil {
			return err
		}
		c.mem, _ = ring.Size(rc)
		share := func(cmd *exec.Cmd) error { return c.ring.Share(cmd, "bench") }
		return c.startParticipants(base, share, share)
	case "unix", "pipe":
		var pf, cf *os.File // producer's and consumer's ends
		if c.row.mode == "unix" {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return os.NewSyscallError("socketpair", err)
			}
			pf, cf = os.NewFile(uintptr(fds[0]), "socket"), os.NewFile(uintptr(fds[1]), "socket")
			for _, fd := range fds { // what the kernel may buffer, both ways, at both ends
				for _, opt := range []int{unix.SO_SNDBUF, unix.SO_RCVBUF} {
					if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt); err == nil {
						c.mem += v
					}
				}
			}
		} else {
			if cf, pf, err = os.Pipe(); err != nil {
				return err
			}
			if v, err := unix.FcntlInt(pf.Fd(), unix.F_GETPIPE_SZ, 0); err == nil {
				c.mem += v
			}
		}
		defer pf.Close() // the children have their copies once started
		defer cf.Close()
		give := func(f *os.File) func(*exec.Cmd) error {
			return func(cmd *exec.Cmd) error {
				cmd.ExtraFiles = append(cmd.ExtraFiles, f)
				cmd.Args = append(cmd.Args, "-fd", fmt.Sprint(2+len(cmd.ExtraFiles)))
				return nil
			}
		}
		if slices.Contains(c.row.args, "-bufio") {
			c.mem += 2 * bufioSize
		}
		return c.startParticipants(base, give(pf), give(cf))
	case "conn":
		server, client, release, err := connSetup(rowNet(c.row))
		if err != nil {
			return err
		}
		c.release = release
		return c.startParticipants(base, client, server)
	}
	return fmt.Errorf("unknown transport mode %q", c.row.mode)
}

func (c *transferCell) startParticipants(base []string, prodSetup, consSetup func(*exec.Cmd) error) error {
	for i := 0; i < max(c.row.producers, c.row.consumers); i++ {
		if i < c.row.producers {
			args := append(append([]string{}, base...), "-role", "producer", "-id", fmt.Sprint(i), "-cpus", c.participantCPUs(2*i))
			args = append(args, c.row.args...)
			p, err := startProc(fmt.Sprintf("%s producer %d", c.name(), i+1), args, prodSetup)
			if err != nil {
				return err
			}
			c.producers = append(c.producers, p)
		}
		if i < c.row.consumers {
			args := append(append([]string{}, base...), "-role", "consumer", "-cpus", c.participantCPUs(2*i+1))
			args = append(args, c.row.args...)
			p, err := startProc(fmt.Sprintf("%s consumer %d", c.name(), i+1), args, consSetup)
			if err != nil {
				return err
			}
			c.consumers = append(c.consumers, p)
		}
	}
	return nil
}

// runTimeout bounds one run of n messages: generous, it only catches a
// transport that hangs.
func runTimeout(n int) time.Duration { return procTimeout + time.Duration(n)*20*time.Microsecond }

func (c *transferCell) run(n int) (runResult, error) {
	timeout := runTimeout(n)
	if c.self != nil {
		if err := c.self.send("run %d", n); err != nil {
			return runResult{}, err
		}
		f, err := c.self.expect("done", timeout)
		if err != nil {
			return runResult{}, err
		}
		if len(f) != 4 {
			return runResult{}, fmt.Errorf("%s: answer with %d numbers", c.self.name, len(f))
		}
		if err := verifyCount(c.self.name, n, 1, f[1], f[2], f[3], c.row.mode == "memcpy"); err != nil {
			return runResult{}, err
		}
		return runResult{N: n, Ns: f[0]}, nil
	}

	np, nc := len(c.producers), len(c.consumers)
	per := max(n/np, 1)
	total := per * np
	for _, p := range c.consumers {
		if err := p.send("run %d %d %d %d", total, per, np, nc); err != nil {
			return runResult{}, err
		}
	}
	for _, p := range c.consumers {
		if _, err := p.expect("ready", procTimeout); err != nil {
			return runResult{}, err
		}
	}
	for _, p := range c.producers {
		if err := p.send("run %d", per); err != nil {
			return runResult{}, err
		}
	}
	t0 := int64(math.MaxInt64)
	for _, p := range c.producers {
		f, err := p.expect("sent", timeout)
		if err != nil {
			return runResult{}, err
		}
		if len(f) != 2 {
			return runResult{}, fmt.Errorf("%s: answer with %d numbers", p.name, len(f))
		}
		t0 = min(t0, f[0])
	}
	if nc > 1 {
		// Every message is in the ring before these, so each consumer has
		// seen all it will get once it meets one.
		marker := make([]byte, c.size)
		stamp(marker, markerWord)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		for range nc {
			if err := c.ring.Push(ctx, marker); err != nil {
				return runResult{}, fmt.Errorf("%s: end marker: %w", c.name(), err)
			}
		}
	}
	var count, sum, errs uint64
	var tlast int64
	for _, p := range c.consumers {
		f, err := p.expect("got", timeout)
		if err != nil {
			return runResult{}, err
		}
		if len(f) != 4 {
			return runResult{}, fmt.Errorf("%s: answer with %d numbers", p.name, len(f))
		}
		count += uint64(f[0])
		sum += uint64(f[1])
		errs += uint64(f[2])
		tlast = max(tlast, f[3])
	}
	if err := verifyCount(c.name(), per, np, int64(count), int64(sum), int64(errs), false); err != nil {
		return runResult{}, err
	}
	if tlast <= t0 {
		return runResult{}, fmt.Errorf("%s: last message at %d, before the first was sent at %d", c.name(), tlast, t0)
	}
	return runResult{N: total, Ns: tlast - t0}, nil
}

// verifyCount checks a run's tally: every producer's sequence 0..per-1 was
// received exactly once, and no consumer saw a bad message.
func verifyCount(name string, per, producers int, count, sum, errs int64, countOnly bool) error {
	want := int64(per) * int64(producers)
	wantSum := uint64(producers) * (uint64(per) * uint64(per-1) / 2)
	switch {
	case errs != 0:
		return fmt.Errorf("%s: %d bad messages (torn, duplicated, out of order or foreign)", name, errs)
	case count != want:
		return fmt.Errorf("%s: received %d messages, sent %d", name, count, want)
	case !countOnly && uint64(sum) != wantSum:
		return fmt.Errorf("%s: sequence numbers add up to %d, want %d: messages lost and duplicated", name, sum, wantSum)
	}
	return nil
}

func (c *transferCell) stop() error {
	err := stopAll(c.procs())
	if c.ring != nil {
		c.ring.Close()
	}
	if c.release != nil {
		c.release()
	}
	return err
}
