// Package shmring is the root of a module that moves messages between
// processes on one Linux host through shared memory, with nothing but
// atomic operations on mapped words to coordinate them.
//
//   - Package shm makes shared memory regions: files under /dev/shm, files
//     on disk, or anonymous memfd regions, and hands them to child processes
//     across exec.
//   - Package ring lays lock-free SPSC and MPMC queues on such a region.
//   - Command shmring (cmd/shmring) benchmarks rings against sockets, pipes
//     and channels, and inspects the rings on a machine.
//
// This package holds no code: its tests start real producer and consumer
// processes against the packages above.
package shmring
