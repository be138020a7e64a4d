package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
)

// lsFixture makes a directory holding a live ring (a producer process holds
// it), a stale one (its consumer was SIGKILLed), an unused one, a corrupt
// one, and files that are not rings. It returns the directory and the live
// producer.
func lsFixture(t *testing.T) (dir string, live *child) {
	t.Helper()
	dir = t.TempDir()
	livePath := newRing(t, dir, "live", ring.Config{Kind: ring.MPMC, Capacity: 16, SlotSize: 64})
	live = holder(t, livePath, "produce", 4)
	t.Cleanup(func() { live.release(t) })
	stale := newRing(t, dir, "stale", ring.Config{Kind: ring.SPSC, Capacity: 8, SlotSize: 8})
	deadHolder(t, stale, "consume")
	newRing(t, dir, "unused", ring.Config{Kind: ring.SPSC, Capacity: 2, SlotSize: 1})
	corrupt := newRing(t, dir, "corrupt", ring.Config{Kind: ring.SPSC, Capacity: 4, SlotSize: 8})
	f, err := os.OpenFile(corrupt, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{3, 0, 0, 0}, 16) // capacity 3
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte(strings.Repeat("not a ring\n", 500)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "subdir"), 0o700))
	return dir, live
}

func TestLs(t *testing.T) {
	dir, live := lsFixture(t)

	status, out, errOut := runCmd("ls", dir)
	require.Equal(t, 0, status, errOut)
	file := func(cfg ring.Config) string { // the file size column of a ring of cfg
		size, err := ring.Size(cfg)
		require.NoError(t, err)
		return regexp.QuoteMeta(humanBytes(int64(size)))
	}
	lines := strings.Split(out, "\n")
	require.Len(t, lines, 6, out)
	for i, want := range []string{
		`^NAME +KIND +CAPACITY +FILE +FILL +SHUTDOWN +STATE$`,
		`^corrupt +- +- +` + file(ring.Config{Kind: ring.SPSC, Capacity: 4, SlotSize: 8}) + ` +- +- +corrupt$`,
		fmt.Sprintf(`^live +mpmc +16x64 +%s +25\.0%% +no +live \[%d\]$`, file(ring.Config{Kind: ring.MPMC, Capacity: 16, SlotSize: 64}), live.pid()),
		`^stale +spsc +8x8 +` + file(ring.Config{Kind: ring.SPSC, Capacity: 8, SlotSize: 8}) + ` +0\.0% +no +stale$`,
		`^unused +spsc +2x1 +` + file(ring.Config{Kind: ring.SPSC, Capacity: 2, SlotSize: 1}) + ` +0\.0% +no +unused$`,
		`^$`,
	} {
		assert.Regexp(t, want, lines[i])
	}

	status, out, errOut = runCmd("ls", "-a", dir)
	require.Equal(t, 0, status, errOut)
	assert.Regexp(t, `(?m)^empty +- +- +0B +- +- +not a ring$`, out)
	assert.Regexp(t, `(?m)^notes\.txt +- +- +5\.4KiB +- +- +not a ring$`, out)
	assert.NotContains(t, out, "subdir")
	assert.Equal(t, 7, strings.Count(out, "\n"), out)

	status, out, errOut = runCmd("ls", "-json", dir)
	require.Equal(t, 0, status, errOut)
	var list []lsEntry
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	byName := map[string]lsEntry{}
	for _, e := range list {
		byName[e.Name] = e
	}
	require.Len(t, byName, 4, out)
	assert.Equal(t, lsEntry{
		Name: "live", Path: filepath.Join(dir, "live"), Ring: true, Kind: "mpmc", Capacity: 16, SlotSize: 64,
		FileSize: 4096 + 16*(64+64), Queued: 4, FillPercent: 25, State: "live", PIDs: []int{live.pid()},
	}, byName["live"])
	assert.Equal(t, "stale", byName["stale"].State)
	assert.Equal(t, "unused", byName["unused"].State)
	assert.Equal(t, "corrupt", byName["corrupt"].State)
	assert.False(t, byName["corrupt"].Ring)
	assert.Contains(t, byName["corrupt"].Error, "capacity 3 is not a power of two")

	// Once the holder closes its handle, the ring is unused.
	live.release(t)
	status, out, errOut = runCmd("ls", dir)
	require.Equal(t, 0, status, errOut)
	assert.Regexp(t, `(?m)^live +mpmc +16x64 +6\.0KiB +25\.0% +no +unused$`, out)
}

func TestLsEmptyAndMissingDir(t *testing.T) {
	status, out, errOut := runCmd("ls", t.TempDir())
	assert.Equal(t, 0, status, errOut)
	assert.Equal(t, "NAME  KIND  CAPACITY  FILE  FILL  SHUTDOWN  STATE\n", out)

	status, out, errOut = runCmd("ls", "-json", t.TempDir())
	assert.Equal(t, 0, status, errOut)
	assert.Equal(t, "[]\n", out)

	missing := filepath.Join(t.TempDir(), "missing")
	status, _, errOut = runCmd("ls", missing)
	assert.Equal(t, 1, status)
	assert.Equal(t, "shmring ls: open "+missing+": no such file or directory\n", errOut)
}
