package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args []string
		rest []string
		b    bool
		n    int
		err  string
	}{
		{nil, nil, false, 0, ""},
		{[]string{"a"}, []string{"a"}, false, 0, ""},
		{[]string{"-b", "a"}, []string{"a"}, true, 0, ""},
		{[]string{"a", "-b"}, []string{"a"}, true, 0, ""},
		{[]string{"a", "-n", "3", "b", "-b"}, []string{"a", "b"}, true, 3, ""},
		{[]string{"-n=3", "a", "b"}, []string{"a", "b"}, false, 3, ""},
		{[]string{"a", "--", "-b", "-n"}, []string{"a", "-b", "-n"}, false, 0, ""},
		{[]string{"--", "a"}, []string{"a"}, false, 0, ""},
		{[]string{"-b", "--"}, nil, true, 0, ""},
		{[]string{"-", "-b"}, []string{"-"}, true, 0, ""},
		{[]string{"a", "-n"}, nil, false, 0, "flag needs an argument: -n"},
		{[]string{"a", "-x"}, nil, false, 0, "flag provided but not defined: -x"},
		{[]string{"a", "-h"}, nil, false, 0, flag.ErrHelp.Error()},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		b := fs.Bool("b", false, "")
		n := fs.Int("n", 0, "")
		rest, err := parseInterleaved(fs, tc.args)
		if tc.err != "" {
			assert.EqualError(t, err, tc.err, "%q", tc.args)
			continue
		}
		require.NoError(t, err, "%q", tc.args)
		assert.Equal(t, tc.rest, rest, "%q", tc.args)
		assert.Equal(t, tc.b, *b, "%q", tc.args)
		assert.Equal(t, tc.n, *n, "%q", tc.args)
	}
}

// Every command takes its flags after its arguments too.
func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "demo")

	status, out, errOut := runCmd("create", path, "-kind", "mpmc", "-capacity", "4", "-slot", "32")
	require.Equal(t, 0, status, errOut)
	assert.Contains(t, out, "mpmc, 4 slots x 32 bytes")

	withStdin(t, strings.NewReader("one\ntwo\n"))
	status, out, errOut = runCmd("send", path, "-shutdown")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "sent 2 messages to "+path+"\n", out)

	status, out, errOut = runCmd("stat", path, "-json")
	require.Equal(t, 0, status, errOut)
	var rep statReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, 2, rep.Queued)
	assert.True(t, rep.Shutdown)

	status, out, errOut = runCmd("ls", dir, "-json")
	require.Equal(t, 0, status, errOut)
	var list []lsEntry
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Len(t, list, 1)
	assert.Equal(t, "demo", list[0].Name)

	status, out, errOut = runCmd("tail", path, "-text", "-n", "1")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "one\n", out)
	status, out, errOut = runCmd("tail", path, "-lines")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "two\n", out)

	// A live holder makes rm refuse; -f after the path overrides it.
	prod := holder(t, path, "produce", 0)
	defer prod.release(t)
	status, _, errOut = runCmd("rm", path)
	require.Equal(t, 1, status, errOut)
	status, out, errOut = runCmd("rm", path, "-f")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "removed "+path+"\n", out)

	// After "--", what looks like a flag is an argument: here a bare name,
	// so a ring in /dev/shm.
	name := fmt.Sprintf("-shmring-cmd-test-%d", os.Getpid())
	t.Cleanup(func() { _ = shm.Remove(name) })
	status, out, errOut = runCmd("create", "-capacity", "2", "-slot", "1", "--", name)
	require.Equal(t, 0, status, errOut)
	assert.Contains(t, out, "created /dev/shm/"+name+": spsc, 2 slots x 1 byte, ")
	status, out, errOut = runCmd("rm", "--", name, "-f")
	require.Equal(t, 1, status, "-f is a path after --")
	assert.Equal(t, "removed /dev/shm/"+name+"\n", out)
	assert.Equal(t, "shmring rm: stat /dev/shm/-f: no such file or directory\n", errOut)
}

// Bad flag values are a bad command line: status 2, the problem, then the
// usage, for every command.
func TestBadFlagValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stat", "x", "-interval", "0s"}, "-interval 0s: must be positive"},
		{[]string{"stat", "x", "-interval", "soon"}, `invalid value "soon" for flag -interval: parse error`},
		{[]string{"stat", "x", "-count", "-1"}, "-count -1: must not be negative"},
		{[]string{"stat", "-json=maybe", "x"}, `invalid boolean value "maybe" for -json: parse error`},
		{[]string{"tail", "x", "-n", "-2"}, "-n -2: must not be negative"},
		{[]string{"send", "x", "-raw", "-0"}, "-0 and -raw exclude each other"},
		{[]string{"create", "x", "-slot", "-5"}, "slot size -5 is below 1"},
		{[]string{"ls", "-a=2"}, `invalid boolean value "2" for -a: parse error`},
		{[]string{"rm", "x", "-f=yes"}, `invalid boolean value "yes" for -f: parse error`},
	} {
		status, out, errOut := runCmd(tc.args...)
		assert.Equal(t, 2, status, "%q", tc.args)
		assert.Empty(t, out, "%q", tc.args)
		first, rest, _ := strings.Cut(errOut, "\n")
		assert.Equal(t, "shmring "+tc.args[0]+": "+tc.want, first, "%q", tc.args)
		assert.True(t, strings.HasPrefix(rest, "\nusage: shmring "+tc.args[0]+" "), "%q: the usage follows: %q", tc.args, rest)
	}
}

