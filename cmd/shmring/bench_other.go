//go:build !linux

package main

import (
	"fmt"
	"io"
	"runtime"
)

// bench starts processes that share rings, pins them with
// sched_setaffinity and reads /proc: it runs on Linux only.
func init() {
	register(&command{name: "bench", summary: "throughput and latency, side by side with sockets, pipes, channels (Linux)",
		usage: "shmring bench [flags]\n\nMeasure shmring between real processes. Linux only.", run: runBench})
}

func runBench(_ []string, _, stderr io.Writer) int {
	fmt.Fprintf(stderr, "shmring bench: not supported on %s: it needs Linux (memfd, futex, sched_setaffinity)\n", runtime.GOOS)
	return statusFailed
}
