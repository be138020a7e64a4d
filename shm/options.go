package shm

import "io/fs"

// An Option adjusts how a region is made or mapped. Each constructor accepts
// only the options that mean something to it and returns an error for the
// others, so that a mistaken option is reported instead of silently ignored.
type Option func(*options)

type options struct {
	perm     fs.FileMode // Create: the file's mode, exactly
	permSet  bool        // Perm was given
	readOnly bool        // Open, Inherit: PROT_READ
	private  bool        // Open, Inherit: MAP_PRIVATE copy-on-write
	populate bool        // all: MAP_POPULATE
	huge     bool        // all: madvise(MADV_HUGEPAGE)
}

// Perm sets the permission bits of the file Create makes (default 0600).
// The file gets exactly these bits whatever the process's umask is, so that
// Perm(0660) shares a region with a group even under umask 077.
func Perm(mode fs.FileMode) Option {
	return func(o *options) { o.perm, o.permSet = mode, true }
}

// ReadOnly maps the region with PROT_READ only, from a descriptor opened
// read-only. A store into the mapping raises SIGSEGV. For Open and Inherit.
func ReadOnly() Option {
	return func(o *options) { o.readOnly = true }
}

// Private maps the region copy-on-write (MAP_PRIVATE, PROT_READ|PROT_WRITE):
// writes are seen by this process only and never reach the file. Read access
// to the file suffices. For Open and Inherit.
func Private() Option {
	return func(o *options) { o.private = true }
}

// Populate pre-faults the whole mapping when it is made (MAP_POPULATE), so
// that the first access of each page costs no page fault. It is ignored on
// systems other than Linux.
func Populate() Option {
	return func(o *options) { o.populate = true }
}

// HugePages advises the kernel to back the mapping with transparent huge
// pages (madvise MADV_HUGEPAGE). It is advice: a kernel without transparent
// huge pages ignores it, and whether shared memory gets huge pages also
// depends on /sys/kernel/mm/transparent_hugepage/shmem_enabled. It helps
// regions of several megabytes whose size is a multiple of 2 MiB. It is
// ignored on systems other than Linux.
func HugePages() Option {
	return func(o *options) { o.huge = true }
}
