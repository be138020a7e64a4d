//go:build unix

package shm_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/shm"
)

func init() {
	helpers["inherit"] = helperInherit
	helpers["open-write"] = helperOpenWrite
	helpers["create-over-fsize"] = helperCreateOverFsize
	helpers["exit"] = func() int { return 0 }
}

// helperInherit inherits the region SHM_TEST_NAME with the options in
// SHM_TEST_OPTS (readonly, private), checks that it begins with
// SHM_TEST_EXPECT, writes SHM_TEST_WRITE at its start, and checks what
// Inherit promises about the descriptor and the environment.
func helperInherit() int {
	name := os.Getenv("SHM_TEST_NAME")
	var opts []shm.Option
	for _, o := range strings.Split(os.Getenv("SHM_TEST_OPTS"), ",") {
		switch o {
		case "readonly":
			opts = append(opts, shm.ReadOnly())
		case "private":
			opts = append(opts, shm.Private())
		}
	}
	r, err := shm.Inherit(name, opts...)
	if err != nil {
		fmt.Println("inherit:", err)
		return 1
	}
	defer r.Close()
	if v, ok := os.LookupEnv(shm.EnvName(name)); ok {
		fmt.Printf("%s=%s is still set after Inherit\n", shm.EnvName(name), v)
		return 1
	}
	if fl, err := unix.FcntlInt(r.File().Fd(), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
		fmt.Printf("inherited descriptor is not close-on-exec (flags %#x, %v)\n", fl, err)
		return 1
	}
	if r.Path() != "" {
		fmt.Printf("Path() = %q, want \"\"\n", r.Path())
		return 1
	}
	if want := os.Getenv("SHM_TEST_EXPECT"); want != "" {
		if got := string(r.Bytes()[:len(want)]); got != want {
			fmt.Printf("region begins with %q, want %q\n", got, want)
			return 1
		}
	}
	if w := os.Getenv("SHM_TEST_WRITE"); w != "" {
		copy(r.Bytes(), w)
		if got := string(r.Bytes()[:len(w)]); got != w {
			fmt.Printf("wrote %q, read back %q\n", w, got)
			return 1
		}
	}
	fmt.Printf("ok size=%d\n", r.Size())
	return 0
}

// helperOpenWrite finds a region by its path, SHM_TEST_PATH, rather than
// through an inherited descriptor, and writes SHM_TEST_WRITE at its start.
func helperOpenWrite() int {
	r, err := shm.Open(os.Getenv("SHM_TEST_PATH"))
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	copy(r.Bytes(), os.Getenv("SHM_TEST_WRITE"))
	if err := r.Close(); err != nil {
		fmt.Println("close:", err)
		return 1
	}
	return 0
}

// helperCreateOverFsize makes Create fail after it has made its file: with
// RLIMIT_FSIZE below the region's size, sizing the file fails with EFBIG
// (the Go runtime ignores the SIGXFSZ that comes with it). It prints the
// error and whether the file is still there.
func helperCreateOverFsize() int {
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 64 << 10, Max: 64 << 10}); err != nil {
		fmt.Println("setrlimit:", err)
		return 1
	}
	path := os.Getenv("SHM_TEST_PATH")
	r, err := shm.Create(path, 1<<20)
	if err == nil {
		r.Close()
		fmt.Println("Create succeeded above RLIMIT_FSIZE")
		return 1
	}
	_, statErr := os.Lstat(shm.Resolve(path))
	fmt.Printf("efbig=%v left=%v err=%v\n", errors.Is(err, unix.EFBIG), !errors.Is(statErr, fs.ErrNotExist), err)
	return 0
}

