// Command echo-client calls the Echo gRPC service at -addr:
//
//	echo-client -addr shm:/tmp/echo.sock say hello
//	echo-client -addr tcp:127.0.0.1:50051 count 5
//	echo-client -addr shm:/tmp/echo.sock -n 10000 bench
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/shmring/shmring/examples/grpc/echo"
	"github.com/shmring/shmring/examples/grpc/transport"
)

func main() {
	addr := flag.String("addr", "shm:/tmp/echo.sock", "server address: shm:PATH, unix:PATH or tcp:HOST:PORT")
	n := flag.Int("n", 10000, "bench: unary calls, and messages streamed")
	flag.Parse()
	log.SetFlags(0)
	dial, err := transport.Dialer(*addr)
	if err != nil {
		log.Fatal(err)
	}
	cc, err := grpc.NewClient("passthrough:///echo",
		grpc.WithContextDialer(dial), // the one line that knows the transport
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	client := echo.NewClient(cc)
	ctx := context.Background()

	switch cmd := flag.Arg(0); cmd {
	case "say":
		out, err := client.Say(ctx, wrapperspb.String(strings.Join(flag.Args()[1:], " ")))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(out.GetValue())
	case "count":
		limit, err := strconv.ParseUint(flag.Arg(1), 10, 64)
		if err != nil {
			log.Fatalf("count: %v", err)
		}
		stream, err := client.Count(ctx, wrapperspb.UInt64(limit))
		if err != nil {
			log.Fatal(err)
		}
		for {
			v, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println(v.GetValue())
		}
	case "bench":
		if _, err := client.Say(ctx, wrapperspb.String("warm-up")); err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		for i := 0; i < *n; i++ {
			if _, err := client.Say(ctx, wrapperspb.String("ping")); err != nil {
				log.Fatal(err)
			}
		}
		rtt := time.Since(start) / time.Duration(*n)
		start = time.Now()
		stream, err := client.Count(ctx, wrapperspb.UInt64(uint64(*n)))
		if err != nil {
			log.Fatal(err)
		}
		got := 0
		for {
			if _, err := stream.Recv(); err == io.EOF {
				break
			} else if err != nil {
				log.Fatal(err)
			}
			got++
		}
		rate := float64(got) / time.Since(start).Seconds()
		fmt.Printf("%s: unary round trip %v (%d calls), streaming %.0f messages/s (%d messages)\n", *addr, rtt, *n, rate, got)
	default:
		log.Fatalf("unknown command %q: want say TEXT, count N or bench", cmd)
	}
}
