package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

// A ring with a live producer that queued messages, and the record of a
// consumer that was SIGKILLed: stat shows both, text and JSON.
func TestStatRingInUse(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 8, SlotSize: 32})
	dead := deadHolder(t, path, "consume")
	prod := holder(t, path, "produce", 3)
	defer prod.release(t)

	status, out, errOut := runCmd("stat", path)
	require.Equal(t, 0, status, errOut)
	for _, want := range []string{
		`(?m)^ring +` + regexp.QuoteMeta(path) + `$`,
		`(?m)^kind +spsc$`,
		fmt.Sprintf(`(?m)^version +%d$`, ring.LayoutVersion),
		`(?m)^capacity +8 slots x 32 bytes$`,
		`(?m)^creator +pid ` + fmt.Sprint(os.Getpid()) + `, `,
		`(?m)^tail +3 \(producer position\)$`,
		`(?m)^head +0 \(consumer position; released to the producer: 0\)$`,
		`(?m)^queued +3 of 8 \(37\.5% full\)$`,
		`(?m)^shutdown +no$`,
		`(?m)^asleep +0 producers waiting for room, 0 consumers waiting for messages$`,
		`(?m)^processes +2 registered, live$`,
		fmt.Sprintf(`(?m)^  0 +%d +producer +alive$`, prod.pid()),
		fmt.Sprintf(`(?m)^  1 +%d +consumer +dead$`, dead),
	} {
		assert.Regexp(t, want, out)
	}
	assert.NotContains(t, out, "rate", "rates are for -watch")

	status, out, errOut = runCmd("stat", "-json", path)
	require.Equal(t, 0, status, errOut)
	var rep statReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	size, err := ring.Size(ring.Config{Kind: ring.SPSC, Capacity: 8, SlotSize: 32})
	require.NoError(t, err)
	released := uint64(0)
	assert.WithinDuration(t, time.Now(), rep.Created, time.Hour)
	rep.Created = time.Time{}
	assert.Equal(t, statReport{
		Path: path, Kind: "spsc", Version: ring.LayoutVersion, Capacity: 8, SlotSize: 32,
		Size: size, FileSize: size, CreatorPID: os.Getpid(),
		Tail: 3, Head: 0, Released: &released, Queued: 3, FillPercent: 37.5,
		State: "live",
		Processes: []processReport{
			{Record: 0, PID: prod.pid(), Role: "producer", Alive: true},
			{Record: 1, PID: dead, Role: "consumer", Alive: false},
		},
	}, rep)

	// Stat changed nothing: the messages are still there for a consumer.
	r := openRing(t, path)
	assert.Equal(t, []string{"held 0", "held 1", "held 2"}, drain(t, r))
}

// -watch on a ring that a producer and a consumer process use at full
// speed: each refresh is a complete snapshot, and from the second one on
// it carries rates.
func TestStatWatchBusyRing(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.MPMC, Capacity: 64, SlotSize: 16})
	prod := startChild(t, "ops-produce", envRing+"="+path, envCount+"=-1")
	cons := startChild(t, "ops-consume", envRing+"="+path)

	status, out, errOut := runCmd("stat", "-watch", "-json", "-interval", "1ms", "-count", "3", path)
	require.Equal(t, 0, status, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 3, out)
	for i, l := range lines {
		var rep statReport
		require.NoError(t, json.Unmarshal([]byte(l), &rep), l)
		assert.Equal(t, "mpmc", rep.Kind)
		assert.LessOrEqual(t, rep.Queued, 64)
		if i == 0 {
			assert.Nil(t, rep.Rates, "no rates before a second sample")
		} else if assert.NotNil(t, rep.Rates) {
			assert.Positive(t, rep.Rates.Seconds)
			assert.GreaterOrEqual(t, rep.Rates.InPerSec, 0.0)
			assert.GreaterOrEqual(t, rep.Rates.OutPerSec, 0.0)
		}
	}

	status, out, errOut = runCmd("stat", "-watch", "-interval", "1ms", "-count", "2", path)
	require.Equal(t, 0, status, errOut)
	assert.Regexp(t, `(?m)^rate +\(measuring\)$`, out)
	assert.Regexp(t, `(?m)^rate +in \d+/s, out \d+/s \(over \d+\.\d\ds\)$`, out)
	assert.Equal(t, 2, strings.Count(out, "\nkind "), out)

	require.NoError(t, openRing(t, path).Shutdown())
	prod.wait(t)
	_ = cons.rest(t)
	cons.wait(t)
}

