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
	capacity optionalInt // unset: a default by kind (see config)
	slot     optionalInt
	mode     modeFlag
}

// Defaults of -capacity and -slot. A byte ring's default data area holds
// about what the default fixed ring's slots do; its default largest
// message is the ring's own, a quarter of the data area.
const (
	defaultSlots     = 1024
	defaultSlotSize  = 256
	defaultDataBytes = 256 << 10
)

var createSpec = &cmdSpec[createOptions]{
	name:  "create",
	synop: "shmring create [-kind spsc|mpmc|spsc-bytes|mpsc-bytes] [-capacity N] [-slot N] [-mode 0600] PATH",
	about: `
Create makes a new ring in the file PATH (a bare name means /dev/shm/NAME).

For spsc and mpmc, -capacity counts slots (a power of two, at least 2) of
-slot bytes each, the largest message the ring takes. An spsc ring has one
producer and one consumer process at a time; an mpmc ring any number of
each.

For the byte rings, spsc-bytes and mpsc-bytes, -capacity counts BYTES: the
data area (a power of two, at least 64) that messages of any length up to
-slot bytes share, each taking its length plus an 8-byte header, rounded up
to 8. -slot is at most a quarter of -capacity, and a quarter by default. An
spsc-bytes ring has one producer and one consumer process at a time; an
mpsc-bytes ring any number of producers and one consumer.

The file gets exactly the permission bits of -mode, whatever the umask:
0600 lets only its owner use the ring, 0660 its group too. Create refuses a
PATH that exists, and reserves all the ring's memory up front, so a ring
that does not fit fails here rather than later. Nothing holds the ring
once create exits: send, tail and any program may open it by its path, and
shmring rm removes it.`,
	flags: func(fs *flag.FlagSet) *createOptions {
		o := &createOptions{kind: kindFlag(ring.SPSC), mode: 0o600}
		fs.Var(&o.kind, "kind", "the `kind` of ring: spsc, mpmc, spsc-bytes or mpsc-bytes")
		fs.Var(&o.capacity, "capacity", fmt.Sprintf(
			"`N` slots, a power of two (default %d); byte rings: N bytes of data area, a power of two (default %d)",
			defaultSlots, defaultDataBytes))
		fs.Var(&o.slot, "slot", fmt.Sprintf(
			"the largest message, `N` bytes: the slot size (default %d); byte rings: at most, and by default, a quarter of -capacity",
			defaultSlotSize))
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

// config is the ring the flags describe. A byte ring's SlotSize 0 is the
// ring's default largest message, resolved by ring.Format.
func (o *createOptions) config() ring.Config {
	cfg := ring.Config{Kind: ring.Kind(o.kind), Capacity: defaultSlots, SlotSize: defaultSlotSize}
	if isBytes(cfg.Kind) {
		cfg.Capacity, cfg.SlotSize = defaultDataBytes, 0
	}
	if o.capacity.set {
		cfg.Capacity = o.capacity.n
	}
	if o.slot.set {
		cfg.SlotSize = o.slot.n
	}
	return cfg
}

func runCreate(args []string, stdout, stderr io.Writer) int {
	o, rest, status, ok := createSpec.parse(args, 1, 1, stdout, stderr)
	if !ok {
		return status
	}
	p := shm.Resolve(rest[0])
	cfg, err := create(p, o.config(), fs.FileMode(o.mode))
	if err != nil {
		return failf(stderr, "create", "%v", err)
	}
	size, _ := ring.Size(cfg) // checked by parse
	fmt.Fprintf(stdout, "created %s: %s, %s, %s, mode %s\n", p, cfg.Kind, capacityText(cfg), humanBytes(int64(size)), o.mode.String())
	return statusOK
}

// capacityText says what a ring of cfg holds: "1024 slots x 256 bytes", or
// for a byte ring "65536 bytes of data, messages up to 16384 bytes".
func capacityText(cfg ring.Config) string {
	if isBytes(cfg.Kind) {
		return fmt.Sprintf("%s of data, messages up to %s", plural(cfg.Capacity, "byte"), plural(cfg.SlotSize, "byte"))
	}
	return fmt.Sprintf("%s x %s", plural(cfg.Capacity, "slot"), plural(cfg.SlotSize, "byte"))
}

// isBytes reports a byte ring: variable-length records in a data area,
// whose Capacity counts bytes and SlotSize is the largest message.
func isBytes(k ring.Kind) bool { return k == ring.SPSCBytes || k == ring.MPSCBytes }

// create makes the ring file p with permission bits mode. ring.Create
// takes no options, so the region is made here, with shm.Perm, and the
// ring formatted on it: the file never has other bits than mode, not even
// for a moment. The region outlives the ring's handle, and the file is
// removed again if formatting fails. It returns the ring's configuration,
// defaults resolved.
func create(p string, cfg ring.Config, mode fs.FileMode) (ring.Config, error) {
	size, err := ring.Size(cfg)
	if err != nil {
		return cfg, err
	}
	reg, err := shm.Create(p, size, shm.Perm(mode))
	if err != nil {
		return cfg, err
	}
	var r *ring.Ring
	err = guard(func() (err error) {
		r, err = ring.Format(reg.Bytes(), cfg)
		return err
	})
	if err == nil {
		cfg = r.Config()
		err = guard(r.Close)
	}
	if cerr := reg.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = shm.Remove(p)
		return cfg, fmt.Errorf("create %s: %w", p, err)
	}
	return cfg, nil
}

// configError is ring's refusal of a configuration, in words for the
// command line: without the package prefix and the sentinel's text, which
// say nothing more to a user of create than the value that was wrong.
func configError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "ring: ")
	msg = strings.TrimSuffix(msg, ": "+ring.ErrInvalidConfig.Error())
	return errors.New(msg)
}

// kindFlag is a ring kind as a flag: "spsc", "mpmc", "spsc-bytes" or
// "mpsc-bytes", any case.
type kindFlag ring.Kind

func (k *kindFlag) String() string { return strings.ToLower(ring.Kind(*k).String()) }

func (k *kindFlag) Set(s string) error {
	v, err := ring.ParseKind(strings.ToLower(s))
	if err != nil {
		return fmt.Errorf("%q is not spsc, mpmc, spsc-bytes or mpsc-bytes", s)
	}
	*k = kindFlag(v)
	return nil
}

// optionalInt is an integer flag that knows whether it was given, for a
// default that depends on other flags. Unset, it prints as "" (so the flag
// package shows no default: the usage says it).
type optionalInt struct {
	n   int
	set bool
}

func (v *optionalInt) String() string {
	if !v.set {
		return ""
	}
	return strconv.Itoa(v.n)
}

func (v *optionalInt) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize) // as flag.IntVar parses, and says:
	if errors.Is(err, strconv.ErrRange) {
		return errors.New("value out of range")
	}
	if err != nil {
		return errors.New("parse error")
	}
	v.n, v.set = int(n), true
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
