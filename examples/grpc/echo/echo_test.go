package echo_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/shmring/shmring/examples/grpc/echo"
	"github.com/shmring/shmring/examples/grpc/transport"
)

// addrFor returns a fresh address of network: shm, unix or tcp.
func addrFor(t testing.TB, network string) string {
	if network == "tcp" {
		return "tcp:127.0.0.1:0"
	}
	return network + ":" + filepath.Join(t.TempDir(), "s")
}

// serve serves the Echo service on a listener at each address and returns
// the addresses to dial (a TCP port is known once listening).
func serve(t testing.TB, addrs ...string) []string {
	t.Helper()
	s := grpc.NewServer()
	echo.Register(s, echo.Impl{Name: "test"})
	var out []string
	for _, addr := range addrs {
		ln, err := transport.Listen(addr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(addr, "tcp:") {
			addr = "tcp:" + ln.Addr().String()
		}
		out = append(out, addr)
		go func() { _ = s.Serve(ln) }()
	}
	t.Cleanup(s.Stop)
	return out
}

func client(t testing.TB, addr string) *echo.Client {
	t.Helper()
	dial, err := transport.Dialer(addr)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient("passthrough:///echo", grpc.WithContextDialer(dial), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return echo.NewClient(cc)
}

// check makes a unary call and a streaming one, and returns the network
// of the peer's address.
func check(t *testing.T, c *echo.Client) string {
	t.Helper()
	ctx := context.Background()
	var p peer.Peer
	out, err := c.Say(ctx, wrapperspb.String("hello"), grpc.Peer(&p))
	if err != nil {
		t.Fatal(err)
	}
	if out.GetValue() != "test: hello" {
		t.Fatalf("Say: %q", out.GetValue())
	}
	const n = 5000
	stream, err := c.Count(ctx, wrapperspb.UInt64(n))
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); ; i++ {
		v, err := stream.Recv()
		if err == io.EOF {
			if i != n {
				t.Fatalf("Count streamed %d numbers, not %d", i, n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if v.GetValue() != i {
			t.Fatalf("Count: %d where %d belongs", v.GetValue(), i)
		}
	}
	return p.Addr.Network()
}

// TestEcho: the service works the same over each transport.
func TestEcho(t *testing.T) {
	for _, network := range []string{"shm", "unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			addr := serve(t, addrFor(t, network))[0]
			if got := check(t, client(t, addr)); got != network {
				t.Errorf("the peer's network is %q", got)
			}
		})
	}
}

// TestOneServerManyTransports: one server listens on shmnet and TCP at
// once; local and remote clients share its code path.
func TestOneServerManyTransports(t *testing.T) {
	addrs := serve(t, addrFor(t, "shm"), addrFor(t, "tcp"))
	for _, addr := range addrs {
		check(t, client(t, addr))
	}
}

// TestHTTP: an http.Server on a shmnet listener, and an http.Client whose
// transport dials shmnet.
func TestHTTP(t *testing.T) {
	addr := addrFor(t, "shm")
	ln, err := transport.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		fmt.Fprintf(w, "%s %s over %s", r.Method, r.URL.Path, local.Network())
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	dial, err := transport.Dialer(addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx, "") }}}
	for i := range 100 {
		resp, err := c.Get(fmt.Sprintf("http://x/r%d", i))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("GET /r%d over shm", i); string(body) != want {
			t.Fatalf("%q, want %q", body, want)
		}
	}
}
