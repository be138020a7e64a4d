// Command shmring measures and operates shmring rings.
//
//	shmring bench     throughput and latency, side by side with sockets, pipes, channels
//	shmring stat      the state of a ring
//	shmring ls        the rings in a directory (/dev/shm by default)
//	shmring rm        remove rings no live process uses
//	shmring tail      print messages as they arrive
//	shmring send      push lines from stdin
//
// Run "shmring help COMMAND" for a command's flags.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is a subcommand. Each lives in its own file and registers itself
// from an init function.
type command struct {
	name    string
	summary string // one line for the command list
	usage   string // "shmring NAME [flags] ARGS" and a paragraph
	run     func(args []string, stdout, stderr io.Writer) int
	hidden  bool // internal commands, such as the children bench starts
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("shmring: command " + c.name + " registered twice")
	}
	commands[c.name] = c
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fmt.Fprintln(stdout, strings.TrimSpace(c.usage))
				return 0
			}
		}
		usage(stdout)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "shmring: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "shmring moves messages between processes through shared memory.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: shmring COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "shmring help COMMAND" for a command's flags.`)
}
