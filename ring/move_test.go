package ring

import (
	"bytes"
	"testing"
	"unsafe"
)

// TestMoveWords copies every length moveWords takes and checks that it
// writes exactly those bytes: none before, none after.
func TestMoveWords(t *testing.T) {
	if !unalignedWords {
		t.Skip("the SPSC fast paths copy with memmove on this CPU")
	}
	src := make([]byte, wordPayload+32)
	for i := range src {
		src[i] = byte(i*7 + 1)
	}
	for n := 8; n <= wordPayload; n++ {
		for off := 0; off < 8; off++ { // unaligned destinations too
			dst := bytes.Repeat([]byte{0xEE}, wordPayload+32)
			moveWords(unsafe.Pointer(&dst[8+off]), unsafe.Pointer(&src[3]), n)
			want := bytes.Repeat([]byte{0xEE}, len(dst))
			copy(want[8+off:], src[3:3+n])
			if !bytes.Equal(dst, want) {
				t.Fatalf("n=%d off=%d:\n got %x\nwant %x", n, off, dst, want)
			}
		}
	}
	if inWords(7) || !inWords(8) || !inWords(wordPayload) || inWords(wordPayload+1) {
		t.Fatal("inWords does not say 8 to wordPayload")
	}
}
