// Command echo-server serves the Echo gRPC service on every address given
// with -listen, at once: shmnet for local clients, TCP for remote ones,
// one server and one code path.
//
//	echo-server -listen shm:/tmp/echo.sock -listen tcp:127.0.0.1:50051
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"

	"github.com/shmring/shmring/examples/grpc/echo"
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
	s := grpc.NewServer()
	echo.Register(s, echo.Impl{Name: fmt.Sprintf("echo-server (pid %d)", os.Getpid())})
	for _, addr := range addrs {
		ln, err := transport.Listen(addr) // the one line that knows the transport
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("serving gRPC on %s", addr)
		go func() {
			if err := s.Serve(ln); err != nil {
				log.Fatal(err)
			}
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	s.GracefulStop() // closes the listeners: the shmnet socket file goes too
}
