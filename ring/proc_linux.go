package ring

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// processAlive reads /proc/PID/stat. A missing entry, a zombie (killed but
// not yet reaped by its parent) or a different start time (the pid was
// reused) all mean the process we knew is gone.
func processAlive(pid int, start uint64) bool {
	state, st, err := readStat(pid)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	if state == 'Z' || state == 'X' || state == 'x' {
		return false
	}
	return start == 0 || st == 0 || st == start
}

// startTime returns field 22 of /proc/PID/stat: the start time of the
// process in clock ticks after boot. With the pid it names a process
// uniquely until the next reboot.
func startTime(pid int) uint64 {
	_, st, _ := readStat(pid)
	return st
}

func readStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
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

// pidNamespace returns the inode of this process's pid namespace, from the
// link /proc/self/ns/pid -> "pid:[4026531836]".
func pidNamespace() uint64 {
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
