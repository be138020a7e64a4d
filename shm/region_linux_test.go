package shm_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/shm"
)

func init() {
	helpers["readonly-store"] = helperReadOnlyStore
}

// helperReadOnlyStore opens SHM_TEST_PATH read-only and stores into it. The
// kernel answers with SIGSEGV; the Go runtime would turn that into a panic
// and exit status 2, so the helper first restores the default action, and
// the process dies of the signal itself, which the parent can tell apart
// from any other way of failing.
func helperReadOnlyStore() int {
	r, err := shm.Open(os.Getenv("SHM_TEST_PATH"), shm.ReadOnly())
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	// No core file for a death that is the point of the test.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		fmt.Println("setrlimit:", err)
		return 1
	}
	// An all-zero struct sigaction is SIG_DFL with no flags and an empty
	// mask, whatever the architecture's layout; 64 bytes cover it.
	var dfl [64]byte
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGSEGV), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0); e != 0 {
		fmt.Println("rt_sigaction:", e)
		return 1
	}
	r.Bytes()[0] = 'X'
	fmt.Println("the store into a read-only mapping succeeded")
	return 0
}

// devShmName returns a bare name for a region under /dev/shm that no other
// test or process uses, and removes the region when the test ends.
func devShmName(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("shmring-test-%d-%x", os.Getpid(), rand.Uint64())
	t.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !os.IsNotExist(err) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// mapping returns the /proc/self/smaps entry of the mapping that starts at
// b's first byte: the header line's fields (range, perms, offset, device,
// inode, path) and the "Key: value" lines after it.
func mapping(t *testing.T, b []byte) (header []string, fields map[string]string) {
	t.Helper()
	start := uint64(uintptr(unsafe.Pointer(&b[0])))
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		words := strings.Fields(line)
		if header != nil {
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.Contains(words[0], "-") {
				fields[k] = strings.TrimSpace(v)
				continue
			}
			return header, fields
		}
		lo, _, ok := strings.Cut(words[0], "-")
		if ok && !strings.HasSuffix(words[0], ":") {
			if a, err := strconv.ParseUint(lo, 16, 64); err == nil && a == start {
				header, fields = words, map[string]string{}
			}
		}
	}
	require.NoError(t, sc.Err())
	require.NotNil(t, header, "no mapping at %#x in /proc/self/smaps", start)
	return header, fields
}

// backing is a way to make a region for the cross-process tests.
type backing struct {
	name string
	make func(t *testing.T) *shm.Region
}

var backings = []backing{
	{"anonymous", func(t *testing.T) *shm.Region {
		r, err := shm.Anonymous(4096)
		require.NoError(t, err)
		t.Cleanup(func() { r.Close() })
		return r
	}},
	{"file", func(t *testing.T) *shm.Region { return create(t, 4096) }},
	{"dev-shm", func(t *testing.T) *shm.Region {
		r, err := shm.Create(devShmName(t), 4096)
		require.NoError(t, err)
		t.Cleanup(func() { r.Close() })
		return r
	}},
}

// A real child process inherits each kind of region and writes into it, or
// checks what the parent wrote into it.
func TestShareInherit(t *testing.T) {
	for _, b := range backings {
		t.Run(b.name, func(t *testing.T) {
			t.Run("child writes", func(t *testing.T) {
				r := b.make(t)
				cmd := helperCmd(t, "inherit", "SHM_TEST_NAME=region", "SHM_TEST_WRITE=written by the child")
				require.NoError(t, r.Share(cmd, "region"))
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s", out)
				assert.Equal(t, "ok size=4096\n", string(out))
				assert.Equal(t, "written by the child", string(r.Bytes()[:20]))
			})
			t.Run("parent writes", func(t *testing.T) {
				r := b.make(t)
				copy(r.Bytes(), "written by the parent")
				cmd := helperCmd(t, "inherit", "SHM_TEST_NAME=region", "SHM_TEST_EXPECT=written by the parent")
				require.NoError(t, r.Share(cmd, "region"))
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s", out)
				assert.Equal(t, "ok size=4096\n", string(out))
			})
			t.Run("child notices a difference", func(t *testing.T) {
				// The check above is only worth something if a child that
				// sees other bytes fails.
				r := b.make(t)
				copy(r.Bytes(), "something else")
				cmd := helperCmd(t, "inherit", "SHM_TEST_NAME=region", "SHM_TEST_EXPECT=written by the parent")
				require.NoError(t, r.Share(cmd, "region"))
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				require.ErrorAs(t, err, &ee, "%s", out)
				assert.Equal(t, 1, ee.ExitCode())
				assert.Contains(t, string(out), `region begins with "something else`)
			})
		})
	}
}

