package main

// The commands on byte rings (spsc-bytes, mpsc-bytes): messages of varying
// lengths through send and tail, and what stat and ls say of a data area.
// The tests of each command run byte rings too, through allKinds.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
)

// lengthsLine is line i of a test input: i, then x's up to a length that
// runs through every length from the shortest to max, in an order that
// puts records of every size at every offset of a small data area.
func lengthsLine(prefix string, i, max int) string {
	head := prefix + strconv.Itoa(i) + " "
	n := (i * 37) % (max + 1)
	if n < len(head) {
		return head
	}
	return head + strings.Repeat("x", n-len(head))
}

// Send and tail -lines in processes of their own, through a data area of
// 256 bytes that the messages, of every length from a few bytes to the
// largest, wrap many times, with padding at the end of the area: the
// output is the input, byte for byte.
func TestByteRingPipelineLengths(t *testing.T) {
	for _, kind := range []string{"spsc-bytes", "mpsc-bytes"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "r")
			in := filepath.Join(dir, "in")
			var text strings.Builder
			for i := range 500 {
				text.WriteString(lengthsLine("", i, 64) + "\n")
			}
			text.WriteString(strings.Repeat("z", 63)) // the largest, with its mark: a last line without a newline
			require.NoError(t, os.WriteFile(in, []byte(text.String()), 0o600))

			got, err := helperCmd(t, "ops-cli", envArgs+"="+strings.Join([]string{"create", path, "-kind", kind, "-capacity", "256"}, "\n")).CombinedOutput()
			require.NoError(t, err, "%s", got)
			k, err := ring.ParseKind(kind)
			require.NoError(t, err)
			size, err := ring.Size(ring.Config{Kind: k, Capacity: 256, SlotSize: 64})
			require.NoError(t, err)
			assert.Equal(t, "created "+path+": "+kind+", 256 bytes of data, messages up to 64 bytes, "+humanBytes(int64(size))+", mode 0600\n", string(got))

			tailer := helperCmd(t, "ops-cli", envArgs+"=tail\n-lines\n"+path)
			var out, tailErr strings.Builder
			tailer.Stdout, tailer.Stderr = &out, &tailErr
			require.NoError(t, tailer.Start())

			sender := helperCmd(t, "ops-cli", envArgs+"=send\n"+path+"\n-shutdown")
			f, err := os.Open(in)
			require.NoError(t, err)
			defer f.Close()
			sender.Stdin = f
			got, err = sender.CombinedOutput()
			require.NoError(t, err, "%s", got)
			assert.Equal(t, "sent 501 messages to "+path+"\n", string(got))

			require.NoError(t, tailer.Wait(), tailErr.String())
			assert.Empty(t, tailErr.String())
			assert.Equal(t, text.String(), out.String())
		})
	}
}

// Three send processes into one mpsc-bytes ring, and tail in this process:
// every line arrives once, each sender's in its order.
func TestByteRingManySenders(t *testing.T) {
	const senders, lines = 3, 200
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.MPSCBytes, Capacity: 512, SlotSize: 100})
	var procs []*child
	for p := range senders {
		var in strings.Builder
		for i := range lines {
			in.WriteString(lengthsLine(fmt.Sprintf("%d:", p), i, 100) + "\n")
		}
		c := startChild(t, "ops-cli", envArgs+"=send\n"+path)
		procs = append(procs, c)
		go func() {
			_, _ = c.stdin.Write([]byte(in.String()))
			_ = c.stdin.Close()
		}()
	}

	status, out, errOut := runCmd("tail", "-lines", "-n", strconv.Itoa(senders*lines), path)
	require.Equal(t, 0, status, errOut)
	for _, c := range procs {
		assert.Equal(t, fmt.Sprintf("sent %d messages to %s\n", lines, path), c.rest(t))
		c.wait(t)
	}
	next := make([]int, senders)
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		p, rest, ok := strings.Cut(l, ":")
		require.True(t, ok, "%q", l)
		s, err := strconv.Atoi(p)
		require.NoError(t, err, "%q", l)
		require.Less(t, s, senders, "%q", l)
		assert.Equal(t, lengthsLine(p+":", next[s], 100), p+":"+rest, "sender %d's line %d", s, next[s])
		next[s]++
	}
	assert.Equal(t, []int{lines, lines, lines}, next)
}

