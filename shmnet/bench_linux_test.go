package shmnet_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shmnet"
)

// The raw connection against the sockets it replaces, in one benchmark
// family each so that a run compares them side by side: a 64-byte
// ping-pong (ns/op is one round trip) and a stream of 1 MiB Writes (MB/s).
// The peer is a goroutine of this process ("goroutine") or another process
// ("process", this test binary again): shmnet is made for the second, where
// each end has its own scheduler. "shm" waits as connections do by default
// (spin, then sleep on a futex), "shm-spin" with ring.WaitSpin.

func init() { helpers["bench-peer"] = benchPeer }

// benchPeer listens on net= ("shm", "unix" or "tcp") at addr= and serves
// every connection as mode= says: "echo" sends back what it reads, "sink"
// reads to EOF and answers the byte count (8 bytes, little-endian).
func benchPeer(a args) int {
	ln, err := listenOn(a["net"], a["addr"])
	if err != nil {
		return failf("listen: %v", err)
	}
	report("addr", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return failf("accept: %v", err)
		}
		go serveBench(c, a["mode"])
	}
}

func serveBench(c net.Conn, mode string) {
	defer c.Close()
	if mode == "echo" {
		_, _ = io.Copy(c, c)
		return
	}
	n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
	_, _ = c.Write(binary.LittleEndian.AppendUint64(nil, uint64(n)))
}

// waitFor is the wait mode of the shmnet networks: "shm" sleeps when idle
// (the default), "shm-spin" never does.
func waitFor(network string) ring.WaitMode {
	if network == "shm-spin" {
		return ring.WaitSpin
	}
	return ring.WaitBlock
}

func listenOn(network, addr string) (net.Listener, error) {
	if strings.HasPrefix(network, "shm") {
		lc := shmnet.ListenConfig{Wait: waitFor(network)}
		return lc.Listen(addr)
	}
	return net.Listen(network, addr)
}

func dialTo(network, addr string) (net.Conn, error) {
	if strings.HasPrefix(network, "shm") {
		d := shmnet.Dialer{Wait: waitFor(network)}
		return d.Dial(context.Background(), addr)
	}
	return net.Dial(network, addr)
}

// benchConn returns a connection over network to a peer serving mode, in
// this process or another.
func benchConn(b *testing.B, network, where, mode string) net.Conn {
	b.Helper()
	addr := "127.0.0.1:0"
	if network != "tcp" {
		addr = filepath.Join(b.TempDir(), "s")
	}
	if where == "process" {
		p := startChild(b, testContext(b), "bench-peer", "net="+network, "addr="+addr, "mode="+mode)
		addr = p.await("addr", nil)
	} else {
		ln, err := listenOn(network, addr)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go serveBench(c, mode)
			}
		}()
		addr = ln.Addr().String()
	}
	c, err := dialTo(network, addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

var benchNets = []string{"shm", "shm-spin", "unix", "tcp"}

func BenchmarkConnPingPong64(b *testing.B) {
	for _, where := range []string{"process", "goroutine"} {
		for _, network := range benchNets {
			b.Run(where+"/"+network, func(b *testing.B) {
				c := benchConn(b, network, where, "echo")
				buf := make([]byte, 64)
				for b.Loop() {
					if _, err := c.Write(buf); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(c, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkConnStream1MiB(b *testing.B) {
	const size = 1 << 20
	for _, where := range []string{"process", "goroutine"} {
		for _, network := range benchNets {
			b.Run(where+"/"+network, func(b *testing.B) {
				c := benchConn(b, network, where, "sink")
				buf := make([]byte, size)
				b.SetBytes(size)
				for b.Loop() {
					if _, err := c.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				if cw, ok := c.(interface{ CloseWrite() error }); ok {
					if err := cw.CloseWrite(); err != nil {
						b.Fatal(err)
					}
				}
				var got [8]byte
				if _, err := io.ReadFull(c, got[:]); err != nil {
					b.Fatal(err)
				}
				if n := binary.LittleEndian.Uint64(got[:]); n != uint64(b.N)*size {
					b.Fatalf("the peer read %d bytes of %d", n, uint64(b.N)*size)
				}
			})
		}
	}
}
