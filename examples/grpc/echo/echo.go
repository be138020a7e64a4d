// Package echo is a small gRPC service, written without generated code so
// that the example needs no protoc: its messages are protobuf's well-known
// wrappers, its descriptor is written out by hand below (what
// protoc-gen-go-grpc would generate for the service in echo.proto's
// comment).
//
//	service Echo {
//	  rpc Say(google.protobuf.StringValue) returns (google.protobuf.StringValue);
//	  rpc Count(google.protobuf.UInt64Value) returns (stream google.protobuf.UInt64Value);
//	}
package echo

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ServiceName is the full name of the service.
const ServiceName = "shmring.examples.Echo"

// Server is what a server of the service implements.
type Server interface {
	// Say answers its request.
	Say(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	// Count streams the numbers from 0 below in.Value.
	Count(in *wrapperspb.UInt64Value, stream grpc.ServerStreamingServer[wrapperspb.UInt64Value]) error
}

// Register registers srv's implementation of the service with s.
func Register(s grpc.ServiceRegistrar, srv Server) {
	s.RegisterService(&serviceDesc, srv)
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*Server)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Say",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return srv.(Server).Say(ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + ServiceName + "/Say"}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return srv.(Server).Say(ctx, req.(*wrapperspb.StringValue))
			})
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Count",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(wrapperspb.UInt64Value)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(Server).Count(in, &grpc.GenericServerStream[wrapperspb.UInt64Value, wrapperspb.UInt64Value]{ServerStream: stream})
		},
	}},
}

// Client is a client of the service.
type Client struct{ cc grpc.ClientConnInterface }

// NewClient returns a client of the service on cc.
func NewClient(cc grpc.ClientConnInterface) *Client { return &Client{cc} }

// Say calls Say.
func (c *Client) Say(ctx context.Context, in *wrapperspb.StringValue, opts ...grpc.CallOption) (*wrapperspb.StringValue, error) {
	out := new(wrapperspb.StringValue)
	if err := c.cc.Invoke(ctx, "/"+ServiceName+"/Say", in, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}

// Count calls Count and returns the stream of its answers.
func (c *Client) Count(ctx context.Context, in *wrapperspb.UInt64Value, opts ...grpc.CallOption) (grpc.ServerStreamingClient[wrapperspb.UInt64Value], error) {
	stream, err := c.cc.NewStream(ctx, &serviceDesc.Streams[0], "/"+ServiceName+"/Count", opts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[wrapperspb.UInt64Value, wrapperspb.UInt64Value]{ClientStream: stream}
	if err := x.SendMsg(in); err != nil {
		return nil, err
	}
	if err := x.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}

// Impl is the service's implementation; Name goes into Say's answers.
type Impl struct{ Name string }

// Say answers "<Name>: <request>".
func (s Impl) Say(_ context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String(fmt.Sprintf("%s: %s", s.Name, in.GetValue())), nil
}

// Count streams 0, 1, ... in.Value-1.
func (s Impl) Count(in *wrapperspb.UInt64Value, stream grpc.ServerStreamingServer[wrapperspb.UInt64Value]) error {
	for i := uint64(0); i < in.GetValue(); i++ {
		if err := stream.Send(wrapperspb.UInt64(i)); err != nil {
			return err
		}
	}
	return nil
}
