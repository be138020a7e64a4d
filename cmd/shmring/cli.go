package main

// Helpers shared by the commands: flag parsing with the house exit codes,
// the usage text, counts of things in words, interruption.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit statuses of the operating commands.
const (
	statusOK      = 0 // done
	statusFailed  = 1 // the command ran and something went wrong
	statusBadArgs = 2 // the command line is wrong; usage printed
)

// stdin is what send reads; tests replace it.
var stdin io.Reader = os.Stdin

// cmdSpec is what a command's flags and usage are made from. flags defines
// the command's flags on fs and returns the value the command runs with;
// usage is called once at registration, and once per run, so the text
// "shmring help NAME" prints and the flags the command parses cannot differ.
type cmdSpec[T any] struct {
	name  string
	synop string // "shmring stat [flags] PATH"
	about string // the paragraph after the synopsis
	flags func(fs *flag.FlagSet) *T
	// check, if set, judges the parsed flags together (ranges, flags that
	// exclude each other); its error is a bad command line.
	check func(opts *T) error
}

// usage returns the usage text: synopsis, paragraph, and the flags with
// their defaults as the flag package prints them.
func (s *cmdSpec[T]) usage() string {
	fs := flag.NewFlagSet(s.name, flag.ContinueOnError)
	s.flags(fs)
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", s.synop, strings.TrimSpace(s.about))
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nFlags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
	}
	return b.String()
}

// parse parses args: flags and arguments in any order ("stat demo -json"
// as well as "stat -json demo"), and after "--" only arguments. On -h it
// prints the usage on stdout; on a bad flag or flag value, flags that check
// refuses, or a number of arguments outside [minArgs, maxArgs] (maxArgs < 0:
// no limit), it prints the problem and the usage on stderr. When ok is false
// the command returns status.
func (s *cmdSpec[T]) parse(args []string, minArgs, maxArgs int, stdout, stderr io.Writer) (opts *T, rest []string, status int, ok bool) {
	fs := flag.NewFlagSet(s.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the flag package's own messages: we print ours
	fs.Usage = func() {}
	opts = s.flags(fs)
	rest, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, s.usage())
		return nil, nil, statusOK, false
	}
	if err == nil {
		switch {
		case len(rest) < minArgs:
			err = errors.New("missing argument")
		case maxArgs >= 0 && len(rest) > maxArgs:
			err = fmt.Errorf("unexpected argument %q", rest[maxArgs])
		}
	}
	if err == nil && s.check != nil {
		err = s.check(opts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "shmring %s: %v\n\n%s", s.name, err, s.usage())
		return nil, nil, statusBadArgs, false
	}
	return opts, rest, statusOK, true
}

// parseInterleaved parses the flags in args wherever they stand among the
// arguments, which it returns in order. The flag package stops at the first
// argument; parsing resumes after it, so only "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, nil
		}
		// Parse stopped at an argument, or after a "--" that ends the
		// flags. (The value of a flag could be "--" too; no flag of ours
		// accepts it.)
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// failf prints an error of command name on stderr and returns statusFailed.
func failf(stderr io.Writer, name, format string, args ...any) int {
	fmt.Fprintf(stderr, "shmring %s: %s\n", name, fmt.Sprintf(format, args...))
	return statusFailed
}

// plural is n and noun, made plural unless n is 1: "1 message",
// "2 messages", "0 bytes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// interruptible returns a context that ends on SIGINT (Ctrl-C) or SIGTERM.
// After it, a second Ctrl-C kills the process as usual.
func interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // restore the default action once we have been told
	return ctx, stop
}