// create makes a file-backed region in a fresh temporary directory and
// closes it when the test ends.
func create(t *testing.T, size int, opts ...shm.Option) *shm.Region {
	t.Helper()
	r, err := shm.Create(filepath.Join(t.TempDir(), "region"), size, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// accessMode returns O_RDONLY, O_WRONLY or O_RDWR for the region's descriptor.
func accessMode(t *testing.T, r *shm.Region) int {
	t.Helper()
	fl, err := unix.FcntlInt(r.File().Fd(), unix.F_GETFL, 0)
	require.NoError(t, err)
	return fl & unix.O_ACCMODE
}

// setUmask sets the process's umask for the rest of the test.
func setUmask(t *testing.T, mask int) {
	old := unix.Umask(mask)
	t.Cleanup(func() { unix.Umask(old) })
}

func TestCreateMode(t *testing.T) {
	tests := []struct {
		name  string
		umask int
		opts  []shm.Option
		want  fs.FileMode
	}{
		{"default", 0o022, nil, 0o600},
		{"default under umask 077", 0o077, nil, 0o600},
		{"0640 under umask 077", 0o077, []shm.Option{shm.Perm(0o640)}, 0o640},
		{"0666 under umask 022", 0o022, []shm.Option{shm.Perm(0o666)}, 0o666},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setUmask(t, tt.umask)
			r := create(t, 4096, tt.opts...)
			fi, err := os.Stat(r.Path())
			require.NoError(t, err)
			assert.Equal(t, tt.want, fi.Mode().Perm())
			assert.True(t, fi.Mode().IsRegular())
			assert.EqualValues(t, 4096, fi.Size())
		})
	}
}

func TestCreateRegion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "region")
	r, err := shm.Create(path, 5000)
	require.NoError(t, err)
	defer r.Close()

	assert.Equal(t, path, r.Path())
	assert.Equal(t, 5000, r.Size())
	assert.Len(t, r.Bytes(), 5000)
	assert.True(t, r.Writable())
	assert.Equal(t, unix.O_RDWR, accessMode(t, r))
	assert.Equal(t, make([]byte, 5000), r.Bytes(), "a new region is zero")
}

func TestCreateExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "taken")
	require.NoError(t, os.WriteFile(path, []byte("keep me"), 0o600))

	_, err := shm.Create(path, 4096)
	require.ErrorIs(t, err, fs.ErrExist)
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "open", pe.Op)
	assert.Equal(t, path, pe.Path)

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "keep me", string(got), "the existing file is untouched")
	assertDir(t, dir, "taken")
}

func TestCreateThroughSymlink(t *testing.T) {
	t.Run("to an existing file", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "target")
		require.NoError(t, os.WriteFile(target, []byte("keep me"), 0o600))
		require.NoError(t, os.Symlink(target, filepath.Join(dir, "link")))

		_, err := shm.Create(filepath.Join(dir, "link"), 4096)
		require.ErrorIs(t, err, fs.ErrExist)
		got, err := os.ReadFile(target)
		require.NoError(t, err)
		assert.Equal(t, "keep me", string(got))
	})
	t.Run("dangling", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.Symlink(filepath.Join(dir, "target"), filepath.Join(dir, "link")))

		_, err := shm.Create(filepath.Join(dir, "link"), 4096)
		require.ErrorIs(t, err, fs.ErrExist)
		assertDir(t, dir, "link") // no target was created through the link
	})
}

func TestCreateBadSize(t *testing.T) {
	for _, size := range []int{0, -1} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			dir := t.TempDir()
			_, err := shm.Create(filepath.Join(dir, "region"), size)
			require.ErrorIs(t, err, fs.ErrInvalid)
			assert.ErrorContains(t, err, "size "+strconv.Itoa(size))
			assertDir(t, dir)
		})
	}
}

// A Create that fails after making its file removes the file.
func TestCreateFailureRemovesFile(t *testing.T) {
	dir := t.TempDir()
	out, err := helperCmd(t, "create-over-fsize", "SHM_TEST_PATH="+filepath.Join(dir, "region")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "efbig=true left=false")
	assertDir(t, dir)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o600))
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name, path, op string
		is             error  // matched with errors.Is, if set
		text           string // in the error's text
	}{
		{"missing", missing, "open", fs.ErrNotExist, "no such file"},
		{"empty", empty, "mmap", nil, "empty file"},
		{"directory", dir, "open", unix.EISDIR, "is a directory"},
		// Open must not wait for a writer on the FIFO: it returns an error.
		{"fifo", fifo, "open", nil, "not a regular file"},
		{"device", "/dev/null", "open", nil, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := shm.Open(tt.path)
			require.Error(t, err)
			assert.Nil(t, r)
			var pe *fs.PathError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.op, pe.Op)
			assert.Equal(t, tt.path, pe.Path)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.ErrorContains(t, err, tt.text)
		})
	}
}

