package ring

import (
	"io"
	"math"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// liveChild starts a process that runs until the test ends (cat, reading a
// pipe nobody writes), and returns its pid.
func liveChild(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("cat")
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	if err := cmd.Start(); err != nil {
		t.Skip("no cat to run as a live child:", err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

func owned(pid int) uint64 { return uint64(pid)<<32 | 1 }

func TestReadSelf(t *testing.T) {
	me := readSelf()
	assert.EqualValues(t, os.Getpid(), me.pid)
	require.True(t, me.proc, "/proc/self/stat shows this process here")
	_, st, err := readStat(os.Getpid())
	require.NoError(t, err)
	assert.Equal(t, st, me.start)
	assert.NotZero(t, me.pidns)
	assert.Equal(t, procPidNamespace(), me.pidns)
	if n := pidfdPidNamespace(); n != 0 {
		assert.Equal(t, me.pidns, n, "a pidfd names the namespace /proc names")
	} else {
		t.Log("this kernel names no pid namespace for a pidfd (before Linux 6.11)")
	}
}

// A process is dead on proof: no such pid, a zombie, another start time.
func TestProcessAlive(t *testing.T) {
	t.Run("self", func(t *testing.T) {
		assert.True(t, processAlive(os.Getpid(), self().start))
		assert.True(t, processAlive(os.Getpid(), 0))
	})
	t.Run("start time", func(t *testing.T) {
		pid := liveChild(t)
		_, st, err := readStat(pid)
		require.NoError(t, err)
		assert.True(t, processAlive(pid, st))
		assert.True(t, processAlive(pid, 0), "no start time on record: judged by the pid")
		assert.False(t, processAlive(pid, st+1), "another start time: the pid was reused")
	})
	t.Run("zombie and reaped", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		require.NoError(t, cmd.Start())
		pid := cmd.Process.Pid
		// Wait for the exit but leave the child unreaped: a zombie.
		var si unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				require.NoError(t, err)
				break
			}
		}
		require.NoError(t, unix.Kill(pid, 0), "kill(pid, 0) succeeds on a zombie")
		state, _, err := readStat(pid)
		require.NoError(t, err)
		require.Equal(t, byte('Z'), state)
		assert.True(t, exited(pid), "the pidfd of a zombie is readable")
		assert.False(t, processAlive(pid, 0))

		require.NoError(t, cmd.Wait())
		assert.ErrorIs(t, unix.Kill(pid, 0), unix.ESRCH)
		assert.False(t, processAlive(pid, 0))
	})
	t.Run("running is not exited", func(t *testing.T) {
		assert.False(t, exited(liveChild(t)))
		assert.False(t, exited(os.Getpid()))
	})
}

func TestRecordAlive(t *testing.T) {
	dead := deadPID(t)
	ns := self().pidns
	require.NotZero(t, ns)
	tests := []struct {
		name         string
		owner        uint64
		start, pidns uint64
		want         bool
	}{
		{"dead, our namespace", owned(dead), 0, ns, false},
		{"dead pid of another namespace", owned(dead), 0, ns + 1, true},
		{"dead pid, namespace unknown to its owner", owned(dead), 0, 0, true},
		{"ourselves", owned(os.Getpid()), self().start, ns, true},
		{"our pid, reused", owned(os.Getpid()), self().start + 1, ns, false},
		{"pid 0", 0, 0, ns, false},
		{"pid beyond pid_t", uint64(math.MaxInt32+1) << 32, 0, ns, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, recordAlive(tt.owner, tt.start, tt.pidns))
		})
	}
}
