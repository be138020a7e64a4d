// Package transport turns an address into a listener or a dialer, so that
// the example servers and clients switch transports with a flag and
// nothing else: "shm:/run/app.sock" (shmnet), "unix:/run/app.sock" or
// "tcp:127.0.0.1:50051".
package transport

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/shmring/shmring/shmnet"
)

// Listen listens at addr.
func Listen(addr string) (net.Listener, error) {
	network, address, err := split(addr)
	if err != nil {
		return nil, err
	}
	if network == "shm" {
		return shmnet.Listen(address)
	}
	return net.Listen(network, address)
}

// Dialer returns a function that connects to addr, whatever address it is
// given: for grpc.WithContextDialer and http.Transport.DialContext.
func Dialer(addr string) (func(ctx context.Context, _ string) (net.Conn, error), error) {
	network, address, err := split(addr)
	if err != nil {
		return nil, err
	}
	if network == "shm" {
		return func(ctx context.Context, _ string) (net.Conn, error) { return shmnet.Dial(ctx, address) }, nil
	}
	return func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}, nil
}

func split(addr string) (network, address string, err error) {
	network, address, ok := strings.Cut(addr, ":")
	switch {
	case !ok || address == "":
		return "", "", fmt.Errorf("address %q: want shm:PATH, unix:PATH or tcp:HOST:PORT", addr)
	case network != "shm" && network != "unix" && network != "tcp":
		return "", "", fmt.Errorf("address %q: network %q is not shm, unix or tcp", addr, network)
	}
	return network, address, nil
}
