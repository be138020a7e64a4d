package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
)

// A pipeline of separate processes needs no program: create, then send in
// one process and tail -lines in another, with files for standard input
// and output.
func TestCreateSendTailPipeline(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			capacity := "4" // slots; a byte ring's data area of 256 bytes holds 4 of the largest
			if isBytes(kind) {
				capacity = "256"
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "r")
			in := filepath.Join(dir, "in")
			outPath := filepath.Join(dir, "out")
			var text strings.Builder
			for i := range 100 {
				fmt.Fprintf(&text, "line %d\t\xff\n\n", i) // more lines than slots: send waits for room
			}
			text.WriteString("the end, without a newline")
			require.NoError(t, os.WriteFile(in, []byte(text.String()), 0o600))

			create := helperCmd(t, "ops-cli", envArgs+"="+strings.Join([]string{"create", path, "-kind", kind.String(), "-capacity", capacity, "-slot", "64"}, "\n"))
			got, err := create.CombinedOutput()
			require.NoError(t, err, "%s", got)

			tailer := helperCmd(t, "ops-cli", envArgs+"=tail\n"+path+"\n-lines")
			out, err := os.Create(outPath)
			require.NoError(t, err)
			defer out.Close()
			tailer.Stdout = out
			var tailErr strings.Builder
			tailer.Stderr = &tailErr
			require.NoError(t, tailer.Start())

			sender := helperCmd(t, "ops-cli", envArgs+"=send\n-shutdown\n"+path)
			f, err := os.Open(in)
			require.NoError(t, err)
			defer f.Close()
			sender.Stdin = f
			got, err = sender.CombinedOutput()
			require.NoError(t, err, "%s", got)
			assert.Equal(t, "sent 201 messages to "+path+"\n", string(got))

			require.NoError(t, tailer.Wait(), tailErr.String())
			assert.Empty(t, tailErr.String())
			b, err := os.ReadFile(outPath)
			require.NoError(t, err)
			assert.Equal(t, text.String(), string(b))
		})
	}
}

// What create refuses: a bad command line (status 2, with the usage) and a
// ring it cannot make (status 1, with the reason).
func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	exists := newRing(t, dir, "exists", ring.Config{Kind: ring.SPSC, Capacity: 2, SlotSize: 8})
	for _, tc := range []struct {
		args   []string
		status int
		want   string // stderr's first line, after "shmring create: "
	}{
		{[]string{}, 2, "missing argument"},
		{[]string{"a", "b"}, 2, `unexpected argument "b"`},
		{[]string{"-kind", "fifo", "x"}, 2, `invalid value "fifo" for flag -kind: "fifo" is not spsc, mpmc, spsc-bytes or mpsc-bytes`},
		{[]string{"x", "-capacity", "1000"}, 2, "capacity 1000 is not a power of two"},
		{[]string{"x", "-capacity", "1"}, 2, "capacity 1 is below 2"},
		{[]string{"x", "-capacity", "lots"}, 2, `invalid value "lots" for flag -capacity: parse error`},
		{[]string{"x", "-slot", "0"}, 2, "slot size 0 is below 1"},
		{[]string{"x", "-kind", "spsc-bytes", "-capacity", "32"}, 2, "capacity 32 is below 64 bytes, the smallest data area of a byte ring"},
		{[]string{"x", "-kind", "mpsc-bytes", "-capacity", "4096", "-slot", "1025"}, 2,
			"slot size 1025 is above a quarter of the data area, the largest message of a byte ring"},
		{[]string{"x", "-kind", "spsc-bytes", "-capacity", "1000"}, 2, "capacity 1000 is not a power of two"},
		{[]string{"x", "-kind", "spsc-bytes", "-slot", "-1"}, 2, "slot size -1 is below 1"},
		{[]string{"x", "-capacity", "1e3"}, 2, `invalid value "1e3" for flag -capacity: parse error`},
		{[]string{"x", "-slot", "99999999999999999999"}, 2, `invalid value "99999999999999999999" for flag -slot: value out of range`},
		{[]string{"x", "-mode", "0800"}, 2, `invalid value "0800" for flag -mode: "0800" is not permission bits in octal (0000 to 0777)`},
		{[]string{"x", "-mode", "01777"}, 2, `invalid value "01777" for flag -mode: "01777" is not permission bits in octal (0000 to 0777)`},
		{[]string{exists}, 1, "open " + exists + ": file exists"},
		{[]string{filepath.Join(dir, "no", "such", "dir")}, 1, "open " + filepath.Join(dir, "no", "such", "dir") + ": no such file or directory"},
	} {
		status, out, errOut := runCmd(append([]string{"create"}, tc.args...)...)
		assert.Equal(t, tc.status, status, "%q", tc.args)
		assert.Empty(t, out, "%q", tc.args)
		first, rest, _ := strings.Cut(errOut, "\n")
		assert.Equal(t, "shmring create: "+tc.want, first, "%q", tc.args)
		if tc.status == 2 {
			assert.Equal(t, "\n"+createSpec.usage(), rest, "%q: the usage follows", tc.args)
		} else {
			assert.Empty(t, rest, "%q: one line", tc.args)
		}
	}
	// The ring that was there is untouched, and nothing else was left.
	r := openRing(t, exists)
	assert.Equal(t, ring.Config{Kind: ring.SPSC, Capacity: 2, SlotSize: 8}, r.Config())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}
