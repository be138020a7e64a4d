package transport

import "strings"

// Addrs is a flag that may be given several times.
type Addrs []string

func (a *Addrs) String() string { return strings.Join(*a, ",") }

// Set adds an address.
func (a *Addrs) Set(s string) error { *a = append(*a, s); return nil }
