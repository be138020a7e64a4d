package shmnet_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/shmring/shmring/shmnet"
)

// An HTTP server on a shmnet listener, and a client whose transport dials
// it: only the listener and the dialer differ from HTTP over TCP.
func Example_http() {
	dir, _ := os.MkdirTemp("", "shmnet-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "api.sock")

	ln, err := shmnet.Listen(path)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s", r.Context().Value(http.LocalAddrContextKey).(net.Addr).Network())
	})}
	go srv.Serve(ln)
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return shmnet.Dial(ctx, path) },
	}}
	resp, err := client.Get("http://api/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: hello over shm
}

// A raw connection: what one end writes, the other reads, through shared
// memory; Close at one end is io.EOF at the other once the data is read.
func ExampleDial() {
	dir, _ := os.MkdirTemp("", "shmnet-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "echo.sock")

	ln, err := shmnet.Listen(path)
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "you said: %s", line)
	}()

	c, err := shmnet.Dial(context.Background(), path)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "hello")
	answer, _ := io.ReadAll(c) // to io.EOF: the listener's end closed
	fmt.Print(string(answer))
	// Output: you said: hello
}
