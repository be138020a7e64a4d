//go:build linux

package shmring_test

// Sizes are checked before memory is touched: a region larger than the
// memory there is room for is refused with an error, not by the OOM killer.
// The test puts a child in a memory cgroup of its own with a 64 MiB limit,
// where it asks for 256 MiB regions; the bare machine never sees a request
// beyond its memory.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

func init() {
	helpers["memcg-alloc"] = helperMemcgAlloc
}

const memcgLimit = 64 << 20

func TestSizeRefusedInMemoryCgroup(t *testing.T) {
	cg := memoryCgroup(t, memcgLimit)
	ctx := testContext(t, testTimeout())
	name := fmt.Sprintf("shmring-test-%d-%x", os.Getpid(), rand.Uint64())
	t.Cleanup(func() { _ = shm.Remove(name) })

	c := newChild(ctx, t, "memcg-alloc", "name="+name)
	in, go_, err := os.Pipe()
	require.NoError(t, err)
	c.cmd.Stdin = in
	c.start()
	in.Close()
	// Into the cgroup first; then closing the pipe lets the child go on.
	require.NoError(t, cg.add(c.pid()))
	require.NoError(t, go_.Close())
	rep := c.wait() // a child killed for memory fails here
	t.Logf("reports: %v", rep)

	assert.Contains(t, rep["cgroup"], cg.name, "the child ran in the test's cgroup")
	for _, k := range []string{"shm_anonymous", "ring_anonymous", "ring_create"} {
		assert.Equal(t, "ErrTooBig", rep[k], k)
		assert.Contains(t, rep[k+"_error"], "its memory cgroup "+cg.name+" has room for", k)
	}
	assert.Contains(t, rep["shm_anonymous_error"], "anonymous memfd:shmring: size 256 MiB exceeds the ")
	assert.Equal(t, "absent", rep["ring_create_file"], "a refused file is not left behind")
	assert.Equal(t, "ok", rep["small"], "what fits is not refused")
}

// helperMemcgAlloc waits for its stdin to close (its parent moves it into a
// memory cgroup meanwhile), then asks for 256 MiB regions: shm.Anonymous,
// ring.Anonymous, and ring.Create of /dev/shm/<name> (tmpfs: memory too).
// For each it reports ErrTooBig or what happened instead, and the error
// (<key>_error). Then it makes a 1 MiB region and touches every page of it
// (small=ok).
func helperMemcgAlloc(a args) int {
	_, _ = io.Copy(io.Discard, os.Stdin)
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, ":memory:") || strings.HasPrefix(line, "0::") && !strings.HasSuffix(line, "::/") {
				report("cgroup", line)
			}
		}
	}
	outcome := func(key string, err error) {
		switch {
		case err == nil:
			report(key, "succeeded")
		case errors.Is(err, shm.ErrTooBig):
			report(key, "ErrTooBig")
		default:
			report(key, "other")
		}
		report(key+"_error", err)
	}
	const size = 256 << 20
	r, err := shm.Anonymous(size)
	outcome("shm_anonymous", err)
	if err == nil {
		r.Close()
	}
	cfg := ring.Config{Kind: ring.SPSC, Capacity: 1 << 16, SlotSize: 4096}
	n, err := ring.Size(cfg)
	if err != nil || n < size {
		return usagef("ring.Size(%+v) = %d, %v: want %d bytes or more", cfg, n, err, size)
	}
	rg, err := ring.Anonymous(cfg)
	outcome("ring_anonymous", err)
	if err == nil {
		rg.Close()
	}
	name := a.str("name", "")
	rg, err = ring.Create(name, cfg)
	outcome("ring_create", err)
	if err == nil {
		rg.Close()
	}
	if _, err := os.Lstat(shm.Resolve(name)); errors.Is(err, os.ErrNotExist) {
		report("ring_create_file", "absent")
	} else {
		report("ring_create_file", fmt.Sprint("present: ", err))
	}

	small, err := shm.Anonymous(1 << 20)
	if err != nil {
		return failf("1 MiB in a %d MiB cgroup: %v", memcgLimit>>20, err)
	}
	for i := range small.Bytes() {
		small.Bytes()[i] = 1
	}
	small.Close()
	report("small", "ok")
	return exitOK
}