func TestHelp(t *testing.T) {
	status, out, errOut := runCmd("help")
	assert.Equal(t, 0, status)
	assert.Empty(t, errOut)
	assert.Contains(t, out, "\n  create   make a ring\n")

	status, out, errOut = runCmd("help", "create")
	assert.Equal(t, 0, status)
	assert.Empty(t, errOut)
	assert.Equal(t, strings.TrimSpace(createSpec.usage())+"\n", out)

	status, out, errOut = runCmd("help", "nosuch")
	assert.Equal(t, 2, status)
	assert.Empty(t, out)
	assert.True(t, strings.HasPrefix(errOut, "shmring help: unknown command \"nosuch\"\n\nshmring moves messages"), errOut)

	status, out, errOut = runCmd("help", "stat", "tail")
	assert.Equal(t, 2, status)
	assert.Empty(t, out)
	assert.Equal(t, "shmring help: unexpected argument \"tail\": help takes one command name\n", errOut)

	status, out, errOut = runCmd("nosuch")
	assert.Equal(t, 2, status)
	assert.Empty(t, out)
	assert.True(t, strings.HasPrefix(errOut, "shmring: unknown command \"nosuch\"\n"), errOut)
}

// Counts read as words do: "1 message", "2 messages", wherever a command
// prints one.
func TestCountsInWords(t *testing.T) {
	assert.Equal(t, "0 bytes", plural(0, "byte"))
	assert.Equal(t, "1 byte", plural(1, "byte"))
	assert.Equal(t, "2 bytes", plural(2, "byte"))

	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 2, SlotSize: 1})
	withStdin(t, strings.NewReader("x\n"))
	status, out, errOut := runCmd("send", path, "-shutdown")
	require.Equal(t, 0, status, errOut)
	assert.Equal(t, "sent 1 message to "+path+"\n", out)

	status, out, errOut = runCmd("stat", path)
	require.Equal(t, 0, status, errOut)
	assert.Regexp(t, `(?m)^capacity +2 slots x 1 byte$`, out)

	status, out, errOut = runCmd("tail", path)
	require.Equal(t, 0, status, errOut)
	assert.True(t, strings.HasPrefix(out, "#1, 1 byte\n"), out)

	withStdin(t, strings.NewReader("xy\n"))
	path = newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.SPSC, Capacity: 2, SlotSize: 1})
	status, _, errOut = runCmd("send", "-raw", path)
	assert.Equal(t, 1, status)
	assert.Equal(t, "shmring send: standard input holds more than the slot size of 1 byte: stopped after 0 messages\n", errOut)

	var b strings.Builder
	require.NoError(t, printStat(&b, &statReport{Capacity: 2, SlotSize: 1, ProducersWaiting: 1, ConsumersWaiting: 1}, false, false))
	assert.Regexp(t, `(?m)^asleep +1 producer waiting for room, 1 consumer waiting for messages$`, b.String())
	b.Reset()
	require.NoError(t, printStat(&b, &statReport{Capacity: 2, SlotSize: 1, ProducersWaiting: 2}, false, false))
	assert.Regexp(t, `(?m)^asleep +2 producers waiting for room, 0 consumers waiting for messages$`, b.String())
}

// Tail and send in their own processes, with the arguments as a user
// types them, flags last.
func TestFlagsAfterArgumentsInAProcess(t *testing.T) {
	path := newRing(t, t.TempDir(), "r", ring.Config{Kind: ring.MPMC, Capacity: 4, SlotSize: 16})
	sender := helperCmd(t, "ops-cli", envArgs+"=send\n"+path+"\n-0\n-shutdown")
	sender.Stdin = strings.NewReader("a\x00b")
	got, err := sender.CombinedOutput()
	require.NoError(t, err, "%s", got)
	tailer := helperCmd(t, "ops-cli", envArgs+"=tail\n"+path+"\n-0")
	tailer.Stderr = os.Stderr
	got, err = tailer.Output()
	require.NoError(t, err)
	assert.Equal(t, "a\x00b", string(got))
}