func TestRateMeter(t *testing.T) {
	t0 := time.Now()
	type step struct {
		after      time.Duration
		tail, head uint64
		in, out    float64
		ok         bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"first sample has no rate", []step{{0, 100, 50, 0, 0, false}}},
		{"steady", []step{
			{0, 100, 50, 0, 0, false},
			{time.Second, 1100, 550, 1000, 500, true},
			{3 * time.Second, 1100, 1050, 0, 250, true},
		}},
		{"no time passed", []step{{0, 0, 0, 0, 0, false}, {0, 10, 10, 0, 0, false}}},
		{"an MPMC hint steps back: no progress, then counted from the highest", []step{
			{0, 1000, 1000, 0, 0, false},
			{time.Second, 990, 995, 0, 0, true},
			{2 * time.Second, 1010, 1005, 10, 5, true},
		}},
		{"positions near 2^64 wrap", []step{
			{0, 1<<64 - 10, 1<<64 - 20, 0, 0, false},
			{time.Second / 2, 1<<64 - 5, 1<<64 - 10, 10, 20, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m rateMeter
			for i, s := range tc.steps {
				in, out, _, ok := m.update(t0.Add(s.after), s.tail, s.head)
				assert.Equal(t, s.ok, ok, "step %d", i)
				assert.InDelta(t, s.in, in, 1e-9, "step %d in", i)
				assert.InDelta(t, s.out, out, 1e-9, "step %d out", i)
			}
		})
	}
}

// Files that are not rings, or are broken rings, give an error naming the
// problem and status 1; a bad command line gives status 2.
func TestStatErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	// A ring whose header word at off is set to v, as another process
	// writing outside the protocol would.
	scribbled := func(name string, off int64, v uint32) string {
		p := newRing(t, dir, name, ring.Config{Kind: ring.SPSC, Capacity: 4, SlotSize: 8})
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteAt(binary.LittleEndian.AppendUint32(nil, v), off)
		require.NoError(t, err)
		require.NoError(t, f.Close())
		return p
	}
	truncatedCfg := ring.Config{Kind: ring.SPSC, Capacity: 1024, SlotSize: 64}
	truncated := newRing(t, dir, "truncated", truncatedCfg)
	require.NoError(t, os.Truncate(truncated, 8192))
	truncatedSize, err := ring.Size(truncatedCfg)
	require.NoError(t, err)
	next := ring.LayoutVersion + 1

	for _, tc := range []struct {
		name string
		path string
		want string
	}{
		{"missing", filepath.Join(dir, "missing"), `no such file or directory`},
		{"bad magic", write("text", []byte(strings.Repeat("hello, world\n", 400))),
			`is not a ring: magic 0x77202c6f6c6c6568 is not "SHMRING1"`},
		{"too small", write("small", []byte("SHMRING1")), `is not a ring: region size 8 is below the 4096-byte header`},
		{"empty", write("empty", nil), `is not a ring: not a regular file with contents`},
		{"directory", dir, `is not a ring: not a regular file with contents`},
		{"zero magic", write("zeros", make([]byte, 8192)), `is not ready: its magic word is zero`},
		{"other version", scribbled("other", 8, uint32(next)),
			fmt.Sprintf(`is not a ring this shmring can read: version %d is not the supported version %d`, next, ring.LayoutVersion)},
		{"bad capacity", scribbled("cap", 16, 1000), `is a corrupt ring: capacity 1000 is not a power of two`},
		{"unknown kind", scribbled("kind", 12, 7), `is a ring of a kind this shmring does not know \(made by a newer shmring, or its header is corrupt\): ` +
			`kind 7 is not SPSC \(1\), MPMC \(2\), SPSCBytes \(3\) or MPSCBytes \(4\)\n$`},
		{"kind 0", scribbled("kind0", 12, 0), `is a ring of a kind this shmring does not know .*: kind 0 is not SPSC`},
		{"fixed ring called a byte ring", scribbled("bytes", 12, uint32(ring.SPSCBytes)),
			`is a corrupt ring: capacity 4 is below 64 bytes, the smallest data area of a byte ring\n$`},
		{"truncated", truncated, fmt.Sprintf(`is a corrupt ring: total size %d exceeds the 8192-byte region \(truncated\?\)`, truncatedSize)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{{"stat", tc.path}, {"stat", "-json", tc.path}} {
				status, out, errOut := runCmd(args...)
				assert.Equal(t, 1, status)
				assert.Empty(t, out)
				assert.Regexp(t, `^shmring stat: .*`+tc.want, errOut)
				assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			}
		})
	}
}