// Stat of a byte ring: the data area and the largest message, the
// positions in 8-byte units, the messages queued, and the bytes their
// records take (headers and padding included) and the bytes free.
func TestStatByteRing(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSCBytes, Capacity: 4096})
	prod := holder(t, path, "produce", 3) // "held 0".."held 2": 6 bytes, a record of 16 each
	defer prod.release(t)

	status, out, errOut := runCmd("stat", path)
	require.Equal(t, 0, status, errOut)
	for _, want := range []string{
		`(?m)^kind +spsc-bytes$`,
		`(?m)^capacity +4096 bytes of data, messages up to 1024 bytes$`,
		`(?m)^size +8192 bytes \(file 8192 bytes\)$`,
		`(?m)^tail +6 \(producer position, in 8-byte units\)$`,
		`(?m)^head +0 \(consumer position, in 8-byte units\)$`,
		`(?m)^queued +3 messages$`,
		`(?m)^bytes +48 used \(headers and padding included\), 4048 free \(1\.2% full\)$`,
		`(?m)^shutdown +no$`,
		`(?m)^processes +1 registered, live$`,
		fmt.Sprintf(`(?m)^  0 +%d +producer +alive$`, prod.pid()),
	} {
		assert.Regexp(t, want, out)
	}
	assert.NotRegexp(t, `(?m)^slots `, out, "a byte ring has no slots")
	assert.NotContains(t, out, " of 4096 ", "queued is not out of a number of slots")

	status, out, errOut = runCmd("stat", "-json", path)
	require.Equal(t, 0, status, errOut)
	var rep statReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	used, free := 48, 4048
	rep.Created = time.Time{}
	assert.Equal(t, statReport{
		Path: path, Kind: "spsc-bytes", Version: ring.LayoutVersion, Capacity: 4096, SlotSize: 1024,
		Size: 8192, FileSize: 8192, CreatorPID: os.Getpid(),
		Tail: 6, Head: 0, Queued: 3, BytesUsed: &used, BytesFree: &free, FillPercent: 100 * 48.0 / 4096,
		State: "live", Processes: []processReport{{Record: 0, PID: prod.pid(), Role: "producer", Alive: true}},
	}, rep)
	var raw map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	assert.NotContains(t, raw, "released")
	assert.NotContains(t, raw, "slots")
}

// Padding counts as used: a record that does not fit before the end of
// the data area starts at its beginning, after padding to the end, and the
// bytes line counts the padding until the consumer has passed it.
func TestStatByteRingPadding(t *testing.T) {
	for _, kind := range []ring.Kind{ring.SPSCBytes, ring.MPSCBytes} {
		t.Run(kind.String(), func(t *testing.T) {
			path := newRing(t, t.TempDir(), "r", ring.Config{Kind: kind, Capacity: 64, SlotSize: 16})
			r := openRing(t, path)
			msg := []byte("sixteen bytes ..") // a record of 24 bytes
			require.NoError(t, r.TryPush(msg))
			require.NoError(t, r.TryPush(msg))
			_, err := r.TryPop(make([]byte, 16))
			require.NoError(t, err)
			require.NoError(t, r.TryPush(msg)) // 16 bytes left at the end: padding, then the record at 0

			status, out, errOut := runCmd("stat", path)
			require.Equal(t, 0, status, errOut)
			assert.Regexp(t, `(?m)^queued +2 messages$`, out)
			assert.Regexp(t, `(?m)^bytes +64 used \(headers and padding included\), 0 free \(100\.0% full\)$`, out)
			assert.ErrorIs(t, r.TryPush([]byte{1}), ring.ErrFull)

			_, err = r.TryPop(make([]byte, 16)) // the second: the padding after it is passed by the next pop
			require.NoError(t, err)
			status, out, errOut = runCmd("stat", path)
			require.Equal(t, 0, status, errOut)
			assert.Regexp(t, `(?m)^queued +1 message$`, out)
			assert.Regexp(t, `(?m)^bytes +40 used \(headers and padding included\), 24 free \(62\.5% full\)$`, out)

			_, err = r.TryPop(make([]byte, 16)) // the padding, and the third
			require.NoError(t, err)
			status, out, errOut = runCmd("stat", path)
			require.Equal(t, 0, status, errOut)
			assert.Regexp(t, `(?m)^queued +0 messages$`, out)
			assert.Regexp(t, `(?m)^bytes +0 used \(headers and padding included\), 64 free \(0\.0% full\)$`, out)
		})
	}
}

