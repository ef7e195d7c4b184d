package ipsecoe

import (
	"errors"
	"time"
)

// reloadShare is the share of one CPU a reload may take while the server answers from the
// index it replaces; the first load, which nothing waits on but readiness, runs flat out.
const reloadShare = 0.1

// errStopped ends a load when the server shuts down; load recovers it.
var errStopped = errors.New("load stopped by shutdown")

// pacer keeps background work to a share of one CPU: after each slice of work it sleeps
// long enough that the work was at most share of the time. It counts wall time, so work
// that was itself kept waiting by queries only rests longer. With a share of 1 it never
// rests. Either way it ends the work, by panicking with errStopped in tick, once stop is
// closed. A nil pacer never rests and never stops.
type pacer struct {
	share float64
	slice time.Duration
	begin time.Time     // start of the current slice of work
	rest  time.Duration // total time rested
	stop  <-chan struct{}

	now   func() time.Time
	sleep func(time.Duration, <-chan struct{})
}

func newPacer(share float64, stop <-chan struct{}) *pacer {
	return &pacer{share: share, slice: 2 * time.Millisecond, begin: time.Now(), stop: stop, now: time.Now, sleep: sleepUnless}
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
// panics with errStopped once the server shuts down.
func (pc *pacer) tick() {
	if pc == nil {
		return
	}
	if pc.stopped() {
		panic(errStopped)
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
		panic(errStopped)
	}
}

// stopped reports whether the work should end; workers on other goroutines ask it, as a
// panic there could not be recovered by the load.
func (pc *pacer) stopped() bool {
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

// paced reports whether the work runs on one goroutine at a share of a CPU.
func (pc *pacer) paced() bool { return pc != nil && pc.share < 1 }

// rested is the time spent resting, for the reload log; zero for a nil pacer.
func (pc *pacer) rested() time.Duration {
	if pc == nil {
		return 0
	}
	return pc.rest
}
