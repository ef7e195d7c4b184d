package ipsecoe

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	tests := []struct {
		share float64
		work  time.Duration // per tick
		ticks int
		rest  time.Duration // total rest wanted
	}{
		{0.1, 100 * time.Microsecond, 100, 90 * time.Millisecond}, // 10 ms of work, 10 %
		{0.5, 500 * time.Microsecond, 40, 20 * time.Millisecond},  // 20 ms of work, 50 %
		{0.1, 1 * time.Microsecond, 1000, 0},                      // 1 ms: under one slice, no rest
		{0.25, 3 * time.Millisecond, 4, 36 * time.Millisecond},    // each tick over a slice
		{1, 10 * time.Millisecond, 10, 0},                         // all of a CPU: never rests
	}
	for i, tc := range tests {
		clock := time.Unix(0, 0)
		pc := newPacer(tc.share)
		pc.begin = clock
		pc.now = func() time.Time { return clock }
		pc.sleep = func(d time.Duration) { clock = clock.Add(d) }
		for range tc.ticks {
			clock = clock.Add(tc.work)
			pc.tick()
		}
		if pc.rested() != tc.rest {
			t.Errorf("Test %d: rested %v, want %v", i, pc.rested(), tc.rest)
		}
		work := time.Duration(tc.ticks) * tc.work
		if total := clock.Sub(time.Unix(0, 0)); tc.rest > 0 && float64(work)/float64(total) > tc.share+1e-9 {
			t.Errorf("Test %d: work was %.3f of the time, over %.3f", i, float64(work)/float64(total), tc.share)
		}
	}
	var nilPacer *pacer
	nilPacer.tick()
	if nilPacer.rested() != 0 {
		t.Errorf("a nil pacer rested")
	}
}
