package index

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestHead checks that heads order paths as the paths order, or are equal only when the
// paths share their first 8 octets, so the sort's comparison by head is exact.
func TestHead(t *testing.T) {
	for _, tc := range [][2]string{
		{"", "a"},
		{"a", "ab"},
		{"abcdefgh", "abcdefgh"},
		{"abcdefgh", "abcdefgi"},
		{"abcdefghz", "abcdefgh"},
		{"abcdefghz", "abcdefgha"},
		{"10.0.0.1.pem", "10.0.0.10.pem"},
		{"10.0.0.9.pem", "10.0.0.10.pem"},
		{"b", "a/b"},
		{"a-b", "a/b"},
		{"\xff", "a"},
		{"a\x01", "a"},
	} {
		a, b := tc[0], tc[1]
		got, want := cmp.Compare(head([]byte(a)), head([]byte(b))), strings.Compare(a, b)
		if got == 0 && a[:min(8, len(a))] != b[:min(8, len(b))] {
			t.Errorf("head(%q) == head(%q), but they differ in their first 8 octets", a, b)
		}
		if got != 0 && got != want {
			t.Errorf("head(%q) vs head(%q): %d, the paths: %d", a, b, got, want)
		}
	}
}

// TestSortJobs checks that sortJobs puts paths in the order of their text, by radix and by
// comparison, with paths that share their first 8 or 16 octets, paths shorter than 8, and
// octets above 0x7f.
func TestSortJobs(t *testing.T) {
	gen := []func(r *rand.Rand) string{
		func(r *rand.Rand) string { // an IPv4 key file
			return fmt.Sprintf("10.%d.%d.%d.pem", r.IntN(4), r.IntN(256), r.IntN(256))
		},
		func(r *rand.Rand) string { // IPv6: the first 16 octets shared, the rest apart
			return fmt.Sprintf("2001-db8-1-2-3-%x.pem", r.IntN(1<<20))
		},
		func(r *rand.Rand) string { // short, and under subdirectories
			return fmt.Sprintf("%c/%x", 'a'+rune(r.IntN(3)), r.IntN(1<<20))
		},
		func(r *rand.Rand) string { // any octets but zero and the separator
			b := make([]byte, 1+r.IntN(24))
			for i := range b {
				b[i] = byte(1 + r.IntN(255))
				if b[i] == '/' {
					b[i] = '.'
				}
			}
			return string(b)
		},
	}
	for _, n := range []int{0, 1, 100, radixMin - 1, radixMin, 3 * radixMin} {
		for g := range gen {
			t.Run(fmt.Sprintf("%d/%d", n, g), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(n), uint64(g)))
				w := &walker{}
				seen := map[string]bool{}
				for len(w.jobs) < n {
					if p := gen[g](r); !seen[p] {
						seen[p] = true
						w.add("", p, 0, -1, -1)
					}
				}
				w.sort()
				want := slices.Sorted(maps.Keys(seen))
				if len(w.jobs) != len(want) {
					t.Fatalf("%d jobs, want %d", len(w.jobs), len(want))
				}
				for i := range w.jobs {
					if got := w.rel(&w.jobs[i]); got != want[i] {
						t.Fatalf("job %d is %q, want %q", i, got, want[i])
					}
				}
			})
		}
	}
}
