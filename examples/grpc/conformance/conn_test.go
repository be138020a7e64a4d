// Package conformance holds the test that Go's own transports are held to,
// run against shmnet: golang.org/x/net/nettest.TestConn.
package conformance

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"golang.org/x/net/nettest"

	"github.com/shmring/shmring/shmnet"
)

func TestConn(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		path := filepath.Join(t.TempDir(), "s")
		ln, err := shmnet.Listen(path)
		if err != nil {
			return nil, nil, nil, err
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			accepted <- c
		}()
		c1, err = shmnet.Dial(context.Background(), path)
		if err != nil {
			ln.Close()
			return nil, nil, nil, err
		}
		c2 = <-accepted
		stop = func() { c1.Close(); c2.Close(); ln.Close() }
		return c1, c2, stop, nil
	})
}
