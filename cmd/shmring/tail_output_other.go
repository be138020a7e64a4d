//go:build !unix

package main

import "io"

// outputWatch watches nothing here: tail finds a reader gone when a write
// fails. See tail_output_unix.go.
type outputWatch struct{}

func watchOutput(w io.Writer, onGone func()) *outputWatch { return &outputWatch{} }

func (o *outputWatch) stop() {}