// cgroup is a memory cgroup made for a test.
type cgroup struct {
	dir   string // its directory
	name  string // its path in the hierarchy, as /proc/PID/cgroup writes it
	procs string // the file that takes a pid
}

func (c cgroup) add(pid int) error {
	return os.WriteFile(c.procs, []byte(fmt.Sprint(pid)), 0)
}

// memoryCgroup makes a memory cgroup below this process's own, limited to
// limit bytes, and removes it when the test ends (after its children are
// gone). It skips the test where that cannot be done: not root, no memory
// controller, or cgroup v2 with processes in our cgroup, where the memory
// controller cannot be turned on for a child (the "no internal processes"
// rule) unless it is already.
func memoryCgroup(t *testing.T, limit int64) cgroup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a memory cgroup")
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	require.NoError(t, err)
	var v1Path, v2Path string
	for _, line := range strings.Split(string(self), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2Path = parts[2]
		} else if hasController(parts[1], "memory") {
			v1Path = parts[2]
		}
	}
	v1Mount, v2Mount := cgroupMounts(t)
	leaf := fmt.Sprintf("shmring-test-%d-%x", os.Getpid(), rand.Uint32())
	var c cgroup
	var limitFile string
	switch {
	case v1Path != "" && v1Mount != "":
		c = cgroup{dir: filepath.Join(v1Mount, v1Path, leaf), name: filepath.Join(v1Path, leaf)}
		c.procs, limitFile = filepath.Join(c.dir, "cgroup.procs"), "memory.limit_in_bytes"
	case v2Path != "" && v2Mount != "":
		parent := filepath.Join(v2Mount, v2Path)
		enableMemory(t, parent)
		c = cgroup{dir: filepath.Join(parent, leaf), name: filepath.Join(v2Path, leaf)}
		c.procs, limitFile = filepath.Join(c.dir, "cgroup.procs"), "memory.max"
	default:
		t.Skip("no memory cgroup controller mounted")
	}
	if err := os.Mkdir(c.dir, 0o755); err != nil {
		t.Skipf("cannot make a memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		if err := os.Remove(c.dir); err != nil {
			t.Errorf("remove the test's cgroup: %v", err)
		}
	})
	require.NoError(t, os.WriteFile(filepath.Join(c.dir, limitFile), []byte(fmt.Sprint(limit)), 0))
	return c
}

// enableMemory turns the memory controller on for the children of the v2
// cgroup dir, if it is not, and off again when the test ends; it skips the
// test if the kernel refuses.
func enableMemory(t *testing.T, dir string) {
	t.Helper()
	ctl := filepath.Join(dir, "cgroup.subtree_control")
	on, err := os.ReadFile(ctl)
	require.NoError(t, err)
	if hasController(strings.ReplaceAll(strings.TrimSpace(string(on)), " ", ","), "memory") {
		return
	}
	if err := os.WriteFile(ctl, []byte("+memory"), 0); err != nil {
		t.Skipf("cannot turn on the memory controller for children of %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = os.WriteFile(ctl, []byte("-memory"), 0) })
}

// cgroupMounts returns where the v1 memory hierarchy and the v2 hierarchy
// are mounted ("" where they are not), from /proc/self/mountinfo. Only
// mounts of a hierarchy's root are taken.
func cgroupMounts(t *testing.T) (v1Memory, v2 string) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fs, ps := strings.Fields(pre), strings.Fields(post)
		if len(fs) < 5 || len(ps) < 3 || fs[3] != "/" {
			continue
		}
		switch {
		case ps[0] == "cgroup2" && v2 == "":
			v2 = fs[4]
		case ps[0] == "cgroup" && v1Memory == "" && hasController(ps[2], "memory"):
			v1Memory = fs[4]
		}
	}
	require.NoError(t, sc.Err())
	return v1Memory, v2
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}
