package index

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// firstLoadGCPercent is the collector's setting while a first load runs: a collection once
// the heap has grown 5 % past what was live. The index's arrays hold no pointers, so a
// collection costs little however large they grow.
const firstLoadGCPercent = 5

var lowGC struct {
	sync.Mutex
	n   int // loads under way
	old int // the setting to restore
}

// FirstLoadGC keeps the heap close to what is live while a first load runs, and returns
// the function that restores the collector's setting once every such load is done. A read
// turns over several times the memory it keeps: with the default setting the heap grows to
// twice what is live between collections, and the process stays that large.
func FirstLoadGC() (restore func()) {
	lowGC.Lock()
	defer lowGC.Unlock()
	if lowGC.n++; lowGC.n == 1 {
		lowGC.old = debug.SetGCPercent(firstLoadGCPercent)
		if lowGC.old >= 0 && lowGC.old < firstLoadGCPercent {
			debug.SetGCPercent(lowGC.old)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			lowGC.Lock()
			defer lowGC.Unlock()
			if lowGC.n--; lowGC.n == 0 {
				debug.SetGCPercent(lowGC.old)
			}
		})
	}
}

// collectBeforeBuild runs a collection before a first load of keys keys makes its
// tables, when there are enough of them for the tables to be large. Without it, a
// collection the tables' allocation sets off is still marking while they are made, so the
// read's last garbage outlives it and the tables come on top of it: at a million keys
// the peak was then a tenth higher, in some loads and not others.
func collectBeforeBuild(keys int) {
	if keys < 100_000 {
		return
	}
	lowGC.Lock()
	first := lowGC.n > 0
	lowGC.Unlock()
	if first {
		runtime.GC()
	}
}

// After a load the heap may grow past what is live by a quarter of it, or by minHeadroom,
// whichever is more, and never by more than what is live (Go's default), before the
// collector runs. The index's arrays are most of what is live and hold no pointers, so a
// collection costs little; with Go's default a million keys would take twice their size
// in resident memory between collections.
const (
	minHeadroom      = 64 << 20
	settledGCPercent = 25
)

// gcPercentFor is the collector's setting for a live heap of live octets.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return 100
	}
	return int(min(100, max(settledGCPercent, 100*max(minHeadroom, live/4)/live)))
}

// SettleGC sets the collector's setting from the heap live after a load (see
// gcPercentFor); a first load under way restores to it when it ends. It leaves the
// setting alone when the GOGC environment variable is set: the operator's choice stands.
func SettleGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	var live uint64
	if s[0].Value.Kind() == metrics.KindUint64 {
		live = s[0].Value.Uint64()
	}
	pct := gcPercentFor(live)
	lowGC.Lock()
	defer lowGC.Unlock()
	if lowGC.n > 0 {
		lowGC.old = pct
		return
	}
	debug.SetGCPercent(pct)
}
