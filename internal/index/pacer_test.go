package index

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
		pc := NewPacer(tc.share, nil)
		pc.begin = clock
		pc.now = func() time.Time { return clock }
		pc.sleep = func(d time.Duration, _ <-chan struct{}) { clock = clock.Add(d) }
		for range tc.ticks {
			clock = clock.Add(tc.work)
			pc.tick()
		}
		if pc.Rested() != tc.rest {
			t.Errorf("Test %d: rested %v, want %v", i, pc.Rested(), tc.rest)
		}
		work := time.Duration(tc.ticks) * tc.work
		if total := clock.Sub(time.Unix(0, 0)); tc.rest > 0 && float64(work)/float64(total) > tc.share+1e-9 {
			t.Errorf("Test %d: work was %.3f of the time, over %.3f", i, float64(work)/float64(total), tc.share)
		}
	}
	var nilPacer *Pacer
	nilPacer.tick()
	if nilPacer.stopped() || nilPacer.Paced() {
		t.Errorf("a nil pacer stopped or paced")
	}
	if nilPacer.Rested() != 0 {
		t.Errorf("a nil pacer rested")
	}
}

// TestPacerStop ends the work at the first tick after stop is closed, also in the middle of
// a rest that no timer would end.
func TestPacerStop(t *testing.T) {
	for i, share := range []float64{1, 0.1} {
		stop := make(chan struct{})
		pc := NewPacer(share, stop)
		pc.slice = time.Hour // no rest until the stop below
		pc.sleep = func(d time.Duration, stop <-chan struct{}) { <-stop }
		ticks := 0
		func() {
			defer func() {
				if r := recover(); r != ErrStopped {
					t.Errorf("Test %d: recovered %v, want ErrStopped", i, r)
				}
			}()
			for ; ticks < 1000; ticks++ {
				if ticks == 3 {
					if share < 1 {
						pc.slice = 0 // the next tick rests, and the stop comes during the rest
						go func() { time.Sleep(10 * time.Millisecond); close(stop) }()
					} else {
						close(stop)
					}
				}
				pc.tick()
			}
		}()
		if ticks != 3 || !pc.stopped() {
			t.Errorf("Test %d: stopped at tick %d, want 3", i, ticks)
		}
	}
}

func TestSleepUnless(t *testing.T) {
	stop := make(chan struct{})
	close(stop)
	done := make(chan struct{})
	go func() { sleepUnless(time.Hour, stop); close(done) }()
	<-done // an hour's sleep ends with the stop; a hang here fails by the test timeout
}
