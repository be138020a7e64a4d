package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

type createOptions struct {
	kind     kindFlag
	capacity int
	slot     int
	mode     modeFlag
}

var createSpec = &cmdSpec[createOptions]{
	name:  "create",
	synop: "shmring create [-kind spsc|mpmc] [-capacity N] [-slot N] [-mode 0600] PATH",
	about: `
Create makes a new ring in the file PATH (a bare name means /dev/shm/NAME):
-capacity slots (a power of two, at least 2) of -slot bytes each, the
largest message the ring takes. An SPSC ring has one producer and one
consumer process at a time; an MPMC ring any number of each.

The file gets exactly the permission bits of -mode, whatever the umask:
0600 lets only its owner use the ring, 0660 its group too. Create refuses a
PATH that exists, and reserves all the ring's memory up front, so a ring
that does not fit fails here rather than later. Nothing holds the ring
once create exits: send, tail and any program may open it by its path, and
shmring rm removes it.`,
	flags: func(fs *flag.FlagSet) *createOptions {
		o := &createOptions{kind: kindFlag(ring.SPSC), mode: 0o600}
		fs.Var(&o.kind, "kind", "the `kind` of ring: spsc or mpmc")
		fs.IntVar(&o.capacity, "capacity", 1024, "`N` slots, a power of two")
		fs.IntVar(&o.slot, "slot", 256, "slots of `N` bytes: the largest message")
		fs.Var(&o.mode, "mode", "the file's permission bits, `mode` in octal")
		return o
	},
	check: func(o *createOptions) error {
		_, err := ring.Size(o.config())
		if errors.Is(err, ring.ErrInvalidConfig) {
			return configError(err)
		}
		return err
	},
}

func init() {
	register(&command{name: "create", summary: "make a ring", usage: createSpec.usage(), run: runCreate})
}

func (o *createOptions) config() ring.Config {
	return ring.Config{Kind: ring.Kind(o.kind), Capacity: o.capacity, SlotSize: o.slot}
}

func runCreate(args []string, stdout, stderr io.Writer) int {
	o, rest, status, ok := createSpec.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return status
	}
	cfg := o.config()
	p := shm.Resolve(rest[0])
	if err := create(p, cfg, fs.FileMode(o.mode)); err != nil {
		return failf(stderr, "create", "%v", err)
	}
	size, _ := ring.Size(cfg) // checked by parse
	fmt.Fprintf(stdout, "created %s: %s, %s x %s, %s, mode %s\n", p, cfg.Kind,
		plural(cfg.Capacity, "slot"), plural(cfg.SlotSize, "byte"), humanBytes(int64(size)), o.mode.String())
	return statusOK
}

// create makes the ring file p with permission bits mode. ring.Create
// takes no options, so the region is made here, with shm.Perm, and the
// ring formatted on it: the file never has other bits than mode, not even
// for a moment. The region outlives the ring's handle, and the file is
// removed again if formatting fails.
func create(p string, cfg ring.Config, mode fs.FileMode) error {
	size, err := ring.Size(cfg)
	if err != nil {
		return err
	}
	reg, err := shm.Create(p, size, shm.Perm(mode))
	if err != nil {
		return err
	}
	var r *ring.Ring
	err = guard(func() (err error) {
		r, err = ring.Format(reg.Bytes(), cfg)
		return err
	})
	if err == nil {
		err = guard(r.Close)
	}
	if cerr := reg.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = shm.Remove(p)
		return fmt.Errorf("create %s: %w", p, err)
	}
	return nil
}

// configError is ring's refusal of a configuration, in words for the
// command line: without the package prefix and the sentinel's text, which
// say nothing more to a user of create than the value that was wrong.
func configError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "ring: ")
	msg = strings.TrimSuffix(msg, ": "+ring.ErrInvalidConfig.Error())
	return errors.New(msg)
}

// kindFlag is a ring kind as a flag: "spsc" or "mpmc", any case.
type kindFlag ring.Kind

func (k *kindFlag) String() string { return strings.ToLower(ring.Kind(*k).String()) }

func (k *kindFlag) Set(s string) error {
	v, err := ring.ParseKind(strings.ToLower(s))
	if err != nil {
		return fmt.Errorf("%q is not spsc or mpmc", s)
	}
	*k = kindFlag(v)
	return nil
}

// modeFlag is a file's permission bits as a flag, in octal: "0600", "660".
type modeFlag fs.FileMode

func (m *modeFlag) String() string { return fmt.Sprintf("%04o", uint32(*m)) }

func (m *modeFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v&^uint64(fs.ModePerm) != 0 {
		return fmt.Errorf("%q is not permission bits in octal (0000 to 0777)", s)
	}
	*m = modeFlag(v)
	return nil
}
