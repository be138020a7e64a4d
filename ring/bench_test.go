package ring_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shmring/shmring/ring"
)

// Benchmarks in one process, two goroutines: a producer and a consumer. The
// cross-process figures come from `go run ./cmd/shmring bench`.

var benchSizes = []int{8, 64, 1024}

func benchRing(b *testing.B, kind ring.Kind, size int) *ring.Ring {
	b.Helper()
	cfg := ring.Config{Kind: kind, Capacity: 4096, SlotSize: size}
	if kind == ring.SPSCBytes || kind == ring.MPSCBytes { // room for 4096 records of the size
		for cfg.Capacity < 4096*((8+size+7)&^7) || cfg.Capacity < 4*size {
			cfg.Capacity *= 2
		}
	}
	r, err := ring.Anonymous(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func BenchmarkPushPop(b *testing.B) {
	for _, kind := range []ring.Kind{ring.SPSC, ring.MPMC, ring.SPSCBytes, ring.MPSCBytes} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", kind, size), func(b *testing.B) {
				r := benchRing(b, kind, size)
				ctx := context.Background()
				b.SetBytes(int64(size))
				done := make(chan struct{})
				go func() {
					defer close(done)
					buf := make([]byte, size)
					for i := 0; i < b.N; i++ {
						if _, err := r.Pop(ctx, buf); err != nil {
							b.Error(err)
							return
						}
					}
				}()
				msg := make([]byte, size)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := r.Push(ctx, msg); err != nil {
						b.Fatal(err)
					}
				}
				<-done
			})
		}
	}
}

func BenchmarkBatch(b *testing.B) {
	const batch = 32
	for _, kind := range []ring.Kind{ring.SPSC, ring.MPMC} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", kind, size), func(b *testing.B) {
				r := benchRing(b, kind, size)
				ctx := context.Background()
				b.SetBytes(int64(size))
				done := make(chan struct{})
				go func() {
					defer close(done)
					sink := 0
					for got := 0; got < b.N; {
						n, err := r.PopFunc(ctx, batch, func(m []byte) { sink += len(m) })
						if err != nil {
							b.Error(err)
							return
						}
						got += n
					}
				}()
				msgs := make([][]byte, batch)
				for i := range msgs {
					msgs[i] = make([]byte, size)
				}
				b.ResetTimer()
				for sent := 0; sent < b.N; {
					n := min(batch, b.N-sent)
					if _, err := r.PushBatch(ctx, msgs[:n]); err != nil {
						b.Fatal(err)
					}
					sent += n
				}
				<-done
			})
		}
	}
}

func BenchmarkChannel(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ch := make(chan []byte, 4096)
			b.SetBytes(int64(size))
			done := make(chan struct{})
			go func() {
				defer close(done)
				buf := make([]byte, size)
				for i := 0; i < b.N; i++ {
					copy(buf, <-ch)
				}
			}()
			msg := make([]byte, size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ch <- msg
			}
			<-done
		})
	}
}

// BenchmarkTryPushPop: one goroutine pushes a message and pops it, so the
// figure is the instructions of the two calls, without cache lines moving
// between cores.
func BenchmarkTryPushPop(b *testing.B) {
	for _, kind := range []ring.Kind{ring.SPSC, ring.MPMC, ring.SPSCBytes, ring.MPSCBytes} {
		for _, size := range []int{8, 64} {
			b.Run(fmt.Sprintf("%s/%dB", kind, size), func(b *testing.B) {
				r := benchRing(b, kind, size)
				msg, buf := make([]byte, size), make([]byte, size)
				for i := 0; i < b.N; i++ {
					if err := r.TryPush(msg); err != nil {
						b.Fatal(err)
					}
					if _, err := r.TryPop(buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
