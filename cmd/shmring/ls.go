package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/shmring/shmring/ring"
)

type lsOptions struct {
	json bool
	all  bool
}

var lsSpec = &cmdSpec[lsOptions]{
	name:  "ls",
	synop: "shmring ls [-a] [-json] [DIR]",
	about: `
Ls lists the shmring rings among the files of DIR (default /dev/shm): name,
kind, capacity, file size, fill, shutdown flag, and state. The capacity of
an spsc or mpmc ring is its slots x slot size (1024x256), the fill the
share of slots that hold a message; the capacity of a byte ring (spsc-bytes,
mpsc-bytes) is its data area and its largest message (256KiB max 64KiB),
the fill the share of the data area its queued records take. The state:

  live    a process registered in the ring is alive
  stale   processes registered in it, all dead: they crashed without closing
  unused  no process registered: none has pushed or popped, or all closed

A process that has opened a ring but not yet pushed or popped holds no record
and does not make the ring live. Ls maps each file read-only and never changes
it. Files that are not rings are skipped, and so are files it cannot read;
-a lists them too. Rings of another layout version, of a kind this shmring
does not know, and corrupt ones, are always listed.`,
	flags: func(fs *flag.FlagSet) *lsOptions {
		o := &lsOptions{}
		fs.BoolVar(&o.json, "json", false, "print a JSON array instead of a table")
		fs.BoolVar(&o.all, "a", false, "list files that are not rings, or that cannot be read, too")
		return o
	},
}

func init() {
	register(&command{name: "ls", summary: "the rings in a directory (/dev/shm by default)", usage: lsSpec.usage(), run: runLs})
}

// lsEntry is one file ls lists.
type lsEntry struct {
	Name        string  `json:"name"`
	Path        string  `json:"path"`
	Ring        bool    `json:"ring"` // a ring this shmring can read
	Kind        string  `json:"kind,omitempty"`
	Capacity    int     `json:"capacity,omitempty"`
	SlotSize    int     `json:"slot_size,omitempty"`
	FileSize    int64   `json:"file_size"`
	Queued      int     `json:"queued"`
	FillPercent float64 `json:"fill_percent"`
	Shutdown    bool    `json:"shutdown"`
	// State is live, stale or unused for a ring (see liveness); otherwise
	// "not a ring", "incompatible", "unknown kind", "corrupt" or
	// "unreadable".
	State string `json:"state"`
	PIDs  []int  `json:"pids,omitempty"` // of the live registered processes
	Error string `json:"error,omitempty"`
}

func runLs(args []string, stdout, stderr io.Writer) int {
	o, rest, status, ok := lsSpec.parse(args, 0, 1, stdout, stderr)
	if !ok {
		return status
	}
	dir := "/dev/shm"
	if len(rest) == 1 {
		dir = rest[0]
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return failf(stderr, "ls", "%v", err)
	}
	list := []lsEntry{}
	for _, de := range entries {
		if de.IsDir() {
			continue
		}
		p := filepath.Join(dir, de.Name())
		if !strings.Contains(p, "/") {
			p = "./" + p // in ".": a bare name would mean /dev/shm
		}
		e := examine(p)
		e.Name = de.Name()
		if e.Ring || o.all || e.State == "incompatible" || e.State == "unknown kind" || e.State == "corrupt" {
			list = append(list, e)
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(list); err != nil {
			return failf(stderr, "ls", "%v", err)
		}
		return statusOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tCAPACITY\tFILE\tFILL\tSHUTDOWN\tSTATE")
	for _, e := range list {
		if !e.Ring {
			fmt.Fprintf(tw, "%s\t-\t-\t%s\t-\t-\t%s\n", e.Name, humanBytes(e.FileSize), e.State)
			continue
		}
		state := e.State
		if len(e.PIDs) > 0 {
			state = fmt.Sprintf("%s %v", e.State, e.PIDs)
		}
		shut := "no"
		if e.Shutdown {
			shut = "yes"
		}
		capacity := fmt.Sprintf("%dx%d", e.Capacity, e.SlotSize)
		if k, err := ring.ParseKind(e.Kind); err == nil && isBytes(k) {
			capacity = exactBytes(e.Capacity) + " max " + exactBytes(e.SlotSize)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f%%\t%s\t%s\n",
			e.Name, e.Kind, capacity, humanBytes(e.FileSize), e.FillPercent, shut, state)
	}
	if err := tw.Flush(); err != nil {
		return failf(stderr, "ls", "%v", err)
	}
	return statusOK
}

// examine describes the file at path for ls.
func examine(path string) lsEntry {
	e := lsEntry{Path: path}
	if fi, err := os.Stat(path); err == nil {
		e.FileSize = fi.Size()
	}
	in, err := inspect(path)
	if err != nil {
		e.Error = err.Error()
		switch {
		case notARing(err):
			e.State = "not a ring"
		case errors.Is(err, ring.ErrIncompatible):
			e.State = "incompatible"
		case unknownKind(err):
			e.State = "unknown kind"
		case errors.Is(err, ring.ErrCorrupt):
			e.State = "corrupt"
		default:
			e.State = "unreadable"
		}
		return e
	}
	defer in.close()
	st, err := in.stats()
	if err != nil {
		e.State, e.Error = "unreadable", err.Error()
		return e
	}
	e.Ring = true
	e.Kind = st.Kind.String()
	e.Capacity, e.SlotSize = st.Capacity, st.SlotSize
	e.Queued, e.FillPercent = st.Len, fill(st)
	e.Shutdown = st.Shutdown
	e.State = liveness(st.Processes)
	for _, p := range st.Processes {
		if p.Alive && !slices.Contains(e.PIDs, p.PID) {
			e.PIDs = append(e.PIDs, p.PID)
		}
	}
	return e
}

// exactBytes formats n bytes in the largest binary unit that holds it
// exactly: 65536 is "64KiB", 1000 is "1000B".
func exactBytes(n int) string {
	unit := 0
	for n >= 1024 && n%1024 == 0 && unit < 6 {
		n /= 1024
		unit++
	}
	if unit == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%d%ciB", n, "KMGTPE"[unit-1])
}

// humanBytes formats n bytes with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
