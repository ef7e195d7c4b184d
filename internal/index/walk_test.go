package index

import (
	"cmp"
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
