package shm

// How much room there is for a new region, asked before its pages are
// reserved: fallocate on a file system without room says ENOSPC, but on a
// memfd or a tmpfs file that memory cannot hold it runs the kernel's OOM
// killer (the machine's, or the memory cgroup's), which kills a process
// instead of failing the call.

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// checkFileRoom refuses a file of size bytes, open as fd, that its file
// system has no room for: more than it has free for unprivileged users
// (what df shows as available), or, on tmpfs and ramfs, whose pages are
// memory, more than the memory there is room for. A file system that
// reports no size (f_blocks 0: ramfs, tmpfs with size=0, some FUSE file
// systems), or whose statfs fails, is left to fallocate.
func checkFileRoom(fd, size int) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return nil
	}
	if st.Blocks != 0 {
		unit := uint64(st.Frsize)
		if unit == 0 {
			unit = uint64(st.Bsize)
		}
		if free := mulSat(uint64(st.Bavail), unit); uint64(size) > free {
			return tooBig(uint64(size), free, "free on its file system", unix.ENOSPC)
		}
	}
	// f_type is a 32-bit magic number in a word of the platform's size.
	if fsType := uint32(st.Type); fsType == unix.TMPFS_MAGIC || fsType == unix.RAMFS_MAGIC {
		return checkMemory(size)
	}
	return nil
}

// checkMemory refuses a region of size bytes of memory (a memfd, a tmpfs
// file) that does not fit in the memory there is room for.
func checkMemory(size int) error {
	room, what := memoryRoom()
	if uint64(size) > room {
		return tooBig(uint64(size), room, what, unix.ENOMEM)
	}
	return nil
}

// memoryRoom returns how many bytes of memory a new region may take without
// making the kernel kill a process for it, and what says so: the smaller of
// the machine's available memory and what the memory cgroups of this
// process have left.
func memoryRoom() (room uint64, what string) {
	room, what = machineMemory()
	if r, name, ok := cgroupRoom(); ok && r < room {
		room, what = r, "its memory cgroup "+name+" has room for"
	}
	return room, what
}

// machineMemory returns the memory the kernel counts as available to a new
// allocation without swapping (MemAvailable: free memory plus the page
// cache and slab it can reclaim), plus the free swap, where tmpfs pages can
// go. Without /proc/meminfo it falls back to sysinfo's total RAM and swap,
// which only refuses what the machine could never hold.
func machineMemory() (uint64, string) {
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		avail, okA := meminfoKB(b, "MemAvailable:")
		swap, okS := meminfoKB(b, "SwapFree:")
		if okA && okS {
			return mulSat(avail+swap, 1024), "of memory available"
		}
	}
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return math.MaxUint64, ""
	}
	return mulSat(uint64(si.Totalram)+uint64(si.Totalswap), uint64(si.Unit)), "of RAM and swap this machine has"
}

