package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shmring/shmring/ring"
)

type statOptions struct {
	json     bool
	watch    bool
	interval time.Duration
	count    int
}

var statSpec = &cmdSpec[statOptions]{
	name:  "stat",
	synop: "shmring stat [-json] [-watch [-interval D] [-count N]] PATH",
	about: `
Stat prints the state of the ring in the file PATH (a bare name means
/dev/shm/NAME): kind, layout version, capacity and slot size, sizes, creator,
producer and consumer positions, messages queued and fill, the shutdown flag,
the processes registered in it (pid, role, alive or dead) and the processes
asleep waiting for room or for messages.

Stat maps the file read-only and only loads words from it: it never changes
the ring, and it may watch a ring that other processes use at full speed.
On an MPMC ring the positions count the claims of producers and consumers;
the slots line shows the claims still in progress and those of dead
processes, which the next process in their way recovers.

On a byte ring (spsc-bytes, mpsc-bytes) capacity is the size of the data
area and the largest message; the positions count 8-byte units of it;
queued counts the messages between them (on mpsc-bytes, claims still being
written too), and the bytes line the room they take, headers and padding
included, and the room free (bytes_used and bytes_free in JSON). The rates
of -watch are in bytes per second (unit "bytes" in JSON).

A process holds a record only once it has pushed or popped: one that has just
opened the ring is not listed. Alive means the process with that pid and start
time still runs (a process in another pid namespace counts as alive).

With -watch, stat prints the state again every interval, with the rates of
messages in (producer position) and out (consumer position) since the last
refresh, until interrupted or -count refreshes are done. With -json it prints
one JSON object per line.`,
	flags: func(fs *flag.FlagSet) *statOptions {
		o := &statOptions{}
		fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
		fs.BoolVar(&o.watch, "watch", false, "refresh every interval, with rates, until interrupted")
		fs.DurationVar(&o.interval, "interval", time.Second, "time between refreshes with -watch")
		fs.IntVar(&o.count, "count", 0, "with -watch, stop after this many refreshes (0: until interrupted)")
		return o
	},
	check: func(o *statOptions) error {
		switch {
		case o.interval <= 0:
			return fmt.Errorf("-interval %v: must be positive", o.interval)
		case o.count < 0:
			return fmt.Errorf("-count %d: must not be negative", o.count)
		}
		return nil
	},
}

func init() {
	register(&command{name: "stat", summary: "the state of a ring (read-only)", usage: statSpec.usage(), run: runStat})
}

// statReport is what stat prints, as text or JSON.
type statReport struct {
	Path             string           `json:"path"`
	Kind             string           `json:"kind"`
	Version          int              `json:"version"`
	Capacity         int              `json:"capacity"`
	SlotSize         int              `json:"slot_size"`
	Size             int              `json:"size"`      // bytes of the ring: header and slots
	FileSize         int              `json:"file_size"` // bytes mapped (the file's size when opened)
	CreatorPID       int              `json:"creator_pid"`
	Created          time.Time        `json:"created"`
	Tail             uint64           `json:"tail"`
	Head             uint64           `json:"head"`
	Released         *uint64          `json:"released,omitempty"` // SPSC only
	Queued           int              `json:"queued"`
	BytesUsed        *int             `json:"bytes_used,omitempty"` // byte rings only: of the data area, by queued records
	BytesFree        *int             `json:"bytes_free,omitempty"` // byte rings only
	FillPercent      float64          `json:"fill_percent"`
	Shutdown         bool             `json:"shutdown"`
	ProducersWaiting int              `json:"producers_waiting"`
	ConsumersWaiting int              `json:"consumers_waiting"`
	State            string           `json:"state"` // live, stale, unused: see liveness
	Processes        []processReport  `json:"processes"`
	Slots            *ring.SlotStates `json:"slots,omitempty"` // MPMC: claims in progress and stuck
	Rates            *rateReport      `json:"rates,omitempty"` // -watch, from the second sample on
}

type processReport struct {
	Record   int    `json:"record"`
	PID      int    `json:"pid"`
	Role     string `json:"role"`
	Alive    bool   `json:"alive"`
	Unjudged bool   `json:"unjudged,omitempty"` // another pid namespace: alive is assumed
}

// rateReport is the rates of a -watch refresh: of messages, or on a byte
// ring of bytes (Unit "bytes"), whose positions count no messages.
type rateReport struct {
	InPerSec  float64 `json:"in_per_sec"`
	OutPerSec float64 `json:"out_per_sec"`
	Unit      string  `json:"unit,omitempty"` // "bytes" on a byte ring; messages otherwise
	Seconds   float64 `json:"seconds"`        // the interval measured
}