func TestOpenSharesWithCreate(t *testing.T) {
	w := create(t, 4096)
	r, err := shm.Open(w.Path())
	require.NoError(t, err)
	defer r.Close()

	assert.Equal(t, 4096, r.Size())
	assert.Equal(t, w.Path(), r.Path())
	copy(w.Bytes(), "from w")
	assert.Equal(t, "from w", string(r.Bytes()[:6]))
	copy(r.Bytes()[100:], "from r")
	assert.Equal(t, "from r", string(w.Bytes()[100:106]))
}

func TestOpenReadOnly(t *testing.T) {
	w := create(t, 4096)
	copy(w.Bytes(), "shared")
	r, err := shm.Open(w.Path(), shm.ReadOnly())
	require.NoError(t, err)
	defer r.Close()

	assert.False(t, r.Writable())
	assert.Equal(t, unix.O_RDONLY, accessMode(t, r), "a read-only region needs no write access to its file")
	assert.Equal(t, "shared", string(r.Bytes()[:6]))
	copy(w.Bytes(), "SHARED")
	assert.Equal(t, "SHARED", string(r.Bytes()[:6]), "a read-only mapping still sees others' stores")
}

func TestOpenPrivate(t *testing.T) {
	w := create(t, 8192)
	copy(w.Bytes(), "original")
	p, err := shm.Open(w.Path(), shm.Private())
	require.NoError(t, err)
	defer p.Close()
	assert.True(t, p.Writable())
	assert.Equal(t, unix.O_RDONLY, accessMode(t, p), "a private mapping needs only read access")

	copy(p.Bytes(), "private!")
	require.NoError(t, p.Sync())

	assert.Equal(t, "private!", string(p.Bytes()[:8]), "the private mapping sees its own writes")
	assert.Equal(t, "original", string(w.Bytes()[:8]), "a shared mapping does not see them")
	other, err := shm.Open(w.Path())
	require.NoError(t, err)
	defer other.Close()
	assert.Equal(t, "original", string(other.Bytes()[:8]), "a new mapping does not see them")
	onDisk, err := os.ReadFile(w.Path())
	require.NoError(t, err)
	assert.Equal(t, "original", string(onDisk[:8]), "the file does not get them")
}

func TestSyncPersists(t *testing.T) {
	r := create(t, 4096)
	copy(r.Bytes()[1000:], "persisted")
	require.NoError(t, r.Sync())

	onDisk, err := os.ReadFile(r.Path())
	require.NoError(t, err)
	require.Len(t, onDisk, 4096)
	assert.Equal(t, "persisted", string(onDisk[1000:1009]))
}

func TestClose(t *testing.T) {
	r := create(t, 4096)
	path := r.Path()
	require.NoError(t, r.Close())
	require.NoError(t, r.Close(), "a second Close returns nil")

	assert.Nil(t, r.Bytes())
	assert.Nil(t, r.File())
	assert.Equal(t, 4096, r.Size())
	assert.Equal(t, path, r.Path())
	assert.ErrorIs(t, r.Sync(), os.ErrClosed)
	assert.ErrorIs(t, r.Share(exec.Command("true"), "closed"), os.ErrClosed)

	_, err := os.Stat(path)
	assert.NoError(t, err, "Close leaves the file")
	require.NoError(t, shm.Remove(path))
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorIs(t, shm.Remove(path), fs.ErrNotExist)
}

func TestCloseConcurrent(t *testing.T) {
	r := create(t, 4096)
	const n = 8
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_ = r.Bytes()
			errs[i] = r.Close()
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "Close in goroutine %d", i)
	}
	assert.Nil(t, r.Bytes())
}

