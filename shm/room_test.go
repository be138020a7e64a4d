//go:build linux

package shm_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/shm"
)

// The tests of refused sizes run in children whose RLIMIT_FSIZE is 1 MiB:
// if the check that refuses a size ever failed, fallocate would then say
// EFBIG instead of filling the machine's memory.
func init() {
	helpers["too-big"] = helperTooBig
	helpers["small-tmpfs"] = helperSmallTmpfs
}

const fsizeLimit = 1 << 20

var exbibyte uint64 = 1 << 60

func limitFileSize() error {
	return unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: fsizeLimit, Max: fsizeLimit})
}

// helperTooBig asks for regions larger than memory, and a file larger than
// /dev/shm, and checks that each is refused with ErrTooBig before anything
// is reserved. SHM_TEST_PATH is a bare name for the file.
func helperTooBig() int {
	if err := limitFileSize(); err != nil {
		fmt.Println("setrlimit:", err)
		return 1
	}
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		fmt.Println("sysinfo:", err)
		return 1
	}
	machine := int((uint64(si.Totalram) + uint64(si.Totalswap)) * uint64(si.Unit))
	eib := int(exbibyte) // the test runs on 64-bit systems only
	failed := false
	expect := func(what string, err error, errno syscall.Errno, text string) {
		fmt.Printf("%s: %v\n", what, err)
		var pe *fs.PathError
		switch {
		case !errors.Is(err, shm.ErrTooBig):
			fmt.Printf("%s: want an error matching ErrTooBig\n", what)
		case !errors.Is(err, errno):
			fmt.Printf("%s: want an error matching %v\n", what, errno)
		case !errors.As(err, &pe):
			fmt.Printf("%s: want an *fs.PathError\n", what)
		case !strings.Contains(err.Error(), text):
			fmt.Printf("%s: want %q in the text\n", what, text)
		default:
			return
		}
		failed = true
	}
	_, err := shm.Anonymous(eib)
	expect("anonymous 1 EiB", err, syscall.ENOMEM, "anonymous memfd:shmring: size 1 EiB exceeds the ")
	_, err = shm.Anonymous(machine + 4096)
	expect("anonymous RAM+swap+4096", err, syscall.ENOMEM, " exceeds the ")
	name := os.Getenv("SHM_TEST_PATH")
	_, err = shm.Create(name, eib)
	expect("create 1 EiB", err, syscall.ENOSPC, "create /dev/shm/"+name+": size 1 EiB exceeds the ")
	if _, err := os.Lstat(shm.Resolve(name)); !errors.Is(err, fs.ErrNotExist) {
		fmt.Println("the refused file is left behind:", err)
		failed = true
	}
	r, err := shm.Anonymous(64 << 10)
	if err != nil {
		fmt.Println("anonymous 64 KiB:", err)
		return 1
	}
	r.Close()
	if failed {
		return 1
	}
	return 0
}

// helperSmallTmpfs runs as root in a mount namespace of its own: it mounts
// a 1 MiB tmpfs on the directory SHM_TEST_PATH and makes a region larger
// than it and one that fits.
func helperSmallTmpfs() int {
	if err := limitFileSize(); err != nil {
		fmt.Println("setrlimit:", err)
		return 1
	}
	dir := os.Getenv("SHM_TEST_PATH")
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Println("make mounts private:", err)
		return 1
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		fmt.Println("mount:", err)
		return 1
	}
	big := filepath.Join(dir, "big")
	_, err := shm.Create(big, 2<<20)
	fmt.Println("create 2 MiB:", err)
	want := "create " + big + ": size 2 MiB exceeds the 1 MiB free on its file system"
	if !errors.Is(err, shm.ErrTooBig) || !errors.Is(err, syscall.ENOSPC) || err.Error() != want {
		fmt.Printf("want %q, matching ErrTooBig and ENOSPC\n", want)
		return 1
	}
	if _, err := os.Lstat(big); !errors.Is(err, fs.ErrNotExist) {
		fmt.Println("the refused file is left behind:", err)
		return 1
	}
	r, err := shm.Create(filepath.Join(dir, "small"), 256<<10)
	if err != nil {
		fmt.Println("create 256 KiB:", err)
		return 1
	}
	r.Close()
	return 0
}

// Regions larger than memory, or than /dev/shm has free, are refused with
// ErrTooBig, naming both numbers.
func TestTooBig(t *testing.T) {
	if ^uint(0)>>32 == 0 {
		t.Skip("32-bit: no int holds an exbibyte")
	}
	name := devShmName(t)
	out, err := helperCmd(t, "too-big", "SHM_TEST_PATH="+name).CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err, "%s", out)
}

// A file larger than its file system has free is refused before fallocate.
func TestTooBigForFileSystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a small tmpfs in a mount namespace")
	}
	cmd := helperCmd(t, "small-tmpfs", "SHM_TEST_PATH="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EPERM) {
		t.Skip("may not make a mount namespace here:", err)
	}
	t.Logf("%s", out)
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "exceeds the 1 MiB free on its file system")
}
