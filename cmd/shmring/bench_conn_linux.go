package main

// Raw connections: package shmnet's net.Conn against a unix socket and TCP
// on loopback, both as a net.Conn of package net: a 64-byte ping-pong
// (latency rows, mode conn-rtt) and a stream of 1 MiB writes (throughput
// rows, mode conn). The consumer or ponger is the server: the parent makes
// its listener (shmnet: the child listens on the path the parent picks;
// unix and TCP: the parent listens and passes the descriptor, so the
// address is known before either child starts). Each side makes its
// connection on first use: the client dials on its first run, when the
// server has said "ready" and waits in Accept.

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/shmring/shmring/shmnet"
)

// lazyConn is a connection made on first use.
type lazyConn struct {
	open func() (net.Conn, error)
	c    net.Conn
}

func (l *lazyConn) conn() (net.Conn, error) {
	if l.c == nil {
		c, err := l.open()
		if err != nil {
			return nil, err
		}
		l.c = c
	}
	return l.c, nil
}

func (l *lazyConn) Read(p []byte) (int, error) {
	c, err := l.conn()
	if err != nil {
		return 0, err
	}
	return c.Read(p)
}

func (l *lazyConn) Write(p []byte) (int, error) {
	c, err := l.conn()
	if err != nil {
		return 0, err
	}
	return c.Write(p)
}

func (l *lazyConn) Close() error {
	if l.c != nil {
		return l.c.Close()
	}
	return nil
}

// newConnEnd makes a child's end of a conn row: the server (consumer,
// pong) accepts on the listener it is given or makes; the client dials.
func newConnEnd(o childOptions) (io.ReadWriter, func(), error) {
	server := o.role == "consumer" || o.role == "pong"
	if !server {
		lc := &lazyConn{open: func() (net.Conn, error) {
			if o.netw == "shm" {
				return shmnet.Dial(context.Background(), o.addr)
			}
			return net.Dial(o.netw, o.addr)
		}}
		return lc, func() { lc.Close() }, nil
	}
	var l net.Listener
	var err error
	if o.netw == "shm" {
		l, err = shmnet.Listen(o.addr)
	} else {
		f := os.NewFile(uintptr(o.fd), "listener")
		if f == nil {
			return nil, nil, fmt.Errorf("descriptor %d not inherited", o.fd)
		}
		l, err = net.FileListener(f)
		f.Close()
	}
	if err != nil {
		return nil, nil, err
	}
	lc := &lazyConn{open: l.Accept}
	return lc, func() { lc.Close(); l.Close() }, nil
}

// connSetup prepares a conn row in the parent: the server's and the
// client's command lines, and what to release once both have started.
func connSetup(netw string) (server, client func(*exec.Cmd) error, release func(), err error) {
	dir, err := os.MkdirTemp("", "shmring-bench-")
	if err != nil {
		return nil, nil, nil, err
	}
	removeDir := func() { os.RemoveAll(dir) }
	release = removeDir
	addArgs := func(args ...string) func(*exec.Cmd) error {
		return func(cmd *exec.Cmd) error { cmd.Args = append(cmd.Args, args...); return nil }
	}
	switch netw {
	case "shm":
		path := filepath.Join(dir, "conn")
		return addArgs("-net", netw, "-addr", path), addArgs("-net", netw, "-addr", path), release, nil
	case "unix", "tcp":
		addr := "127.0.0.1:0"
		if netw == "unix" {
			addr = filepath.Join(dir, "conn.sock")
		}
		l, err := net.Listen(netw, addr)
		if err != nil {
			release()
			return nil, nil, nil, err
		}
		var f *os.File
		if ul, ok := l.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false) // the server's copy serves on
			f, err = ul.File()
		} else {
			f, err = l.(*net.TCPListener).File()
		}
		addr = l.Addr().String()
		l.Close()
		if err != nil {
			release()
			return nil, nil, nil, err
		}
		server = func(cmd *exec.Cmd) error {
			cmd.ExtraFiles = append(cmd.ExtraFiles, f)
			cmd.Args = append(cmd.Args, "-net", netw, "-fd", fmt.Sprint(2+len(cmd.ExtraFiles)))
			return nil
		}
		return server, addArgs("-net", netw, "-addr", addr), func() { f.Close(); removeDir() }, nil
	}
	release()
	return nil, nil, nil, fmt.Errorf("unknown network %q", netw)
}

// rowNet is the -net argument of a conn row.
func rowNet(row *rowSpec) string {
	for i, a := range row.args {
		if a == "-net" && i+1 < len(row.args) {
			return row.args[i+1]
		}
	}
	return ""
}
