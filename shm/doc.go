// Package shm maps shared memory regions: byte ranges that several processes
// on one host see at the same time, so that what one process stores another
// loads with no system call and no copy in between.
//
// # Regions
//
// A [Region] is a mapping of a whole file into this process's address space.
// The kernel backs the mapping with the file's pages in the page cache; each
// process that maps the file gets its own virtual addresses for the same
// physical pages. Touching a page that is not yet mapped takes a page fault
// (the kernel finds or reads the page and fills in the page table); after
// that, loads and stores are plain memory accesses. [Populate] takes those
// faults up front, at map time, instead of on the first access of each page,
// and [HugePages] asks for 2 MiB pages, which need fewer faults and fewer TLB
// entries for a large region. A region is meant to stay in memory: one larger
// than the memory available keeps faulting pages in and out, and is then
// slower than read and write would be.
//
// The kernel maps whole pages, but [Region.Bytes] is exactly [Region.Size]
// bytes long: the slack at the end of the last page, which belongs to no
// byte of the file, is out of reach.
//
// A region has one of three backings:
//
//   - [Create] makes a new file and maps it. A bare name (no '/') means a file
//     under /dev/shm, a tmpfs whose pages live in memory only: the fastest
//     place for a region that several unrelated processes find by name.
//     A path elsewhere puts the region on that file system; [Region.Sync]
//     then writes it back (msync MS_SYNC), since the kernel otherwise writes
//     dirty pages back whenever it chooses.
//   - [Open] maps an existing file whole.
//   - [Anonymous] makes a region with no name in any file system (Linux
//     memfd_create). It reaches other processes only as a descriptor, through
//     [Region.Share], and the kernel frees it when the last process holding it
//     exits: there is nothing to clean up after a crash.
//
// Only regular files can be mapped: Open refuses directories, pipes, devices
// and empty files with an error rather than producing a mapping that faults.
// A region's size is fixed when it is made; a mapping never grows with its
// file, so there is no resize. A region larger than the address space allows
// (an int) is refused.
//
// # Mapping modes
//
// A region is mapped in one of three modes, chosen with options:
//
//   - shared read-write (the default): MAP_SHARED with PROT_READ|PROT_WRITE.
//     Stores are seen by every process that maps the same file and end up in
//     the file.
//   - read-only ([ReadOnly]): PROT_READ. For inspectors that must not disturb
//     a live region. A store into the mapping is not an error value but a
//     SIGSEGV, which the Go runtime turns into a fatal fault.
//   - private copy-on-write ([Private]): MAP_PRIVATE. The process sees the
//     file as it was, can write freely, and the kernel copies each page on its
//     first write, so the writes stay in this process: neither the file nor
//     other processes see them. A snapshot to experiment on.
//
// ReadOnly and Private apply to Open and Inherit, and exclude each other.
//
// # Process model
//
// The process that calls Create or Anonymous makes the region and decides
// its size and, for a file, its permissions (0600 unless [Perm] says
// otherwise). Any process the permissions allow may Open a file-backed
// region; only the maker, or whoever owns the name by agreement, should
// [Remove] it. Removing the name does not disturb processes that have it
// mapped: the memory lives until the last mapping and descriptor are gone.
//
// A *Region is this process's handle. Its methods are safe for concurrent
// use, and [Region.Close] releases only this process's mapping. The bytes
// themselves are not synchronised by anything: mmap shares memory, not
// ownership, and processes that share a region must agree on who writes
// which bytes and publish them with atomic operations (package ring does
// this). Values of a fixed-size type without pointers can be read and
// written in place, with no serialisation (ring.Typed does this); only such
// values belong in a region, since a Go pointer, slice, string or map means
// nothing in another process.
//
// Bytes returned by [Region.Bytes] must not be used after Close: the
// addresses are unmapped and an access faults.
//
// # Inheritance across exec
//
// A MAP_SHARED mapping survives fork but not exec, and Go only forks to
// exec, so a child cannot inherit the mapping itself. It inherits the
// descriptor instead: [Region.Share] adds the region's file to an
// exec.Cmd's ExtraFiles and records the child's descriptor number in the
// child's environment as SHMRING_FD_<name> ([EnvName]); in the child,
// [Inherit] reads the variable, takes the descriptor and maps it. This works
// for anonymous and file-backed regions alike, and the child need not be a
// Go program: any program can use the descriptor. (A mapping, once made,
// does not need its descriptor; a region keeps it open to pass it on.)
// A descriptor received another way (SCM_RIGHTS over a unix socket) maps with [FromFD].
//
// # SIGBUS, reserved pages and seals
//
// A mapping may extend past the end of its file: a page beyond the end has
// no backing and an access to it raises SIGBUS, which kills a Go program.
// Two things put pages beyond the end of a live region: another process
// truncating the file, and a tmpfs that runs out of space when a page is
// first touched (tmpfs allocates pages lazily). Create therefore reserves
// every page with fallocate on Linux, so a full /dev/shm fails in Create
// with ENOSPC rather than later with SIGBUS, and Anonymous seals its memfd
// against shrinking and growing (F_SEAL_SHRINK, F_SEAL_GROW), and against
// further seals (F_SEAL_SEAL), so that no process holding the descriptor
// can truncate it under the others or forbid them to map it writable.
// Nothing can stop a process with write permission from truncating a
// file-backed region: give such files to trusted processes only.
//
// # Sizes
//
// Reserving pages does not fail gracefully everywhere: fallocate on a file
// system without room says ENOSPC, but on a memfd or a tmpfs file larger
// than memory can hold it runs the kernel's OOM killer, which kills some
// process (perhaps this one) instead of failing. So before they reserve
// anything, Create and Anonymous compare the size with the room there is
// and refuse a region that does not fit with an error matching [ErrTooBig]
// that names both numbers:
//
//	create /dev/shm/x: size 1 EiB exceeds the 11.7 GiB free on its file system
//	anonymous memfd:shmring: size 256 MiB exceeds the 63.1 MiB its memory cgroup /jobs/a has room for
//
// The room for a file is what its file system has free for unprivileged
// users (statfs f_bavail, what df shows as available). The room in memory,
// for Anonymous and for files on tmpfs and ramfs, is the smaller of what
// the kernel counts as available (MemAvailable plus SwapFree in
// /proc/meminfo; without it, sysinfo's total RAM and swap) and what the
// process's memory cgroup, and each cgroup above it, has left under its
// limit (cgroup v2 memory.max, or v1 memory.limit_in_bytes, minus the
// working set: usage less inactive file pages). Swap a cgroup may use is
// not counted. The check is a snapshot: memory that other processes take
// between it and the reservation is not accounted for, and a file system
// that reports no size (f_blocks 0) is left to fallocate. Other systems
// check nothing (they do not reserve pages either).
//
// # Systems
//
// Linux has everything. Other Unix systems map file-backed regions, but
// Create does not reserve pages there (ftruncate only), Populate and
// HugePages are ignored, bare names resolve under [os.TempDir], and
// Anonymous returns an error wrapping [errors.ErrUnsupported]. On systems
// that are not Unix every function that can fail returns such an error.
//
// # Errors
//
// Errors from the system are *[os.PathError] values naming the step that
// failed (open, fallocate, mmap, ...) and the path, so errors.Is with
// [fs.ErrExist], [fs.ErrNotExist] or [fs.ErrPermission] works as it does
// for package os.
package shm
