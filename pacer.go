package ipsecoe

import "time"

// reloadShare is the share of one CPU a reload may take while the server answers from the
// index it replaces; the first load, which nothing waits on but readiness, runs flat out.
const reloadShare = 0.1

// pacer keeps background work to a share of one CPU: after each slice of work it sleeps
// long enough that the work was at most share of the time. It counts wall time, so work
// that was itself kept waiting by queries only rests longer. A nil pacer never rests.
type pacer struct {
	share float64
	slice time.Duration
	begin time.Time     // start of the current slice of work
	rest  time.Duration // total time rested

	now   func() time.Time
	sleep func(time.Duration)
}

func newPacer(share float64) *pacer {
	return &pacer{share: share, slice: 2 * time.Millisecond, begin: time.Now(), now: time.Now, sleep: time.Sleep}
}

// tick is called between small units of work; it rests when the slice is used up.
func (pc *pacer) tick() {
	if pc == nil {
		return
	}
	busy := pc.now().Sub(pc.begin)
	if busy < pc.slice {
		return
	}
	d := time.Duration(float64(busy) * (1 - pc.share) / pc.share)
	pc.sleep(d)
	pc.rest += d
	pc.begin = pc.now()
}

// rested is the time spent resting, for the reload log; zero for a nil pacer.
func (pc *pacer) rested() time.Duration {
	if pc == nil {
		return 0
	}
	return pc.rest
}
