// Package cref holds the C references that shmring bench compares the
// rings with (the index ring, Vyukov's MPMC queue, shmring v1's SPSC
// protocol): cref.c, embedded so that `go run ./cmd/shmring bench` can build
// it with the system's C compiler from a fresh clone. See README.md.
package cref

import _ "embed"

// Source is the text of cref.c.
//
//go:embed cref.c
var Source string
