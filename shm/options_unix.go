//go:build unix

package shm

import (
	"fmt"
	"io/fs"
)

// Which constructor is checking its options: each allows a different set.
const (
	forCreate = iota
	forOpen   // Open and Inherit
	forAnonymous
)

func collect(opts []Option) options {
	o := options{perm: 0o600}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// check returns an error for an option that does not apply to the
// constructor, or for options that contradict each other.
func (o *options) check(ctor int) error {
	switch {
	case o.permSet && ctor != forCreate:
		return invalid("Perm applies to Create only")
	case o.permSet && o.perm&^fs.ModePerm != 0:
		return invalid(fmt.Sprintf("Perm(%v): only permission bits are allowed", o.perm))
	case (o.readOnly || o.private) && ctor != forOpen:
		return invalid("ReadOnly and Private apply to Open and Inherit only")
	case o.readOnly && o.private:
		return invalid("ReadOnly and Private exclude each other")
	}
	return nil
}

// needWrite reports whether the mapping's stores reach the shared pages,
// which takes a descriptor open for writing.
func (o *options) needWrite() bool { return !o.readOnly && !o.private }