func runStat(args []string, stdout, stderr io.Writer) int {
	o, rest, status, ok := statSpec.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return status
	}
	in, err := inspect(rest[0])
	if err != nil {
		return failf(stderr, "stat", "%v", err)
	}
	defer in.close()

	if !o.watch {
		rep, err := report(in)
		if err != nil {
			return failf(stderr, "stat", "%v", err)
		}
		if err := printStat(stdout, rep, o.json, false); err != nil {
			return failf(stderr, "stat", "%v", err)
		}
		return statusOK
	}

	ctx, stop := interruptible()
	defer stop()
	return watch(ctx, in, o, stdout, stderr)
}

// watch prints the ring's state every o.interval until ctx ends or o.count
// refreshes are done. The first sample has no rates.
func watch(ctx context.Context, in *inspection, o *statOptions, stdout, stderr io.Writer) int {
	redraw := !o.json && writesToTerminal(stdout)
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	var meter rateMeter
	for n := 0; ; {
		rep, err := report(in)
		if err != nil {
			return failf(stderr, "stat", "%v", err)
		}
		if rIn, rOut, secs, ok := meter.update(time.Now(), rep.Tail, rep.Head); ok {
			rep.Rates = &rateReport{InPerSec: rIn, OutPerSec: rOut, Seconds: secs}
			if rep.BytesUsed != nil {
				rep.Rates.InPerSec, rep.Rates.OutPerSec, rep.Rates.Unit = 8*rIn, 8*rOut, "bytes" // positions count 8-byte units
			}
		}
		if redraw {
			fmt.Fprint(stdout, "\x1b[H\x1b[2J") // home, erase the screen
		}
		if err := printStat(stdout, rep, o.json, true); err != nil {
			return failf(stderr, "stat", "%v", err)
		}
		n++
		if o.count > 0 && n >= o.count {
			return statusOK
		}
		select {
		case <-ctx.Done():
			return statusOK
		case <-tick.C:
		}
	}
}

// report takes a snapshot of the ring and describes it.
func report(in *inspection) (*statReport, error) {
	st, err := in.stats()
	if err != nil {
		return nil, err
	}
	rep := &statReport{
		Path:             in.path,
		Kind:             st.Kind.String(),
		Version:          st.Version,
		Capacity:         st.Capacity,
		SlotSize:         st.SlotSize,
		Size:             st.Size,
		FileSize:         in.region.Size(),
		CreatorPID:       st.CreatorPID,
		Created:          st.Created,
		Tail:             st.Tail,
		Head:             st.Head,
		Queued:           st.Len,
		FillPercent:      fill(st),
		Shutdown:         st.Shutdown,
		ProducersWaiting: st.ProducersWaiting,
		ConsumersWaiting: st.ConsumersWaiting,
		State:            liveness(st.Processes),
		Processes:        []processReport{},
	}
	switch {
	case st.Kind == ring.SPSC:
		rel := st.Released
		rep.Released = &rel
	case st.Kind == ring.MPMC:
		slots, err := in.slots()
		if err != nil {
			return nil, err
		}
		rep.Slots = &slots
	case isBytes(st.Kind):
		used, free := st.BytesUsed, st.BytesFree
		rep.BytesUsed, rep.BytesFree = &used, &free
	}
	for _, p := range st.Processes {
		rep.Processes = append(rep.Processes, processReport{Record: p.Record, PID: p.PID, Role: role(p), Alive: p.Alive, Unjudged: p.Unjudged})
	}
	return rep, nil
}

