//go:build !unix

package shm

import (
	"os"
	"os/exec"
	"path/filepath"
)

// This system has no mmap that package shm knows how to use: every function
// that can fail says so with an error wrapping errors.ErrUnsupported, and no
// Region can exist. Resolve and EnvName still work, for programs that only
// pass names around.

func bareNamePath(name string) string { return filepath.Join(os.TempDir(), name) }

// Create is not supported on this system.
func Create(path string, size int, opts ...Option) (*Region, error) {
	return nil, unsupported("mmap")
}

// Open is not supported on this system.
func Open(path string, opts ...Option) (*Region, error) {
	return nil, unsupported("mmap")
}

// Anonymous is not supported on this system.
func Anonymous(size int, opts ...Option) (*Region, error) {
	return nil, unsupported("memfd_create")
}

// Inherit is not supported on this system.
func Inherit(name string, opts ...Option) (*Region, error) {
	return nil, unsupported("mmap")
}

// Remove is not supported on this system.
func Remove(path string) error {
	return unsupported("mmap")
}

// Sync is not supported on this system.
func (r *Region) Sync() error {
	return &os.PathError{Op: "msync", Path: r.name, Err: unsupported("msync")}
}

// Close does nothing: no region can have been made on this system.
func (r *Region) Close() error { return nil }

// Share is not supported on this system.
func (r *Region) Share(cmd *exec.Cmd, name string) error {
	return unsupported("mmap")
}
