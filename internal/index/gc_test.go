package index

import (
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
