package shm

import (
	"errors"
	"math"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestBytesText(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0 bytes"},
		{1023, "1023 bytes"},
		{1024, "1 KiB"},
		{1536, "1.5 KiB"},
		{256 << 20, "256 MiB"},
		{1<<20 - 1, "1 MiB"}, // not "1024.0 KiB"
		{12562000000, "11.7 GiB"},
		{1 << 60, "1 EiB"},
		{math.MaxUint64, "16 EiB"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, bytesText(tt.n), "%d", tt.n)
	}
}

func TestTooBigError(t *testing.T) {
	err := tooBig(1<<60, 12562000000, "free on its file system", unix.ENOSPC)
	assert.EqualError(t, err, "size 1 EiB exceeds the 11.7 GiB free on its file system")
	assert.ErrorIs(t, err, ErrTooBig)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.False(t, errors.Is(err, syscall.ENOMEM))

	// Sizes that round alike are written out.
	err = tooBig(12562000001, 12562000000, "of memory available", unix.ENOMEM)
	assert.EqualError(t, err, "size 12562000001 bytes exceeds the 12562000000 bytes of memory available")
	assert.ErrorIs(t, err, syscall.ENOMEM)
}

func TestMeminfoKB(t *testing.T) {
	b := []byte("MemTotal:       24684000 kB\nMemFree:        24000000 kB\nMemAvailable:   23900000 kB\nSwapFree:              0 kB\n")
	n, ok := meminfoKB(b, "MemAvailable:")
	assert.True(t, ok)
	assert.EqualValues(t, 23900000, n)
	n, ok = meminfoKB(b, "SwapFree:")
	assert.True(t, ok)
	assert.Zero(t, n)
	_, ok = meminfoKB(b, "Hugetlb:")
	assert.False(t, ok)
}

func TestMemoryHierarchies(t *testing.T) {
	const hybridMounts = `25 1 0:22 / /proc rw,relatime - proc proc rw
30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
35 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
37 30 0:33 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	tests := []struct {
		name            string
		cgroups, mounts string
		want            []hierarchy
	}{
		{
			name:    "cgroup v2",
			cgroups: "0::/user.slice/user-1000.slice/session-2.scope\n",
			mounts:  "29 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
			want:    []hierarchy{{v2: true, path: "/user.slice/user-1000.slice/session-2.scope", root: "/", mount: "/sys/fs/cgroup"}},
		},
		{
			name:    "hybrid: v1 memory and v2",
			cgroups: "4:memory:/jobs/a\n2:cpu,cpuacct:/\n0::/\n",
			mounts:  hybridMounts,
			want: []hierarchy{
				{path: "/jobs/a", root: "/", mount: "/sys/fs/cgroup/memory"},
				{v2: true, path: "/", root: "/", mount: "/sys/fs/cgroup/unified"},
			},
		},
		{
			name:    "a container's own cgroup bind-mounted as the root",
			cgroups: "0::/docker/abc\n",
			mounts:  "40 30 0:26 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n",
			want:    []hierarchy{{v2: true, path: "/docker/abc", root: "/docker/abc", mount: "/sys/fs/cgroup"}},
		},
		{
			name:    "a mount that does not show our cgroup",
			cgroups: "0::/docker/abc\n",
			mounts:  "40 30 0:26 /docker/other /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n",
		},
		{
			name:    "an escaped mount point",
			cgroups: "0::/\n",
			mounts:  `40 30 0:26 / /mnt/my\040cgroups rw - cgroup2 cgroup2 rw` + "\n",
			want:    []hierarchy{{v2: true, path: "/", root: "/", mount: "/mnt/my cgroups"}},
		},
		{
			name:    "no cgroups",
			cgroups: "",
			mounts:  hybridMounts,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, memoryHierarchies([]byte(tt.cgroups), []byte(tt.mounts)))
		})
	}
	h := hierarchy{v2: true, path: "/docker/abc/x", root: "/docker/abc", mount: "/sys/fs/cgroup"}
	assert.Equal(t, "/sys/fs/cgroup/x", h.dir(h.path))
	assert.Equal(t, "/sys/fs/cgroup", h.dir(h.root))
}

// The room measured on this machine is some memory, and no more than the
// machine has.
func TestMemoryRoomHere(t *testing.T) {
	var si unix.Sysinfo_t
	require.NoError(t, unix.Sysinfo(&si))
	total := (uint64(si.Totalram) + uint64(si.Totalswap)) * uint64(si.Unit)
	room, what := memoryRoom()
	t.Logf("room for memory: %s %s (RAM and swap: %s)", bytesText(room), what, bytesText(total))
	assert.NotZero(t, room)
	assert.LessOrEqual(t, room, total)
	assert.NoError(t, checkMemory(4096))
	assert.ErrorIs(t, checkMemory(math.MaxInt), ErrTooBig)
}
