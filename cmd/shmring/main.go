// Command shmring measures and operates shmring rings.
//
//	shmring bench     throughput and latency, side by side with sockets, pipes, channels
//	shmring create    make a ring
//	shmring stat      the state of a ring
//	shmring ls        the rings in a directory (/dev/shm by default)
//	shmring rm        remove rings no live process uses
//	shmring tail      print messages as they arrive
//	shmring send      push lines from stdin
//
// Flags may follow the arguments ("shmring stat demo -json"). Run
// "shmring help COMMAND" for a command's flags. The exit status is 0 when
// the command did its work, 1 when it failed, and 2 for a bad command line.
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
		return statusBadArgs
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return statusOK
	case "help":
		return help(args[1:], stdout, stderr)
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "shmring: unknown command %q\n\n", name)
		usage(stderr)
		return statusBadArgs
	}
	return c.run(args[1:], stdout, stderr)
}

// help prints the usage of the command args names, or the list of commands
// when it names none.
func help(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		usage(stdout)
		return statusOK
	case len(args) > 1:
		fmt.Fprintf(stderr, "shmring help: unexpected argument %q: help takes one command name\n", args[1])
		return statusBadArgs
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "shmring help: unknown command %q\n\n", args[0])
		usage(stderr)
		return statusBadArgs
	}
	fmt.Fprintln(stdout, strings.TrimSpace(c.usage))
	return statusOK
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "shmring moves messages between processes through shared memory.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: shmring COMMAND [flags] [args]  (flags may follow the args too)")
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
