package shmnet

import "strconv"

// Network is the network name of shmnet addresses.
const Network = "shm"

// Addr is the address of one end of a connection: the listener's socket
// path for the listening end, the process for the dialing end (which, as a
// unix socket client, has no path of its own).
type Addr struct {
	Path string // the rendezvous socket; "" for the dialing end
	PID  int    // the dialing end's process (at connect time); 0 for the listening end
}

// Network returns "shm".
func (a *Addr) Network() string { return Network }

// String returns the path, or "pid:N" for the dialing end.
func (a *Addr) String() string {
	if a == nil {
		return "<nil>"
	}
	if a.Path != "" {
		return a.Path
	}
	return "pid:" + strconv.Itoa(a.PID)
}

// Cred is who the process at the other end of a connection is, as the
// kernel saw it when the dialer connected (SO_PEERCRED).
type Cred struct {
	PID int
	UID int
	GID int
}