// Several regions travel to one child, each under its own name and
// descriptor.
func TestShareSeveral(t *testing.T) {
	a, b := backings[0].make(t), backings[1].make(t)
	copy(a.Bytes(), "region a")
	copy(b.Bytes(), "region b")
	cmd := helperCmd(t, "inherit", "SHM_TEST_NAME=b", "SHM_TEST_EXPECT=region b")
	require.NoError(t, a.Share(cmd, "a"))
	require.NoError(t, b.Share(cmd, "b"))
	assert.Contains(t, cmd.Env, "SHMRING_FD_a=3")
	assert.Contains(t, cmd.Env, "SHMRING_FD_b=4")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// A child that inherits a region Private writes into its own copy only.
func TestInheritPrivateInChild(t *testing.T) {
	for _, b := range backings {
		t.Run(b.name, func(t *testing.T) {
			r := b.make(t)
			copy(r.Bytes(), "the parent's")
			cmd := helperCmd(t, "inherit", "SHM_TEST_NAME=region", "SHM_TEST_OPTS=private",
				"SHM_TEST_EXPECT=the parent's", "SHM_TEST_WRITE=the child's!")
			require.NoError(t, r.Share(cmd, "region"))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Equal(t, "the parent's", string(r.Bytes()[:12]))
		})
	}
}

// A region the parent holds read-only reaches the child read-only: Inherit
// says so in words unless the child asks for ReadOnly.
func TestInheritReadOnlyInChild(t *testing.T) {
	w := create(t, 4096)
	copy(w.Bytes(), "look, don't touch")
	r, err := shm.Open(w.Path(), shm.ReadOnly())
	require.NoError(t, err)
	defer r.Close()

	cmd := helperCmd(t, "inherit", "SHM_TEST_NAME=region")
	require.NoError(t, r.Share(cmd, "region"))
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Contains(t, string(out), "read-only; inherit it with shm.ReadOnly()")

	cmd = helperCmd(t, "inherit", "SHM_TEST_NAME=region", "SHM_TEST_OPTS=readonly", "SHM_TEST_EXPECT=look, don't touch")
	require.NoError(t, r.Share(cmd, "region"))
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// A store into a read-only mapping kills the process with SIGSEGV; the test
// makes the store in a child, so that it is the child that dies.
func TestReadOnlyStoreFaults(t *testing.T) {
	w := create(t, 4096)
	copy(w.Bytes(), "unchanged")
	out, err := helperCmd(t, "readonly-store", "SHM_TEST_PATH="+w.Path()).CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the child should have died; it said: %s", out)
	ws, ok := ee.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled(), "the child exited with status %d: %s", ws.ExitStatus(), out)
	assert.Equal(t, syscall.SIGSEGV, ws.Signal())
	assert.Equal(t, "unchanged", string(w.Bytes()[:9]))
}

// The kernel's record of each mapping says what the mode promised.
func TestMappingProtection(t *testing.T) {
	w := create(t, 4096)
	ro, err := shm.Open(w.Path(), shm.ReadOnly())
	require.NoError(t, err)
	defer ro.Close()
	priv, err := shm.Open(w.Path(), shm.Private())
	require.NoError(t, err)
	defer priv.Close()
	anon := backings[0].make(t)

	tests := []struct {
		name  string
		r     *shm.Region
		perms string
		path  string
	}{
		{"shared", w, "rw-s", w.Path()},
		{"read-only", ro, "r--s", w.Path()},
		{"private", priv, "rw-p", w.Path()},
		{"anonymous", anon, "rw-s", "/memfd:shmring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header, _ := mapping(t, tt.r.Bytes())
			assert.Equal(t, tt.perms, header[1], "%v", header)
			assert.Equal(t, tt.path, header[5], "%v", header)
		})
	}
}

func TestAnonymous(t *testing.T) {
	r, err := shm.Anonymous(10000)
	require.NoError(t, err)
	defer r.Close()

	assert.Equal(t, 10000, r.Size())
	assert.Len(t, r.Bytes(), 10000)
	assert.Equal(t, "", r.Path())
	assert.True(t, r.Writable())
	assert.Equal(t, make([]byte, 10000), r.Bytes(), "a new region is zero")
	fl, err := unix.FcntlInt(r.File().Fd(), unix.F_GETFD, 0)
	require.NoError(t, err)
	assert.NotZero(t, fl&unix.FD_CLOEXEC, "only Share hands the descriptor on")
	copy(r.Bytes()[9990:], "last bytes")
	assert.Equal(t, "last bytes", string(r.Bytes()[9990:]))
}

