package ring

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// processAlive reports whether the process with pid that recorded start
// time start (0: unknown) still runs; false only on proof (see proc.go).
func processAlive(pid int, start uint64) bool {
	if unix.Kill(pid, 0) == unix.ESRCH {
		return false // no process has the pid
	}
	// The pid exists, or exists and is not ours to signal (EPERM). Whether
	// it is still the process on record, and still running, needs more.
	if exited(pid) {
		return false
	}
	me := self()
	if !me.proc {
		return true // /proc, if any, does not show our pids: nothing to compare
	}
	state, st, err := readStat(pid)
	if err != nil {
		// Hidden from us (hidepid), or gone since kill: the next look
		// will know.
		return true
	}
	if state == 'Z' || state == 'X' || state == 'x' {
		return false // exited, not yet reaped by its parent
	}
	return start == 0 || st == 0 || st == start
}

// exited reports whether the process with pid has exited: a zombie, which
// kill(pid, 0) does not tell from a running process. A pidfd turns readable
// when its process exits; it needs neither /proc nor permission over the
// process (Linux 5.3). Where there is no pidfd, the answer is false.
func exited(pid int) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err == unix.ESRCH // reaped since kill looked
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n == 1 && fds[0].Revents&unix.POLLIN != 0
	}
}

// readSelf reads this process's identity. /proc is believed for other pids
// only if /proc/self/stat holds our own pid: an empty file system mounted
// over /proc has no such file, and the proc of another pid namespace shows
// us under another pid, if at all.
func readSelf() identity {
	pid := os.Getpid()
	id := identity{pid: uint32(pid), pidns: pidNamespace()}
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return id
	}
	statPID, _, _ := bytes.Cut(b, []byte(" "))
	_, st, err := parseStat(b)
	if err != nil || st == 0 {
		return id
	}
	id.start = st
	id.proc = string(statPID) == strconv.Itoa(pid)
	return id
}

// readStat returns the state (field 3) and the start time (field 22) of
// /proc/PID/stat: the start time in clock ticks after boot, which with the
// pid names a process uniquely until the next reboot.
func readStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (state byte, start uint64, err error) {
	// The command name (field 2) may hold spaces and parentheses: the
	// fields we want come after its last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("ring: unexpected /proc stat format")
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, 0, errors.New("ring: unexpected /proc stat format")
	}
	start, err = strconv.ParseUint(fields[19], 10, 64) // field 22 overall
	if err != nil {
		return 0, 0, err
	}
	return fields[0][0], start, nil
}

// pidNamespace returns the inode of this process's pid namespace, from
// /proc or, without it, from a pidfd; 0 if neither can tell.
func pidNamespace() uint64 {
	if n := procPidNamespace(); n != 0 {
		return n
	}
	return pidfdPidNamespace()
}

// procPidNamespace reads the link /proc/self/ns/pid -> "pid:[4026531836]".
func procPidNamespace() uint64 {
	s, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return 0
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "pid:["), "]")
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// pidfdGetPidNamespace is PIDFD_GET_PID_NAMESPACE, _IO(0xFF, 5) in
// <linux/pidfd.h>, which golang.org/x/sys/unix lacks.
const pidfdGetPidNamespace = 0xff05

// pidfdPidNamespace asks a pidfd of this process for its pid namespace
// (Linux 6.11) and returns the inode of the namespace file it hands out,
// the number /proc/self/ns/pid shows.
func pidfdPidNamespace() uint64 {
	pfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return 0
	}
	defer unix.Close(pfd)
	ns, err := unix.IoctlRetInt(pfd, pidfdGetPidNamespace)
	if err != nil {
		return 0
	}
	defer unix.Close(ns)
	var st unix.Stat_t
	if unix.Fstat(ns, &st) != nil {
		return 0
	}
	return st.Ino
}
