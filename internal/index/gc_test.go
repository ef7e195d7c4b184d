package index

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestFirstLoadGC lowers the collector's setting while loads overlap and restores it once
// the last is done, whatever the order.
func TestFirstLoadGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tests := []struct {
		name  string
		start int   // the setting before
		order []int // the order the restores run in
	}{
		{"one", 100, []int{0}},
		{"nested", 100, []int{1, 0}},
		{"crossed", 100, []int{0, 1}},
		{"lower already", 2, []int{0}},
		{"off", -1, []int{0, 1}},
	}
	for _, tc := range tests {
		debug.SetGCPercent(tc.start)
		want := min(tc.start, firstLoadGCPercent)
		if tc.start < 0 {
			want = firstLoadGCPercent
		}
		var restores []func()
		for range tc.order {
			restores = append(restores, FirstLoadGC())
			if got := debug.SetGCPercent(want); got != want {
				t.Errorf("%s: setting %d during the load, want %d", tc.name, got, want)
			}
		}
		for i, r := range tc.order {
			restores[r]()
			restores[r]() // twice: no effect
			if i < len(tc.order)-1 {
				if got := debug.SetGCPercent(want); got != want {
					t.Errorf("%s: setting %d with a load still under way, want %d", tc.name, got, want)
				}
			}
		}
		if got := debug.SetGCPercent(tc.start); got != tc.start {
			t.Errorf("%s: setting %d after the loads, want %d", tc.name, got, tc.start)
		}
	}
}

// TestGCPercentFor keeps the headroom after a load to a quarter of what is live, and at
// least minHeadroom, within Go's default.
func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{16 << 20, 100},
		{64 << 20, 100},
		{128 << 20, 50},
		{256 << 20, 25},
		{600 << 20, 25},
		{8 << 30, 25},
	} {
		if got := gcPercentFor(tc.live); got != tc.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}

// TestSettleGC sets the collector from the live heap, leaves it to GOGC when that is set,
// and hands the setting to a first load under way, to restore when it ends.
func TestSettleGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	SettleGC()
	if got := debug.SetGCPercent(100); got < settledGCPercent || got > 100 {
		t.Errorf("setting %d after SettleGC, want %d to 100", got, settledGCPercent)
	}
	restore := FirstLoadGC()
	debug.SetGCPercent(777) // what SettleGC must not touch while the load runs
	SettleGC()
	if got := debug.SetGCPercent(firstLoadGCPercent); got != 777 {
		t.Errorf("SettleGC changed the setting during a first load: %d", got)
	}
	restore()
	if got := debug.SetGCPercent(100); got < settledGCPercent || got > 100 {
		t.Errorf("the first load restored %d, want SettleGC's %d to 100", got, settledGCPercent)
	}
	t.Setenv("GOGC", "300")
	debug.SetGCPercent(300)
	SettleGC()
	if got := debug.SetGCPercent(100); got != 300 {
		t.Errorf("SettleGC overrode GOGC: %d", got)
	}
}

// TestCollectBeforeBuild collects only in a first load, and only of a large key set.
func TestCollectBeforeBuild(t *testing.T) {
	for _, tc := range []struct {
		keys  int
		first bool
		want  bool
	}{
		{100_000, true, true},
		{99_999, true, false},
		{1_000_000, false, false},
	} {
		restore := func() {}
		if tc.first {
			restore = FirstLoadGC()
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		collectBeforeBuild(tc.keys)
		runtime.ReadMemStats(&after)
		restore()
		if got := after.NumForcedGC > before.NumForcedGC; got != tc.want {
			t.Errorf("%d keys, first load %v: collected %v, want %v", tc.keys, tc.first, got, tc.want)
		}
	}
}
