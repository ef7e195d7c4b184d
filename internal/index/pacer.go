package index

import (
	"errors"
	"time"
)

// ErrStopped ends a load when the server shuts down; load recovers it.
var ErrStopped = errors.New("load stopped by shutdown")

// Pacer keeps background work to a share of one CPU: after each slice of work it sleeps
// long enough that the work was at most share of the time. It counts wall time, so work
// that was itself kept waiting by queries only rests longer. With a share of 1 it never
// rests. Either way it ends the work, by panicking with ErrStopped in tick, once stop is
// closed. A nil pacer never rests and never stops.
type Pacer struct {
	share float64
	slice time.Duration
	begin time.Time     // start of the current slice of work
	rest  time.Duration // total time rested
	stop  <-chan struct{}

	now   func() time.Time
	sleep func(time.Duration, <-chan struct{})
}

// NewPacer returns a Pacer of share of one CPU that stops once stop is closed.
func NewPacer(share float64, stop <-chan struct{}) *Pacer {
	return &Pacer{share: share, slice: 2 * time.Millisecond, begin: time.Now(), stop: stop, now: time.Now, sleep: sleepUnless}
}

// sleepUnless sleeps for d, or until stop is closed.
func sleepUnless(d time.Duration, stop <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	}
}

// tick is called between small units of work; it rests when the slice is used up, and
// panics with ErrStopped once the server shuts down.
func (pc *Pacer) tick() {
	if pc == nil {
		return
	}
	if pc.stopped() {
		panic(ErrStopped)
	}
	if pc.share >= 1 {
		return
	}
	busy := pc.now().Sub(pc.begin)
	if busy < pc.slice {
		return
	}
	d := time.Duration(float64(busy) * (1 - pc.share) / pc.share)
	pc.sleep(d, pc.stop)
	pc.rest += d
	pc.begin = pc.now()
	if pc.stopped() {
		panic(ErrStopped)
	}
}

// stopped reports whether the work should end; workers on other goroutines ask it, as a
// panic there could not be recovered by the load.
func (pc *Pacer) stopped() bool {
	if pc == nil || pc.stop == nil {
		return false
	}
	select {
	case <-pc.stop:
		return true
	default:
		return false
	}
}

// Paced reports whether the work runs on one goroutine at a share of a CPU.
func (pc *Pacer) Paced() bool { return pc != nil && pc.share < 1 }

// Rested is the time spent resting, for the reload log; zero for a nil pacer.
func (pc *Pacer) Rested() time.Duration {
	if pc == nil {
		return 0
	}
	return pc.rest
}