func TestOptionMisuse(t *testing.T) {
	dir := t.TempDir()
	file := create(t, 4096).Path()
	tests := []struct {
		name string
		call func() (*shm.Region, error)
	}{
		{"Create ReadOnly", func() (*shm.Region, error) { return shm.Create(filepath.Join(dir, "a"), 4096, shm.ReadOnly()) }},
		{"Create Private", func() (*shm.Region, error) { return shm.Create(filepath.Join(dir, "b"), 4096, shm.Private()) }},
		{"Create Perm with type bits", func() (*shm.Region, error) {
			return shm.Create(filepath.Join(dir, "c"), 4096, shm.Perm(fs.ModeSetuid|0o600))
		}},
		{"Open Perm", func() (*shm.Region, error) { return shm.Open(file, shm.Perm(0o600)) }},
		{"Open ReadOnly Private", func() (*shm.Region, error) { return shm.Open(file, shm.ReadOnly(), shm.Private()) }},
		{"Inherit Perm", func() (*shm.Region, error) { return shm.Inherit("x", shm.Perm(0o600)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.call()
			assert.Nil(t, r)
			assert.ErrorIs(t, err, fs.ErrInvalid)
		})
	}
	assertDir(t, dir)
}

func TestResolve(t *testing.T) {
	tests := map[string]string{
		"":           "",
		"/tmp/ring":  "/tmp/ring",
		"./ring":     "./ring",
		"dir/ring":   "dir/ring",
		"/dev/shm/x": "/dev/shm/x",
	}
	for in, want := range tests {
		assert.Equal(t, want, shm.Resolve(in), "Resolve(%q)", in)
	}
	bare := shm.Resolve("ring")
	assert.Equal(t, "ring", filepath.Base(bare))
	assert.True(t, filepath.IsAbs(bare), "Resolve(%q) = %q", "ring", bare)
}

func TestEnvName(t *testing.T) {
	assert.Equal(t, "SHMRING_FD_ring", shm.EnvName("ring"))
}

func TestShareBadName(t *testing.T) {
	r := create(t, 4096)
	for _, name := range []string{"", "a-b", "a b", "a.b", "a=b", "a/b", "é", "ring\n"} {
		cmd := exec.Command("true")
		err := r.Share(cmd, name)
		assert.ErrorIs(t, err, fs.ErrInvalid, "Share(%q)", name)
		assert.Nil(t, cmd.ExtraFiles, "Share(%q) changed ExtraFiles", name)
		assert.Nil(t, cmd.Env, "Share(%q) changed Env", name)

		_, err = shm.Inherit(name)
		assert.ErrorIs(t, err, fs.ErrInvalid, "Inherit(%q)", name)
	}
}

func TestShareSetsDescriptorAndEnv(t *testing.T) {
	r := create(t, 4096)

	t.Run("replaces an existing entry", func(t *testing.T) {
		cmd := exec.Command("true")
		cmd.ExtraFiles = []*os.File{os.Stdin}
		env := []string{"A=1", "SHMRING_FD_x=99", "B=2"}
		cmd.Env = env
		require.NoError(t, r.Share(cmd, "x"))

		require.Len(t, cmd.ExtraFiles, 2)
		assert.Same(t, r.File(), cmd.ExtraFiles[1])
		assert.Equal(t, []string{"A=1", "B=2", "SHMRING_FD_x=4"}, cmd.Env, "ExtraFiles[1] is descriptor 4 in the child")
		assert.Equal(t, []string{"A=1", "SHMRING_FD_x=99", "B=2"}, env, "the caller's slice is untouched")
	})
	t.Run("starts from os.Environ", func(t *testing.T) {
		t.Setenv("SHM_TEST_MARK", "present")
		cmd := exec.Command("true")
		require.NoError(t, r.Share(cmd, "x"))
		assert.Contains(t, cmd.Env, "SHM_TEST_MARK=present")
		assert.Contains(t, cmd.Env, "SHMRING_FD_x=3")
	})
	t.Run("refuses a started command", func(t *testing.T) {
		cmd := helperCmd(t, "exit")
		require.NoError(t, cmd.Run())
		assert.ErrorContains(t, r.Share(cmd, "x"), "already started")
	})
}

func TestInheritMissing(t *testing.T) {
	_, err := shm.Inherit("never_shared")
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.ErrorContains(t, err, "SHMRING_FD_never_shared")
	assert.ErrorContains(t, err, "Share")
}

func TestInheritBadValue(t *testing.T) {
	for _, val := range []string{"", "three", "-1", "3x"} {
		t.Setenv(shm.EnvName("bad"), val)
		_, err := shm.Inherit("bad")
		assert.ErrorIs(t, err, fs.ErrInvalid, "SHMRING_FD_bad=%q", val)
		assert.ErrorContains(t, err, "SHMRING_FD_bad="+val)
	}

	t.Setenv(shm.EnvName("bad"), "99999")
	_, err := shm.Inherit("bad")
	assert.ErrorIs(t, err, unix.EBADF, "a descriptor that is not open")

	dir, err := os.Open(t.TempDir())
	require.NoError(t, err)
	defer dir.Close()
	t.Setenv(shm.EnvName("bad"), strconv.Itoa(int(dir.Fd())))
	_, err = shm.Inherit("bad", shm.ReadOnly())
	assert.ErrorIs(t, err, unix.EISDIR)
	_, isSet := os.LookupEnv(shm.EnvName("bad"))
	assert.True(t, isSet, "a failed Inherit leaves the variable")
}

// Inherit in this process, with a descriptor put in the environment the way
// exec would: the checks that do not need a child.
func TestInheritDescriptor(t *testing.T) {
	w := create(t, 4096)
	copy(w.Bytes(), "inherited")

	// inheritable returns a descriptor for the region's file, opened with
	// flags, that Inherit may take ownership of.
	inheritable := func(flags int) int {
		fd, err := unix.Open(w.Path(), flags|unix.O_CLOEXEC, 0)
		require.NoError(t, err)
		return fd
	}

	t.Run("read-write", func(t *testing.T) {
		t.Setenv(shm.EnvName("rw"), strconv.Itoa(inheritable(unix.O_RDWR)))
		r, err := shm.Inherit("rw")
		require.NoError(t, err)
		defer r.Close()
		assert.Equal(t, "inherited", string(r.Bytes()[:9]))
		assert.Equal(t, 4096, r.Size())
		assert.Equal(t, "", r.Path())
		assert.True(t, r.Writable())
		copy(r.Bytes()[100:], "back")
		assert.Equal(t, "back", string(w.Bytes()[100:104]))

		_, isSet := os.LookupEnv(shm.EnvName("rw"))
		assert.False(t, isSet, "Inherit takes the variable out of the environment")
		_, err = shm.Inherit("rw")
		assert.ErrorIs(t, err, fs.ErrNotExist, "a second Inherit finds nothing")
	})
	t.Run("read-only descriptor", func(t *testing.T) {
		fd := inheritable(unix.O_RDONLY)
		t.Setenv(shm.EnvName("ro"), strconv.Itoa(fd))
		_, err := shm.Inherit("ro")
		require.ErrorIs(t, err, fs.ErrPermission)
		assert.ErrorContains(t, err, "read-only")
		assert.ErrorContains(t, err, "SHMRING_FD_ro=")

		r, err := shm.Inherit("ro", shm.ReadOnly())
		require.NoError(t, err, "a failed Inherit leaves the descriptor and the variable for a retry")
		defer r.Close()
		assert.False(t, r.Writable())
		assert.Equal(t, "inherited", string(r.Bytes()[:9]))
	})
	t.Run("write-only descriptor", func(t *testing.T) {
		fd := inheritable(unix.O_WRONLY)
		defer unix.Close(fd)
		t.Setenv(shm.EnvName("wo"), strconv.Itoa(fd))
		_, err := shm.Inherit("wo")
		require.ErrorIs(t, err, fs.ErrPermission)
		assert.ErrorContains(t, err, "write-only")
	})
}

// A child finds a file-backed region by its path; the parent sees its
// store.
func TestChildOpensByPath(t *testing.T) {
	r := create(t, 4096)
	out, err := helperCmd(t, "open-write", "SHM_TEST_PATH="+r.Path(), "SHM_TEST_WRITE=child was here").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "child was here", string(r.Bytes()[:14]))
}

// assertDir asserts that dir holds exactly the named entries.
func assertDir(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	have := []string{}
	for _, e := range entries {
		have = append(have, e.Name())
	}
	if names == nil {
		names = []string{}
	}
	assert.Equal(t, names, have, "entries of %s", dir)
}
