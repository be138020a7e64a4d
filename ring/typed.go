package ring

import (
	"context"
	"fmt"
	"reflect"
	"unsafe"
)

// Typed is a view of a ring whose messages are values of a fixed-size,
// pointer-free type T: pushing copies T's bytes into a slot, popping copies
// them out. No encoding, no allocation.
//
// Both sides must agree on T's layout: build them from the same type
// definition, for the same architecture. Padding bytes travel as they are.
type Typed[T any] struct {
	r    *Ring
	size int
}

// NewTyped returns a typed view of r. It refuses a T that holds anything
// another process could not use (pointers, strings, slices, maps,
// interfaces, channels, functions), or whose size depends on the platform
// (int, uint, uintptr: use int64 and friends), or a bool (any byte another
// process writes would become one: use uint8), or that is larger than the
// ring's slot size.
func NewTyped[T any](r *Ring) (*Typed[T], error) {
	t := reflect.TypeFor[T]()
	if err := checkPlain(t, t.String()); err != nil {
		return nil, err
	}
	size := int(t.Size())
	if size > r.cfg.SlotSize {
		return nil, wrap(ErrTooLarge, "%s is %d bytes, slot size is %d", t, size, r.cfg.SlotSize)
	}
	return &Typed[T]{r: r, size: size}, nil
}

// checkPlain walks t and reports the first part of it that cannot live in
// shared memory.
func checkPlain(t reflect.Type, path string) error {
	switch t.Kind() {
	case reflect.Bool:
		return fmt.Errorf("ring: %s is a bool: another process could write a byte other than 0 or 1, and Go would then hold a bool that is neither true nor false (b and !b both true); use a uint8 and compare it with 0", path)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return nil
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		return fmt.Errorf("ring: %s is %s, whose size depends on the platform: use a fixed-width integer (int64, uint32, ...)", path, t.Kind())
	case reflect.Array:
		return checkPlain(t.Elem(), path+"[]")
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if err := checkPlain(f.Type, path+"."+f.Name); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("ring: %s is a %s: another process cannot follow it; only fixed-size, pointer-free types can live in shared memory", path, t.Kind())
}

func (t *Typed[T]) bytes(v *T) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(v)), t.size) }

// Ring returns the ring under the view.
func (t *Typed[T]) Ring() *Ring { return t.r }

// TryPush copies v into the ring if a slot is free; see Ring.TryPush.
func (t *Typed[T]) TryPush(v T) error { return t.r.TryPush(t.bytes(&v)) }

// Push copies v into the ring, waiting for room; see Ring.Push.
func (t *Typed[T]) Push(ctx context.Context, v T) error { return t.r.Push(ctx, t.bytes(&v)) }

// TryPop returns the next value; see Ring.TryPop. A message of another
// length than T is left in the ring and reported with ErrIncompatible.
func (t *Typed[T]) TryPop() (T, error) {
	var v T
	err := t.r.tryPopExact(t.bytes(&v))
	return v, err
}

// Pop returns the next value, waiting for one until ctx is done; see
// Ring.Pop.
func (t *Typed[T]) Pop(ctx context.Context) (T, error) {
	v, err := t.TryPop()
	if err != ErrEmpty {
		return v, err
	}
	_, err = t.r.popWait(ctx, t.bytes(&v), true)
	return v, err
}
