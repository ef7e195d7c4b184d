package index

import (
	"runtime/debug"
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
