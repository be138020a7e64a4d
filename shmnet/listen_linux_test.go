package shmnet_test

import (
	"context"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/shmnet"
)

// TestListenMode: the socket has mode 0600 unless Perm says otherwise,
// whatever the umask.
func TestListenMode(t *testing.T) {
	for _, tc := range []struct {
		umask int
		perm  fs.FileMode
		want  fs.FileMode
	}{
		{0, 0, 0o600},
		{0o077, 0, 0o600},
		{0o027, 0o660, 0o660},
		{0, 0o666, 0o666},
	} {
		old := unix.Umask(tc.umask)
		path := filepath.Join(t.TempDir(), "s")
		ln, err := (&shmnet.ListenConfig{Perm: tc.perm}).Listen(path)
		unix.Umask(old)
		require.NoError(t, err)
		fi, err := os.Lstat(path)
		require.NoError(t, err)
		assert.Equal(t, fs.ModeSocket, fi.Mode().Type())
		assert.Equal(t, tc.want, fi.Mode().Perm(), "umask %#o, Perm %v", tc.umask, tc.perm)
		ln.Close()
	}
	_, err := (&shmnet.ListenConfig{Perm: fs.ModeSetuid | 0o600}).Listen(filepath.Join(t.TempDir(), "s"))
	assert.Error(t, err, "only permission bits")
}

// TestListenLiveSocket: a second Listen on the path of a live listener
// fails and leaves it serving.
func TestListenLiveSocket(t *testing.T) {
	ln, _ := reportingListener(t, shmnet.ListenConfig{})
	_, err := shmnet.Listen(ln.Addr().String())
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.Contains(t, err.Error(), "a live server is listening there")
	stillServes(t, ln.Addr().String())
}

// TestListenStaleSocket: a socket left by a listener that is gone is
// replaced. (The real-process version, with a killed server, is
// TestServerRestart.)
func TestListenStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	require.NoError(t, err)
	require.NoError(t, unix.Bind(fd, &unix.SockaddrUnix{Name: path}))
	require.NoError(t, unix.Listen(fd, 1))
	require.NoError(t, unix.Close(fd)) // the socket file stays, with nobody behind it
	_, err = net.Dial("unix", path)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)

	ln, err := shmnet.Listen(path)
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(c, c)
			c.Close()
		}
	}()
	stillServes(t, path)
}

// TestListenNotASocket: a file that is not a socket is never removed.
func TestListenNotASocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	require.NoError(t, os.WriteFile(path, []byte("precious"), 0o600))
	_, err := shmnet.Listen(path)
	require.Error(t, err)
	assert.ErrorIs(t, err, fs.ErrExist)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "precious", string(b))
}

// TestListenerClose: Close ends a waiting Accept and every later one, and
// removes the socket file; accepted connections go on.
func TestListenerClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := shmnet.Listen(path)
	require.NoError(t, err)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		assert.NoError(t, err)
		accepted <- c
	}()
	client, err := shmnet.Dial(context.Background(), path)
	require.NoError(t, err)
	defer client.Close()
	server := <-accepted
	defer server.Close()

	errc := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		errc <- err
	}()
	require.True(t, blocked(errc))
	require.NoError(t, ln.Close())
	assert.ErrorIs(t, <-errc, net.ErrClosed)
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
	assert.ErrorIs(t, ln.Close(), net.ErrClosed, "a second Close fails")
	_, err = os.Lstat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist, "Close removes the socket file")

	_, err = client.Write([]byte("still"))
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = io.ReadFull(server, buf)
	require.NoError(t, err)
	assert.Equal(t, "still", string(buf), "an accepted connection outlives its listener")
}

// TestListenerCloseLeavesOthersSocket: Close does not remove a socket
// that another listener has put at the path since.
func TestListenerCloseLeavesOthersSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	first, err := shmnet.Listen(path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
	second, err := shmnet.Listen(path)
	require.NoError(t, err)
	defer second.Close()
	require.NoError(t, first.Close())
	_, err = os.Lstat(path)
	assert.NoError(t, err, "the second listener's socket is still there")
}

// TestListenerClosesUnaccepted: a connection whose handshake succeeded but
// that nobody accepted is closed with the listener: its dialer reads EOF.
func TestListenerClosesUnaccepted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := shmnet.Listen(path)
	require.NoError(t, err)
	c, err := shmnet.Dial(context.Background(), path)
	require.NoError(t, err, "the handshake does not wait for Accept")
	defer c.Close()
	require.NoError(t, ln.Close())
	n, err := c.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.Equal(t, io.EOF, err)
}
