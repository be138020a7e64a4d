package shm

import (
	"path/filepath"
	"strings"
)

// pathSeparators are the characters that make a path more than a bare name.
const pathSeparators = "/" + string(filepath.Separator)

// Resolve returns the path of the file a region called path lives in. A bare
// name (no '/') means a file in the shared memory directory: /dev/shm on
// Linux, [os.TempDir] elsewhere. Other paths, and "", are returned unchanged.
func Resolve(path string) string {
	if path == "" || strings.ContainsAny(path, pathSeparators) {
		return path
	}
	return bareNamePath(path)
}

// EnvName returns the environment variable through which [Region.Share]
// tells a child, and [Inherit] learns in the child, the descriptor number of
// the region called name: "SHMRING_FD_" + name.
func EnvName(name string) string { return "SHMRING_FD_" + name }
