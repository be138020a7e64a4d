// Command http-server serves HTTP/1.1 on every address given with -listen:
//
//	http-server -listen shm:/tmp/http.sock -listen tcp:127.0.0.1:8080
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/shmring/shmring/examples/grpc/transport"
)

func main() {
	var addrs transport.Addrs
	flag.Var(&addrs, "listen", "address to serve on: shm:PATH, unix:PATH or tcp:HOST:PORT (repeatable)")
	flag.Parse()
	if len(addrs) == 0 {
		log.Fatal("give at least one -listen address")
	}
	log.SetFlags(0)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		fmt.Fprintf(w, "hello %s from pid %d over %s (%s), you are %s\n",
			r.URL.Query().Get("name"), os.Getpid(), local.Network(), local, r.RemoteAddr)
	})}
	errs := make(chan error)
	for _, addr := range addrs {
		ln, err := transport.Listen(addr) // the one line that knows the transport
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("serving HTTP on %s", addr)
		go func() { errs <- srv.Serve(ln) }()
	}
	log.Fatal(<-errs)
}
