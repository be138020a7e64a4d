//go:build unix

package shm

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Share passes the region to the child process cmd will start, under name
// (letters, digits and underscores). It appends the region's descriptor to
// cmd.ExtraFiles and sets SHMRING_FD_<name> ([EnvName]) in cmd.Env to the
// descriptor's number in the child, starting cmd.Env from os.Environ() if it
// is nil; in the child, [Inherit](name) maps the region. Anonymous and
// file-backed regions travel alike, and the child may be any program.
//
// The region must stay open until cmd.Start returns, which is when the child
// gets its copy of the descriptor; closing it afterwards does not affect the
// child.
func (r *Region) Share(cmd *exec.Cmd, name string) error {
	if err := checkName("share", name); err != nil {
		return err
	}
	if cmd.Process != nil {
		return fmt.Errorf("shm: share %q: the command has already started", name)
	}
	f := r.File()
	if f == nil {
		return &os.PathError{Op: "share", Path: r.name, Err: errClosed}
	}
	// exec gives the child ExtraFiles[i] as descriptor 3+i, after stdin,
	// stdout and stderr.
	fd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = setEnv(env, EnvName(name), strconv.Itoa(fd))
	return nil
}

// setEnv returns env with key set to value, in a new slice: entries for key
// are dropped, so that the child sees one value whatever its libc does with
// duplicates, and the caller's slice is left as it was.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// Inherit maps the region a parent passed to this process with
// [Region.Share] under name. It reads the descriptor number from
// SHMRING_FD_<name> ([EnvName]), checks that the descriptor is open, is a
// regular file or memfd and is open for the access the options need, and maps
// it whole. Options: ReadOnly (needed for a descriptor opened read-only),
// Private, Populate, HugePages.
//
// On success the region owns the descriptor: Inherit marks it close-on-exec
// and removes the variable from the environment, as systemd's
// sd_listen_fds(1) does with the descriptors it hands over. A program this
// process starts therefore neither inherits the descriptor by accident nor
// finds a variable naming a descriptor it does not have, and a second
// Inherit of the same name fails instead of making a second owner. On
// failure both are left as they were, so a retry with other options works.
//
// Without the variable, Inherit returns an error naming it that matches
// [fs.ErrNotExist].
func Inherit(name string, opts ...Option) (*Region, error) {
	if err := checkName("inherit", name); err != nil {
		return nil, err
	}
	key := EnvName(name)
	o := collect(opts)
	if err := o.check(forOpen); err != nil {
		return nil, &os.PathError{Op: "inherit", Path: key, Err: err}
	}
	val, ok := os.LookupEnv(key)
	if !ok {
		return nil, &wrapError{fmt.Sprintf("shm: inherit %q: environment variable %s is not set (was the region passed with Region.Share?)", name, key), fs.ErrNotExist}
	}
	desc := key + "=" + val // what errors and File().Name() call the region
	fd, err := strconv.Atoi(val)
	if err != nil || fd < 0 {
		return nil, &os.PathError{Op: "inherit", Path: desc, Err: invalid("the value is not a descriptor number")}
	}
	// F_GETFL tells both whether the descriptor is open (EBADF) and how; a
	// mismatch is reported here in words rather than as EACCES from mmap.
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "inherit", Path: desc, Err: os.NewSyscallError("fcntl", err)}
	}
	switch acc := fl & unix.O_ACCMODE; {
	case acc == unix.O_WRONLY:
		return nil, &os.PathError{Op: "inherit", Path: desc, Err: &wrapError{"the descriptor is open write-only; a mapping needs read access", fs.ErrPermission}}
	case acc == unix.O_RDONLY && o.needWrite():
		return nil, &os.PathError{Op: "inherit", Path: desc, Err: &wrapError{"the descriptor is open read-only; inherit it with shm.ReadOnly() or shm.Private()", fs.ErrPermission}}
	}
	size, op, err := mappableSize(fd)
	if err != nil {
		return nil, &os.PathError{Op: op, Path: desc, Err: err}
	}
	r, err := mapFile(fd, desc, "", size, o)
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	if err := os.Unsetenv(key); err != nil {
		r.Close()
		return nil, &os.PathError{Op: "inherit", Path: desc, Err: err}
	}
	return r, nil
}

// checkName accepts the names Share and Inherit can put in an environment
// variable's name unquoted: letters, digits and underscores, so that a shell
// script in between passes the variable on and can read it.
func checkName(op, name string) error {
	ok := name != ""
	for _, c := range name {
		ok = ok && (c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9')
	}
	if !ok {
		return invalid(fmt.Sprintf("shm: %s %q: a name must be letters, digits and underscores", op, name))
	}
	return nil
}