func TestAnonymousSealed(t *testing.T) {
	r, err := shm.Anonymous(8192)
	require.NoError(t, err)
	defer r.Close()
	fd := int(r.File().Fd())

	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	assert.Equal(t, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL, seals)

	assert.ErrorIs(t, unix.Ftruncate(fd, 0), unix.EPERM, "shrink to nothing")
	assert.ErrorIs(t, unix.Ftruncate(fd, 4096), unix.EPERM, "shrink")
	assert.ErrorIs(t, unix.Ftruncate(fd, 1<<20), unix.EPERM, "grow")
	assert.ErrorIs(t, unix.Fallocate(fd, 0, 0, 1<<20), unix.EPERM, "grow by fallocate")
	_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_FUTURE_WRITE)
	assert.ErrorIs(t, err, unix.EPERM, "add a seal")

	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))
	assert.EqualValues(t, 8192, st.Size)
	assert.EqualValues(t, unix.S_IFREG, st.Mode&unix.S_IFMT)
}

func TestAnonymousMisuse(t *testing.T) {
	for _, size := range []int{0, -1} {
		_, err := shm.Anonymous(size)
		assert.ErrorIs(t, err, fs.ErrInvalid, "size %d", size)
	}
	_, err := shm.Anonymous(4096, shm.ReadOnly())
	assert.ErrorIs(t, err, fs.ErrInvalid)
	_, err = shm.Anonymous(4096, shm.Perm(0o600))
	assert.ErrorIs(t, err, fs.ErrInvalid)
}

func TestDevShm(t *testing.T) {
	name := devShmName(t)
	r, err := shm.Create(name, 4096)
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, "/dev/shm/"+name, r.Path())
	assert.Equal(t, "/dev/shm/"+name, shm.Resolve(name))

	fi, err := os.Stat("/dev/shm/" + name)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())

	// A second process finds it by the bare name.
	out, err := helperCmd(t, "open-write", "SHM_TEST_PATH="+name, "SHM_TEST_WRITE=found by name").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "found by name", string(r.Bytes()[:13]))

	_, err = shm.Create(name, 4096)
	assert.ErrorIs(t, err, fs.ErrExist)
	require.NoError(t, shm.Remove(name))
	assert.Equal(t, "found by name", string(r.Bytes()[:13]), "removing the name leaves the mapping")
}

// A Create under /dev/shm that fails after making its file removes it.
func TestDevShmCreateFailureRemovesFile(t *testing.T) {
	name := devShmName(t)
	out, err := helperCmd(t, "create-over-fsize", "SHM_TEST_PATH="+name).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "efbig=true left=false")
	_, err = os.Lstat("/dev/shm/" + name)
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// Populate maps every page when the region is made; without it no page is
// mapped until it is touched.
func TestPopulate(t *testing.T) {
	const size = 1 << 20
	lazy, err := shm.Anonymous(size)
	require.NoError(t, err)
	defer lazy.Close()
	eager, err := shm.Anonymous(size, shm.Populate())
	require.NoError(t, err)
	defer eager.Close()

	_, fields := mapping(t, lazy.Bytes())
	assert.Equal(t, "0 kB", fields["Rss"])
	_, fields = mapping(t, eager.Bytes())
	assert.Equal(t, strconv.Itoa(size>>10)+" kB", fields["Rss"])

	file := create(t, size, shm.Populate())
	_, fields = mapping(t, file.Bytes())
	assert.Equal(t, strconv.Itoa(size>>10)+" kB", fields["Rss"])
}

// HugePages marks the mapping for transparent huge pages where the kernel
// has them, and is harmless where it does not.
func TestHugePages(t *testing.T) {
	const size = 4 << 20
	r, err := shm.Anonymous(size, shm.HugePages())
	require.NoError(t, err)
	defer r.Close()
	f := create(t, size, shm.HugePages())

	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage"); err != nil {
		t.Skip("kernel without transparent huge pages:", err)
	}
	for _, b := range [][]byte{r.Bytes(), f.Bytes()} {
		_, fields := mapping(t, b)
		assert.Contains(t, strings.Fields(fields["VmFlags"]), "hg", "VmFlags: %s", fields["VmFlags"])
	}
}

func TestAnonymousFreedWithLastHolder(t *testing.T) {
	// The kernel frees a memfd with its last reference; here that is
	// visible as the /proc/self/fd entry disappearing on Close, with no
	// name anywhere to remove.
	r, err := shm.Anonymous(4096)
	require.NoError(t, err)
	link := filepath.Join("/proc/self/fd", strconv.Itoa(int(r.File().Fd())))
	target, err := os.Readlink(link)
	require.NoError(t, err)
	assert.Equal(t, "/memfd:shmring (deleted)", target)
	require.NoError(t, r.Close())
	_, err = os.Readlink(link)
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
