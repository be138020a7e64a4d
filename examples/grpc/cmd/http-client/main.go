// Command http-client gets a URL path from the HTTP server at -addr:
//
//	http-client -addr shm:/tmp/http.sock '/?name=ann'
//	http-client -addr shm:/tmp/http.sock -n 20000 -c 4 bench
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmring/shmring/examples/grpc/transport"
)

func main() {
	addr := flag.String("addr", "shm:/tmp/http.sock", "server address: shm:PATH, unix:PATH or tcp:HOST:PORT")
	n := flag.Int("n", 10000, "bench: requests")
	conc := flag.Int("c", 1, "bench: requests at a time (connections)")
	flag.Parse()
	log.SetFlags(0)
	dial, err := transport.Dialer(*addr)
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { // the one place that knows the transport
			return dial(ctx, "")
		},
		MaxIdleConnsPerHost: *conc,
	}}
	get := func(path string) ([]byte, error) {
		resp, err := client.Get("http://example" + path) // the host names nothing: the dialer decides
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	if flag.Arg(0) != "bench" {
		body, err := get(flag.Arg(0))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(string(body))
		return
	}
	var left atomic.Int64
	left.Store(int64(*n))
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if _, err := get("/?name=bench"); err != nil {
					log.Fatal(err)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("%s: %d requests, %d at a time, in %v: %.0f requests/s\n", *addr, *n, *conc, el.Round(time.Millisecond), float64(*n)/el.Seconds())
}
