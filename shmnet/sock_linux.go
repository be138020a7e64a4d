package shmnet

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// peerCred returns the credentials of the process at the other end of c,
// as the kernel recorded them at connect time.
func peerCred(c *net.UnixConn) (Cred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Cred{}, err
	}
	var uc *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		uc, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Cred{}, err
	}
	if serr != nil {
		return Cred{}, os.NewSyscallError("getsockopt SO_PEERCRED", serr)
	}
	return Cred{PID: int(uc.Pid), UID: int(uc.Uid), GID: int(uc.Gid)}, nil
}

// rights returns the descriptors in the control messages oob, and an
// error for anything else in it. The descriptors are the caller's to
// close, also with an error.
func rights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, protoErr("control message: %v", err)
	}
	var fds []int
	var bad error
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			bad = protoErr("a control message of level %d, type %d: only SCM_RIGHTS belongs in the hello", m.Header.Level, m.Header.Type)
			continue
		}
		got, err := unix.ParseUnixRights(m)
		if err != nil {
			bad = protoErr("SCM_RIGHTS: %v", err)
			continue
		}
		fds = append(fds, got...)
	}
	return fds, bad
}

func closeAll(fds []int) {
	for _, fd := range fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// describeFD says what a descriptor is, for errors: "a directory", "a
// file of 4096 bytes without seals".
func describeFD(st *unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFIFO:
		return "a pipe"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	}
	return fmt.Sprintf("a file of mode %#o", st.Mode)
}
