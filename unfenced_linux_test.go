package shmring_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/ring"
)

func init() {
	helpers["unfenced-producer"] = helperUnfencedProducer
}

// refuseMembarrier installs a seccomp filter, on every thread of this
// process, under which membarrier(2) fails with EPERM: what a container
// runtime's default profile may do.
func refuseMembarrier() error {
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_MEMBARRIER},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&prog))); errno != 0 {
		return fmt.Errorf("seccomp: %w", errno)
	}
	if _, _, errno := unix.Syscall(unix.SYS_MEMBARRIER, 0, 0, 0); errno != unix.EPERM {
		return fmt.Errorf("membarrier still answers (%v) under the filter", errno)
	}
	return nil
}

// helperUnfencedProducer refuses itself membarrier, then pushes one
// message per line it reads on stdin: the line's text. Reports pushed=N.
func helperUnfencedProducer(a args) int {
	if err := refuseMembarrier(); err != nil {
		return usagef("%v", err)
	}
	r, code := openRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	n := 0
	for sc := bufio.NewScanner(os.Stdin); sc.Scan(); n++ {
		if err := r.Push(context.Background(), []byte(sc.Text())); err != nil {
			return failf("push: %v", err)
		}
	}
	report("pushed", n)
	return exitOK
}

// TestUnfencedPublisher: a producer whose membarrier registration a seccomp
// filter refused says so in its process record; a consumer asleep in Pop
// then sleeps in short slices (its membarrier does not order that
// producer's stores, so a wake-up can be missed), and gets every message.
func TestUnfencedPublisher(t *testing.T) {
	ctx := testContext(t, testTimeout())
	path := filepath.Join(t.TempDir(), "ring")
	r, err := ring.Create(path, ring.Config{Kind: ring.SPSC, Capacity: 16, SlotSize: 16})
	require.NoError(t, err)
	defer r.Close()
	c := newChild(ctx, t, "unfenced-producer", arg("ring", path))
	in, err := c.cmd.StdinPipe()
	require.NoError(t, err)
	c.start()
	const n = 50
	got := make(chan string, n)
	go func() {
		buf := make([]byte, 16)
		for i := 0; i < n; i++ {
			k, err := r.Pop(ctx, buf)
			if err != nil {
				t.Error(err)
				close(got)
				return
			}
			got <- string(buf[:k])
		}
		close(got)
	}()
	for i := 0; i < n; i++ {
		// Each message is pushed while the consumer sleeps.
		waitFor(func() bool { return r.Stats().ConsumersWaiting > 0 })
		if i == 0 {
			procs := r.Stats().Processes
			require.Len(t, procs, 1, "the consumer's record (the producer has not pushed yet)")
		}
		_, err := fmt.Fprintf(in, "m%d\n", i)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("m%d", i), <-got)
		if i == 0 {
			var producer *ring.Process
			for _, p := range r.Stats().Processes {
				if p.Produces {
					producer = &p
				}
			}
			require.NotNil(t, producer)
			assert.True(t, producer.Unfenced, "the record says the producer could not register")
		}
	}
	require.NoError(t, in.Close())
	rep, _ := ended(t, c)
	assert.Equal(t, n, rep.int(t, "pushed"))
}

// waitFor polls cond until it holds, yielding between looks: a condition
// of another goroutine's progress, not a timing.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}