// -watch on a byte ring gives rates in bytes per second, which its
// positions measure (they count no messages).
func TestStatWatchByteRing(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.MPSCBytes, Capacity: 1024})
	status, out, errOut := runCmd("stat", "-watch", "-json", "-interval", "1ms", "-count", "2", path)
	require.Equal(t, 0, status, errOut)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2, out)
	var rep statReport
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &rep), lines[1])
	require.NotNil(t, rep.Rates)
	assert.Equal(t, "bytes", rep.Rates.Unit)

	status, out, errOut = runCmd("stat", "-watch", "-interval", "1ms", "-count", "2", path)
	require.Equal(t, 0, status, errOut)
	assert.Regexp(t, `(?m)^rate +in 0 bytes/s, out 0 bytes/s \(over \d+\.\d\ds\)$`, out)
}

// Ls: the kind, and a capacity column that says data area and largest
// message; the fill is of the data area.
func TestLsByteRings(t *testing.T) {
	dir := t.TempDir()
	newRing(t, dir, "a", ring.Config{Kind: ring.SPSCBytes, Capacity: 1 << 16})
	b := newRing(t, dir, "b", ring.Config{Kind: ring.MPSCBytes, Capacity: 4096, SlotSize: 1000})
	r := openRing(t, b)
	require.NoError(t, r.TryPush(make([]byte, 1000))) // 1008 bytes of 4096
	newRing(t, dir, "c", ring.Config{Kind: ring.SPSC, Capacity: 4, SlotSize: 8})

	status, out, errOut := runCmd("ls", dir)
	require.Equal(t, 0, status, errOut)
	lines := strings.Split(out, "\n")
	require.Len(t, lines, 5, out)
	for i, want := range []string{
		`^NAME +KIND +CAPACITY +FILE +FILL +SHUTDOWN +STATE$`,
		`^a +spsc-bytes +64KiB max 16KiB +68\.0KiB +0\.0% +no +unused$`,
		fmt.Sprintf(`^b +mpsc-bytes +4KiB max 1000B +12\.0KiB +24\.6%% +no +live \[%d\]$`, os.Getpid()), // header, claim entries, data
		`^c +spsc +4x8 +`,
		`^$`,
	} {
		assert.Regexp(t, want, lines[i])
	}

	status, out, errOut = runCmd("ls", "-json", dir)
	require.Equal(t, 0, status, errOut)
	var list []lsEntry
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Len(t, list, 3)
	assert.Equal(t, lsEntry{
		Name: "b", Path: b, Ring: true, Kind: "mpsc-bytes", Capacity: 4096, SlotSize: 1000,
		FileSize: 12288, Queued: 1, FillPercent: 100 * 1008.0 / 4096, State: "live", PIDs: []int{os.Getpid()},
	}, list[1])
}

// Ls of "." lists the rings there, not the files of the same names in
// /dev/shm (a bare name means one).
func TestLsCurrentDirectory(t *testing.T) {
	dir := t.TempDir()
	newRing(t, dir, fmt.Sprintf("shmring-cmd-test-%d", os.Getpid()), ring.Config{Kind: ring.SPSCBytes, Capacity: 64})
	t.Chdir(dir)
	status, out, errOut := runCmd("ls", ".")
	require.Equal(t, 0, status, errOut)
	assert.Regexp(t, fmt.Sprintf(`(?m)^shmring-cmd-test-%d +spsc-bytes +64B max 16B +`, os.Getpid()), out)

	status, out, errOut = runCmd("ls", "-json", ".")
	require.Equal(t, 0, status, errOut)
	var list []lsEntry
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Len(t, list, 1)
	assert.Equal(t, fmt.Sprintf("./shmring-cmd-test-%d", os.Getpid()), list[0].Path)
}

// A ring whose header names a kind this shmring does not know is listed,
// as that.
func TestLsUnknownKind(t *testing.T) {
	dir := t.TempDir()
	p := newRing(t, dir, "future", ring.Config{Kind: ring.MPSCBytes, Capacity: 64})
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{9, 0, 0, 0}, 12) // the kind word
	require.NoError(t, err)
	require.NoError(t, f.Close())

	status, out, errOut := runCmd("ls", dir)
	require.Equal(t, 0, status, errOut)
	assert.Regexp(t, `(?m)^future +- +- +8\.1KiB +- +- +unknown kind$`, out)
	status, out, errOut = runCmd("ls", "-json", dir)
	require.Equal(t, 0, status, errOut)
	var list []lsEntry
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Len(t, list, 1)
	assert.Equal(t, "unknown kind", list[0].State)
	assert.Regexp(t, `is a ring of a kind this shmring does not know .*: kind 9 is not SPSC`, list[0].Error)
}

