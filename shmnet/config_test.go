package shmnet

import (
	"testing"

	"github.com/shmring/shmring/ring"
)

// TestRingConfig: every buffer a Dialer may ask for makes a ring that the
// ring package takes and a listener accepts, whose largest record tiles
// the data area; sizes a Dialer may not ask for are refused.
func TestRingConfig(t *testing.T) {
	for size := MinBuffer; size <= 1<<30; size <<= 1 {
		cfg := ringConfig(size)
		total, err := ring.Size(cfg)
		if err != nil {
			t.Fatalf("buffer %d: %+v: %v", size, cfg, err)
		}
		if span := cfg.SlotSize + recordHeader; span > maxRecordSpan || size%span != 0 || span > size/4 {
			t.Errorf("buffer %d: a record of %d bytes takes %d", size, cfg.SlotSize, span)
		}
		if err := checkRing(cfg, total, 1<<30); err != nil {
			t.Errorf("buffer %d: %v", size, err)
		}
	}
	for _, size := range []int{0, MinBuffer / 2, MinBuffer + 8, 3 * MinBuffer, 2 << 30} {
		if err := checkBuffer("buffer", size, 1<<30); err == nil {
			t.Errorf("buffer %d accepted", size)
		}
	}
}