// meminfoKB returns the value of the /proc/meminfo line that starts with
// key, in kB.
func meminfoKB(b []byte, key string) (uint64, bool) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(key)); ok {
			f := strings.Fields(string(rest))
			if len(f) == 0 {
				return 0, false
			}
			n, err := strconv.ParseUint(f[0], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// A memory cgroup limits the memory of its processes and of the cgroups
// below it; a charge beyond the limit that reclaim cannot make room for
// runs the cgroup's OOM killer. cgroupRoom walks from this process's memory
// cgroup up to the root of each hierarchy it can see (cgroup v2, and the v1
// memory controller), and returns the least room left in any of them, and
// that cgroup's name (its path, as /proc/self/cgroup writes it). Room is
// the limit minus the working set, as container runtimes count it: usage
// minus the inactive file pages, which reclaim takes first. Swap the cgroup
// may use is not counted. ok is false if no cgroup has a limit, or none can
// be read (no /proc, no /sys/fs/cgroup).
func cgroupRoom() (room uint64, name string, ok bool) {
	cgroups, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, "", false
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return 0, "", false
	}
	room = math.MaxUint64
	for _, h := range memoryHierarchies(cgroups, mounts) {
		for p := h.path; ; p = path.Dir(p) {
			if r, found := h.room(p); found && r < room {
				room, name, ok = r, p, true
			}
			if p == h.root || p == "/" {
				break
			}
		}
	}
	return room, name, ok
}

// hierarchy is a mounted cgroup hierarchy that can limit memory, with this
// process's cgroup in it.
type hierarchy struct {
	v2    bool
	path  string // this process's cgroup, as /proc/self/cgroup writes it
	root  string // the cgroup at the mount point
	mount string // where it is mounted
}

// dir returns the directory of cgroup p, which is at or below h.root.
func (h hierarchy) dir(p string) string {
	rel := strings.TrimPrefix(p, h.root)
	return path.Join(h.mount, rel)
}

// room returns the room left under cgroup p's memory limit, and whether p
// has a limit this process can read.
func (h hierarchy) room(p string) (uint64, bool) {
	limitFile, usageFile, inactiveKey := "memory.max", "memory.current", "inactive_file"
	if !h.v2 {
		limitFile, usageFile, inactiveKey = "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"
	}
	d := h.dir(p)
	limit, ok := readCount(path.Join(d, limitFile))
	if !ok {
		return 0, false // "max", or no memory controller here
	}
	usage, ok := readCount(path.Join(d, usageFile))
	if !ok {
		return 0, false
	}
	if stat, err := os.ReadFile(path.Join(d, "memory.stat")); err == nil {
		if inactive, ok := statValue(stat, inactiveKey); ok && inactive <= usage {
			usage -= inactive
		}
	}
	if usage >= limit {
		return 0, true
	}
	return limit - usage, true
}

// memoryHierarchies returns the hierarchies of the /proc/self/cgroup text
// cgroups that mountinfo (/proc/self/mountinfo) shows mounted and that can
// limit memory: the v2 hierarchy (memory.max tells whether the controller
// is on where we are) and a v1 hierarchy with the memory controller.
func memoryHierarchies(cgroups, mountinfo []byte) []hierarchy {
	var v2Path, v1Path string
	have2, have1 := false, false
	for _, line := range strings.Split(string(cgroups), "\n") {
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		controllers, p, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		switch {
		case id == "0" && controllers == "":
			v2Path, have2 = p, true
		case hasWord(controllers, "memory"):
			v1Path, have1 = p, true
		}
	}
	var hs []hierarchy
	seen := map[bool]bool{}
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		// id parent major:minor root mount-point options ... - type source super-options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		root, mount := unescapeMount(f[3]), unescapeMount(f[4])
		var h hierarchy
		switch {
		case g[0] == "cgroup2" && have2:
			h = hierarchy{v2: true, path: v2Path}
		case g[0] == "cgroup" && have1 && hasWord(g[2], "memory"):
			h = hierarchy{path: v1Path}
		default:
			continue
		}
		// The mount shows the cgroup root and what is below it: only a
		// mount at or above our cgroup shows ours. Take the first such.
		if seen[h.v2] || !(root == "/" || h.path == root || strings.HasPrefix(h.path, root+"/")) {
			continue
		}
		h.root, h.mount = root, mount
		seen[h.v2] = true
		hs = append(hs, h)
	}
	return hs
}

// hasWord reports whether the comma-separated list s holds w.
func hasWord(s, w string) bool {
	for _, x := range strings.Split(s, ",") {
		if x == w {
			return true
		}
	}
	return false
}

// unescapeMount undoes the octal escapes mountinfo writes for space, tab,
// newline and backslash in paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readCount reads a cgroup file that holds one number; "max" (no limit)
// and anything else that is not a number give false.
func readCount(file string) (uint64, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// statValue returns the value of key in a memory.stat file ("key value"
// lines).
func statValue(stat []byte, key string) (uint64, bool) {
	for _, line := range strings.Split(string(stat), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// mulSat is a*b, or the largest uint64 if that overflows.
func mulSat(a, b uint64) uint64 {
	if b != 0 && a > math.MaxUint64/b {
		return math.MaxUint64
	}
	return a * b
}

// tooBig is the error for a region of size bytes where there is room for
// room: its text names both, and it matches ErrTooBig and errno.
func tooBig(size, room uint64, what string, errno unix.Errno) error {
	s, r := bytesText(size), bytesText(room)
	if s == r { // rounded alike: say it exactly
		s, r = fmt.Sprintf("%d bytes", size), fmt.Sprintf("%d bytes", room)
	}
	return &sizeError{msg: fmt.Sprintf("size %s exceeds the %s %s", s, r, what), errno: errno}
}

// sizeError says how large a region was asked for and how much room there
// is; it matches ErrTooBig and the errno of a system call that would have
// failed for the same reason.
type sizeError struct {
	msg   string
	errno unix.Errno
}

func (e *sizeError) Error() string   { return e.msg }
func (e *sizeError) Unwrap() []error { return []error{ErrTooBig, e.errno} }

// bytesText writes n bytes in binary units, to one decimal, which is left
// out when it is 0: "11.7 GiB", "256 MiB", "512 bytes".
func bytesText(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	const units = "KMGTPE"
	u, div := 0, uint64(1024)
	// Up a unit while this one would read 1024.0 or more.
	for u < len(units)-1 && float64(n)/float64(div) >= 1023.95 {
		u, div = u+1, div*1024
	}
	v := strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64)
	return strings.TrimSuffix(v, ".0") + " " + units[u:u+1] + "iB"
}
