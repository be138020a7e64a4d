package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRm(t *testing.T) {
	dir, live := lsFixture(t)
	path := func(name string) string { return filepath.Join(dir, name) }
	exists := func(name string) bool {
		_, err := os.Stat(path(name))
		return err == nil
	}

	// One call, every kind of path: each is reported, and the refusals make
	// the status 1.
	status, out, errOut := runCmd("rm", path("live"), path("stale"), path("unused"), path("notes.txt"), path("missing"), path("subdir"))
	assert.Equal(t, 1, status)
	assert.Equal(t, "removed "+path("stale")+"\nremoved "+path("unused")+"\n", out)
	assert.Equal(t, strings.Join([]string{
		fmt.Sprintf("shmring rm: %s is in use by pid %d (producer); not removed (-f removes it anyway)", path("live"), live.pid()),
		`shmring rm: ` + path("notes.txt") + ` is not a ring: magic 0x6972206120746f6e is not "SHMRING1"; not removed (-f removes it anyway)`,
		"shmring rm: stat " + path("missing") + ": no such file or directory",
		"shmring rm: " + path("subdir") + " is not a ring: not a regular file with contents; not removed (-f removes it anyway)",
		"",
	}, "\n"), errOut)
	assert.True(t, exists("live"))
	assert.True(t, exists("notes.txt"))
	assert.False(t, exists("stale"))
	assert.False(t, exists("unused"))

	// -f removes the live ring and the file that is not a ring; the missing
	// file and the directory are still errors.
	status, out, errOut = runCmd("rm", "-f", path("live"), path("notes.txt"), path("corrupt"))
	assert.Equal(t, 0, status, errOut)
	assert.Equal(t, "removed "+path("live")+"\nremoved "+path("notes.txt")+"\nremoved "+path("corrupt")+"\n", out)
	status, _, errOut = runCmd("rm", "-f", path("missing"), path("subdir"))
	assert.Equal(t, 1, status)
	assert.Equal(t, "shmring rm: stat "+path("missing")+": no such file or directory\n"+
		"shmring rm: remove "+path("subdir")+": is a directory\n", errOut)

	// The holder of the removed live ring still has it mapped, and closes
	// its handle and exits as usual.
	live.release(t)
}
