// Package cref holds the C reference that shmring bench compares the rings
// with: cref.c, embedded so that `go run ./cmd/shmring bench` can build it
// with the system's C compiler from a fresh clone. See README.md.
package cref

import _ "embed"

// Source is the text of cref.c.
//
//go:embed cref.c
var Source string