// A message longer than a byte ring's largest stops send, which says so in
// the byte ring's terms.
func TestSendByteRingTooLong(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		flags       []string
		sent        int
		want        []string
		errOut      string
	}{
		{"line", "a\n" + strings.Repeat("b", 17) + "\nc\n", nil, 1, []string{"a"},
			"shmring send: message 2 is 17 bytes, more than the ring's largest message, 16 bytes: stopped after 1 message\n"},
		{"the largest fits", strings.Repeat("b", 16) + "\n", nil, 1, []string{strings.Repeat("b", 16)}, ""},
		{"marked", strings.Repeat("b", 16), nil, 0, nil,
			"shmring send: message 1, a last line without a newline, is 17 bytes with the newline that marks it, " +
				"more than the ring's largest message, 16 bytes: stopped after 0 messages\n"},
		{"raw", strings.Repeat("b", 17), []string{"-raw"}, 0, nil,
			"shmring send: standard input holds more than the ring's largest message, 16 bytes: stopped after 0 messages\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSCBytes, Capacity: 64})
			withStdin(t, strings.NewReader(tc.input))
			status, out, errOut := runCmd(append(append([]string{"send"}, tc.flags...), path)...)
			assert.Equal(t, tc.errOut, errOut)
			assert.Equal(t, map[bool]int{true: 0, false: 1}[tc.errOut == ""], status)
			assert.Equal(t, fmt.Sprintf("sent %s to %s\n", plural(tc.sent, "message"), path), out)
			assert.Equal(t, tc.want, drain(t, openRing(t, path)))
		})
	}
}

// One producer and one consumer at a time on spsc-bytes, one consumer on
// mpsc-bytes: send and tail say which ring refused them.
func TestByteRingRolesBusy(t *testing.T) {
	for _, kind := range []ring.Kind{ring.SPSCBytes, ring.MPSCBytes} {
		t.Run(kind.String(), func(t *testing.T) {
			path := newRing(t, t.TempDir(), "r", ring.Config{Kind: kind, Capacity: 64})
			cons := holder(t, path, "consume", 0)
			defer cons.release(t)
			status, out, errOut := runCmd("tail", path)
			assert.Equal(t, 1, status)
			assert.Empty(t, out)
			assert.Regexp(t, fmt.Sprintf(`^shmring tail: %s: .*pid %d\b.*: an %s ring has one consumer\n$`, regexp.QuoteMeta(path), cons.pid(), kind), errOut)
		})
	}

	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSCBytes, Capacity: 64})
	prod := holder(t, path, "produce", 0)
	defer prod.release(t)
	withStdin(t, strings.NewReader("x\n"))
	status, _, errOut := runCmd("send", path)
	assert.Equal(t, 1, status)
	assert.Regexp(t, fmt.Sprintf(`^shmring send: %s: .*pid %d\b.*: an spsc-bytes ring has one producer\n$`, regexp.QuoteMeta(path), prod.pid()), errOut)

	// Many producers are welcome on mpsc-bytes.
	path = newRing(t, t.TempDir(), "m", ring.Config{Kind: ring.MPSCBytes, Capacity: 64})
	other := holder(t, path, "produce", 1)
	defer other.release(t)
	withStdin(t, strings.NewReader("x\n"))
	status, out, errOut := runCmd("send", path)
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "sent 1 message to "+path+"\n", out)
	got := drain(t, openRing(t, path))
	slices.Sort(got)
	assert.Equal(t, []string{"held 0", "x"}, got)
}

func TestExactBytes(t *testing.T) {
	for n, want := range map[int]string{
		0: "0B", 1: "1B", 64: "64B", 1000: "1000B", 1023: "1023B", 1024: "1KiB", 1536: "1536B",
		65536: "64KiB", 1 << 20: "1MiB", 3 << 20: "3MiB", 1 << 30: "1GiB", 1<<30 + 1024: "1048577KiB",
	} {
		assert.Equal(t, want, exactBytes(n), "%d", n)
	}
}
