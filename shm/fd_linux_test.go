package shm_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/shm"
)

// dupFD returns a duplicate of f's descriptor, closed when the test ends
// unless the caller hands it to a region.
func dupFD(t *testing.T, f *os.File) int {
	t.Helper()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	require.NoError(t, err)
	return fd
}

func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

func TestFromFDMapsTheSameMemory(t *testing.T) {
	a, err := shm.Anonymous(8192)
	require.NoError(t, err)
	defer a.Close()
	fd := dupFD(t, a.File())

	b, err := shm.FromFD(fd)
	require.NoError(t, err)
	assert.Equal(t, 8192, b.Size())
	assert.Equal(t, "", b.Path())
	assert.True(t, b.Writable())

	a.Bytes()[100] = 'x'
	assert.Equal(t, byte('x'), b.Bytes()[100], "a store through one mapping is seen through the other")
	b.Bytes()[8191] = 'y'
	assert.Equal(t, byte('y'), a.Bytes()[8191])

	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	require.NoError(t, err)
	assert.NotZero(t, flags&unix.FD_CLOEXEC, "the region's descriptor is close-on-exec")

	require.NoError(t, b.Close())
	assert.False(t, fdOpen(fd), "Close closes the descriptor the region took")
	assert.Equal(t, byte('x'), a.Bytes()[100], "the other mapping lives on")
}

func TestFromFDRefusals(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	full := filepath.Join(dir, "full")
	require.NoError(t, os.WriteFile(full, make([]byte, 4096), 0o600))

	open := func(path string, flag int) int {
		fd, err := unix.Open(path, flag|unix.O_CLOEXEC, 0)
		require.NoError(t, err)
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	var pipe [2]int
	require.NoError(t, unix.Pipe2(pipe[:], unix.O_CLOEXEC))
	t.Cleanup(func() { unix.Close(pipe[0]); unix.Close(pipe[1]) })
	const closed = 1 << 20 // above any descriptor limit: never open

	for _, tc := range []struct {
		name string
		fd   int
		opts []shm.Option
		is   error
		text string
	}{
		{"negative", -1, nil, fs.ErrInvalid, "not a descriptor"},
		{"closed", closed, nil, unix.EBADF, "fcntl"},
		{"empty", open(empty, unix.O_RDWR), nil, shm.ErrEmpty, "empty"},
		{"directory", open(dir, unix.O_RDONLY), []shm.Option{shm.ReadOnly()}, unix.EISDIR, ""},
		{"pipe", pipe[0], []shm.Option{shm.ReadOnly()}, shm.ErrNotRegular, ""},
		{"read-only descriptor, read-write mapping", open(full, unix.O_RDONLY), nil, fs.ErrPermission, "shm.ReadOnly()"},
		{"write-only descriptor", open(full, unix.O_WRONLY), nil, fs.ErrPermission, "write-only"},
		{"an option for Create", open(full, unix.O_RDWR), []shm.Option{shm.Perm(0o644)}, fs.ErrInvalid, "Perm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := shm.FromFD(tc.fd, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, r)
			assert.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.text)
			var pe *os.PathError
			assert.ErrorAs(t, err, &pe, "errors name the step and the descriptor")
			if tc.fd >= 0 && tc.fd != closed {
				assert.True(t, fdOpen(tc.fd), "on failure the caller keeps the descriptor")
			}
		})
	}
}

func TestFromFDReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, []byte("hello, world"), 0o600))
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	r, err := shm.FromFD(fd, shm.ReadOnly())
	require.NoError(t, err)
	defer r.Close()
	assert.False(t, r.Writable())
	assert.Equal(t, "hello, world", string(r.Bytes()))
}

func TestSeals(t *testing.T) {
	a, err := shm.Anonymous(4096)
	require.NoError(t, err)
	defer a.Close()
	s, err := shm.Seals(int(a.File().Fd()))
	require.NoError(t, err)
	want := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
	assert.Equal(t, want, s&want, "Anonymous seals against shrinking, growing and further seals")

	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, []byte("x"), 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = shm.Seals(int(f.Fd()))
	assert.Error(t, err, "a file on disk carries no seals")
}
