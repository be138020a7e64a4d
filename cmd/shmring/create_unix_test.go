//go:build unix

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shmring/shmring/ring"
)

// Create makes the ring its flags describe, with exactly the mode asked for
// whatever the umask, and flags may follow the path.
func TestCreate(t *testing.T) {
	old := syscall.Umask(0o077) // a umask that would take every bit but the owner's
	t.Cleanup(func() { syscall.Umask(old) })
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string // the path is added where "PATH" stands
		cfg  ring.Config
		mode fs.FileMode
		out  string // SIZE stands for the size of the file
	}{
		{"defaults", []string{"PATH"}, ring.Config{Kind: ring.SPSC, Capacity: 1024, SlotSize: 256}, 0o600,
			"spsc, 1024 slots x 256 bytes, SIZE, mode 0600"},
		{"flags", []string{"-kind", "mpmc", "-capacity", "8", "-slot", "16", "-mode", "0644", "PATH"},
			ring.Config{Kind: ring.MPMC, Capacity: 8, SlotSize: 16}, 0o644, "mpmc, 8 slots x 16 bytes, SIZE, mode 0644"},
		{"flags after the path", []string{"PATH", "-slot", "1", "-capacity", "2", "-kind", "MPMC", "-mode", "660"},
			ring.Config{Kind: ring.MPMC, Capacity: 2, SlotSize: 1}, 0o660, "mpmc, 2 slots x 1 byte, SIZE, mode 0660"},
		{"mode 0", []string{"-mode", "0", "PATH"}, ring.Config{Kind: ring.SPSC, Capacity: 1024, SlotSize: 256}, 0,
			"spsc, 1024 slots x 256 bytes, SIZE, mode 0000"},
		{"spsc-bytes defaults", []string{"-kind", "spsc-bytes", "PATH"}, ring.Config{Kind: ring.SPSCBytes, Capacity: 256 << 10, SlotSize: 64 << 10}, 0o600,
			"spsc-bytes, 262144 bytes of data, messages up to 65536 bytes, SIZE, mode 0600"},
		{"spsc-bytes largest message by default", []string{"PATH", "-kind", "spsc-bytes", "-capacity", "4096"}, ring.Config{Kind: ring.SPSCBytes, Capacity: 4096, SlotSize: 1024}, 0o600,
			"spsc-bytes, 4096 bytes of data, messages up to 1024 bytes, SIZE, mode 0600"},
		{"mpsc-bytes", []string{"-kind", "MPSC-bytes", "-capacity", "64", "-slot", "1", "PATH"}, ring.Config{Kind: ring.MPSCBytes, Capacity: 64, SlotSize: 1}, 0o600,
			"mpsc-bytes, 64 bytes of data, messages up to 1 byte, SIZE, mode 0600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			args := []string{"create"}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "PATH", path))
			}
			status, out, errOut := runCmd(args...)
			require.Equal(t, 0, status, errOut)
			assert.Empty(t, errOut)
			size, err := ring.Size(tc.cfg)
			require.NoError(t, err)
			assert.Equal(t, "created "+path+": "+strings.Replace(tc.out, "SIZE", humanBytes(int64(size)), 1)+"\n", out)

			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, tc.mode, fi.Mode().Perm())
			assert.Equal(t, int64(size), fi.Size())
			if tc.mode&0o600 != 0o600 {
				return // we may not open it: root may, but that proves nothing
			}
			r := openRing(t, path)
			assert.Equal(t, tc.cfg, r.Config())
			assert.Zero(t, r.Len())
			st := r.Stats()
			assert.Empty(t, st.Processes, "create holds nothing once it exits")
		})
	}
}