// A file truncated after stat mapped it: the next read faults (SIGBUS),
// and that is an error, not a crash.
func TestStatFileTruncatedUnderTheMapping(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 8, SlotSize: 8})
	in, err := inspect(path)
	require.NoError(t, err)
	defer in.close()
	_, err = report(in)
	require.NoError(t, err)

	require.NoError(t, os.Truncate(path, 0))
	_, err = report(in)
	require.ErrorIs(t, err, errFault)
	assert.Contains(t, err.Error(), path)

	// The guard is off again after it: a fault outside it would crash.
	old := debug.SetPanicOnFault(false)
	assert.False(t, old)
}

// A ring under /dev/shm, named by its bare name.
func TestStatBareNameInDevShm(t *testing.T) {
	name := fmt.Sprintf("shmring-cmd-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	r, err := ring.Create(name, ring.Config{Kind: ring.MPMC, Capacity: 4, SlotSize: 8})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	t.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Error(err)
		}
	})

	status, out, errOut := runCmd("stat", name)
	require.Equal(t, 0, status, errOut)
	assert.Regexp(t, `(?m)^ring +/dev/shm/`+name+`$`, out)
	assert.Regexp(t, `(?m)^processes +0 registered, unused$`, out)

	status, out, errOut = runCmd("ls")
	require.Equal(t, 0, status, errOut)
	assert.Regexp(t, `(?m)^`+name+` +mpmc +4x8 +`, out)

	status, out, errOut = runCmd("rm", name)
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "removed /dev/shm/"+name+"\n", out)
	_, err = os.Stat("/dev/shm/" + name)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// Every command prints its usage for -h (status 0, on stdout) and for a
// bad command line (status 2, on stderr, after the problem).
func TestOpsUsage(t *testing.T) {
	for _, name := range []string{"stat", "ls", "rm", "tail", "send"} {
		t.Run(name, func(t *testing.T) {
			status, out, errOut := runCmd(name, "-h")
			assert.Equal(t, 0, status)
			assert.Empty(t, errOut)
			assert.True(t, strings.HasPrefix(out, "usage: shmring "+name+" "), out)
			assert.Contains(t, out, "\nFlags:\n")

			status, out, _ = runCmd("help", name)
			assert.Equal(t, 0, status)
			assert.True(t, strings.HasPrefix(out, "usage: shmring "+name+" "), out)

			status, out, errOut = runCmd(name, "-no-such-flag", "x")
			assert.Equal(t, 2, status)
			assert.Empty(t, out)
			first, _, _ := strings.Cut(errOut, "\n")
			assert.Equal(t, "shmring "+name+": flag provided but not defined: -no-such-flag", first)
			assert.Contains(t, errOut, "usage: shmring "+name+" ")
		})
	}
	for _, args := range [][]string{{"stat"}, {"stat", "a", "b"}, {"ls", "a", "b"}, {"rm"}, {"tail"}, {"send"}} {
		status, _, errOut := runCmd(args...)
		assert.Equal(t, 2, status, "%v", args)
		sc := bufio.NewScanner(strings.NewReader(errOut))
		require.True(t, sc.Scan())
		assert.Regexp(t, `^shmring `+args[0]+`: (missing argument|unexpected argument "[ab]")$`, sc.Text(), "%v", args)
	}
}
