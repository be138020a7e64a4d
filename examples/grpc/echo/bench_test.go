package echo_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/shmring/shmring/examples/grpc/transport"
)

// gRPC and HTTP over shmnet against a unix socket and TCP loopback, server
// and client in this process. Compare within one run: the machine's
// figures move from minute to minute.

var networks = []string{"shm", "unix", "tcp"}

// BenchmarkGRPCUnary: ns/op is one unary round trip.
func BenchmarkGRPCUnary(b *testing.B) {
	for _, network := range networks {
		b.Run(network, func(b *testing.B) {
			c := client(b, serve(b, addrFor(b, network))[0])
			ctx := context.Background()
			in := wrapperspb.String("ping")
			for b.Loop() {
				if _, err := c.Say(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGRPCStream: messages/s of a server stream.
func BenchmarkGRPCStream(b *testing.B) {
	for _, network := range networks {
		b.Run(network, func(b *testing.B) {
			c := client(b, serve(b, addrFor(b, network))[0])
			stream, err := c.Count(context.Background(), wrapperspb.UInt64(uint64(b.N)))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			got := 0
			for {
				if _, err := stream.Recv(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
				got++
			}
			if got != b.N {
				b.Fatalf("%d messages of %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkHTTP: requests/s of HTTP/1.1 keep-alive requests, 4 at a time.
func BenchmarkHTTP(b *testing.B) {
	for _, network := range networks {
		b.Run(network, func(b *testing.B) {
			addr := addrFor(b, network)
			ln, err := transport.Listen(addr)
			if err != nil {
				b.Fatal(err)
			}
			if network == "tcp" {
				addr = "tcp:" + ln.Addr().String()
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "hello")
			})}
			go func() { _ = srv.Serve(ln) }()
			b.Cleanup(func() { srv.Close() })
			dial, err := transport.Dialer(addr)
			if err != nil {
				b.Fatal(err)
			}
			c := &http.Client{Transport: &http.Transport{
				DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, "") },
				MaxIdleConnsPerHost: 4,
			}}
			b.SetParallelism(2) // 4 goroutines at a time on 2 Ps
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Get("http://x/")
					if err != nil {
						panic(fmt.Sprint(err))
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
