//go:build unix

package main

import (
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// outputWatch notices when the reader of tail's standard output, a pipe or a
// socket, has gone away, without a write: the write end of a pipe polls
// POLLERR once no reader is left, a socket POLLHUP (GNU tail does the same
// for "tail -f | head"). A goroutine calls a function as soon as it
// happens, so that a tail waiting for messages does not hold a consumer
// role for a reader that is gone.
type outputWatch struct {
	fd   int           // a dup of the output's descriptor; -1: no watch
	wake *os.File      // closing it ends the goroutine's poll
	done chan struct{} // closed when the goroutine has ended
}

// watchOutput watches w if it is a pipe or a socket, and calls onGone, once,
// from a goroutine of its own, when its reader goes away. For other writers
// (terminals, files, buffers) it watches nothing.
func watchOutput(w io.Writer, onGone func()) *outputWatch {
	none := &outputWatch{fd: -1}
	f, ok := w.(*os.File)
	if !ok {
		return none
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&(fs.ModeNamedPipe|fs.ModeSocket) == 0 {
		return none
	}
	// Poll a descriptor of our own (a dup of f's): f's could be closed and
	// reused under the poll, and f.Fd would make it blocking.
	sc, err := f.SyscallConn()
	if err != nil {
		return none
	}
	out := -1
	if cerr := sc.Control(func(fd uintptr) {
		out, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); cerr != nil || err != nil {
		return none
	}
	wakeR, wakeW, err := os.Pipe() // os.Pipe: close-on-exec on every system
	if err != nil {
		unix.Close(out)
		return none
	}
	wake := -1
	if rc, err := wakeR.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { wake = int(fd) }) // valid until wakeR.Close, below
	}
	if wake < 0 {
		unix.Close(out)
		wakeR.Close()
		wakeW.Close()
		return none
	}
	o := &outputWatch{fd: out, wake: wakeW, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		defer wakeR.Close()
		fds := []unix.PollFd{
			{Fd: int32(out)}, // no events asked: POLLERR and POLLHUP come anyway
			{Fd: int32(wake), Events: unix.POLLIN},
		}
		for {
			_, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if err == nil && fds[1].Revents == 0 && readerGone(fds[0].Revents) {
				onGone()
			}
			return
		}
	}()
	return o
}

func readerGone(revents int16) bool { return revents&(unix.POLLERR|unix.POLLHUP) != 0 }

// stop ends the watch and waits for its goroutine.
func (o *outputWatch) stop() {
	if o.fd < 0 {
		return
	}
	o.wake.Close()
	<-o.done
	unix.Close(o.fd)
	o.fd = -1
}