// printStat prints rep as text, or as JSON. watching adds the rates line
// to the text (the first refresh has no rates yet) and prints JSON on one
// line, one object per refresh.
func printStat(w io.Writer, rep *statReport, asJSON, watching bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		if !watching {
			enc.SetIndent("", "  ")
		}
		return enc.Encode(rep)
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	yesNo := map[bool]string{false: "no", true: "yes"}
	fmt.Fprintf(tw, "ring\t%s\n", rep.Path)
	fmt.Fprintf(tw, "kind\t%s\n", rep.Kind)
	fmt.Fprintf(tw, "version\t%d\n", rep.Version)
	byteRing := rep.BytesUsed != nil
	if byteRing {
		fmt.Fprintf(tw, "capacity\t%s of data, messages up to %s\n", plural(rep.Capacity, "byte"), plural(rep.SlotSize, "byte"))
	} else {
		fmt.Fprintf(tw, "capacity\t%s x %s\n", plural(rep.Capacity, "slot"), plural(rep.SlotSize, "byte"))
	}
	fmt.Fprintf(tw, "size\t%s (file %s)\n", plural(rep.Size, "byte"), plural(rep.FileSize, "byte"))
	fmt.Fprintf(tw, "creator\tpid %d, %s\n", rep.CreatorPID, rep.Created.Format(time.RFC3339))
	switch {
	case byteRing:
		fmt.Fprintf(tw, "tail\t%d (producer position, in 8-byte units)\n", rep.Tail)
		fmt.Fprintf(tw, "head\t%d (consumer position, in 8-byte units)\n", rep.Head)
	case rep.Released != nil:
		fmt.Fprintf(tw, "tail\t%d (producer position)\n", rep.Tail)
		fmt.Fprintf(tw, "head\t%d (consumer position; released to the producer: %d)\n", rep.Head, *rep.Released)
	default:
		fmt.Fprintf(tw, "tail\t%d (producer position)\n", rep.Tail)
		fmt.Fprintf(tw, "head\t%d (consumer position)\n", rep.Head)
	}
	if byteRing {
		fmt.Fprintf(tw, "queued\t%s\n", plural(rep.Queued, "message"))
		fmt.Fprintf(tw, "bytes\t%d used (headers and padding included), %d free (%.1f%% full)\n", *rep.BytesUsed, *rep.BytesFree, rep.FillPercent)
	} else {
		fmt.Fprintf(tw, "queued\t%d of %d (%.1f%% full)\n", rep.Queued, rep.Capacity, rep.FillPercent)
	}
	if sl := rep.Slots; sl != nil {
		fmt.Fprintf(tw, "slots\t%d free, %d full, %d being written, %d being read", sl.Free, sl.Full, sl.Writing, sl.Reading)
		if sl.Abandoned > 0 {
			fmt.Fprintf(tw, ", %d abandoned by dead producers", sl.Abandoned)
		}
		if sl.Stuck > 0 {
			fmt.Fprintf(tw, "; %d held by dead processes (freed when needed)", sl.Stuck)
		}
		if sl.Corrupt > 0 {
			fmt.Fprintf(tw, "; %d corrupt", sl.Corrupt)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintf(tw, "shutdown\t%s\n", yesNo[rep.Shutdown])
	fmt.Fprintf(tw, "asleep\t%s waiting for room, %s waiting for messages\n",
		plural(rep.ProducersWaiting, "producer"), plural(rep.ConsumersWaiting, "consumer"))
	if watching {
		if r := rep.Rates; r != nil {
			unit := ""
			if r.Unit != "" {
				unit = " " + r.Unit
			}
			fmt.Fprintf(tw, "rate\tin %.0f%s/s, out %.0f%s/s (over %.2fs)\n", r.InPerSec, unit, r.OutPerSec, unit, r.Seconds)
		} else {
			fmt.Fprintf(tw, "rate\t(measuring)\n")
		}
	}
	fmt.Fprintf(tw, "processes\t%d registered, %s\n", len(rep.Processes), rep.State)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Processes) > 0 {
		tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  RECORD\tPID\tROLE\tSTATE\n")
		for _, p := range rep.Processes {
			state := "alive"
			switch {
			case p.Unjudged:
				state = "alive? (another pid namespace)"
			case !p.Alive:
				state = "dead"
			}
			fmt.Fprintf(tw, "  %d\t%d\t%s\t%s\n", p.Record, p.PID, p.Role, state)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rateMeter turns successive samples of the producer and consumer positions
// into rates. Positions only grow, but a ring scribbled on (or re-created
// under the same name) may show one going back: the meter keeps the highest
// position seen, so a step back counts as no progress, not as a negative
// rate or a wrap-around of 2^64.
type rateMeter struct {
	have       bool
	at         time.Time
	tail, head uint64
}

// update records a sample taken at time at and returns the rates in and out
// per second since the previous sample, and the seconds between them. ok is
// false for the first sample, and when no time has passed.
func (m *rateMeter) update(at time.Time, tail, head uint64) (in, out, secs float64, ok bool) {
	if !m.have {
		m.have, m.at, m.tail, m.head = true, at, tail, head
		return 0, 0, 0, false
	}
	secs = at.Sub(m.at).Seconds()
	if secs <= 0 {
		return 0, 0, 0, false
	}
	var dIn, dOut uint64
	if tail > m.tail {
		dIn = tail - m.tail
		m.tail = tail
	}
	if head > m.head {
		dOut = head - m.head
		m.head = head
	}
	m.at = at
	return float64(dIn) / secs, float64(dOut) / secs, secs, true
}

// writesToTerminal reports whether w is a character device, such as a terminal.
func writesToTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
