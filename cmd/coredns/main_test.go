package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
)

// TestDirectiveOrder pins where ipsecoe runs, so a CoreDNS upgrade cannot silently move it.
func TestDirectiveOrder(t *testing.T) {
	n := 0
	for _, d := range dnsserver.Directives {
		if d == "ipsecoe" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("Expected ipsecoe exactly once in dnsserver.Directives, got %d", n)
	}

	order := []string{"acl", "cache", "dnssec", "minimal", "ipsecoe", "template", "hosts", "kubernetes", "file", "forward"}
	idx := make([]int, len(order))
	for i, d := range order {
		idx[i] = slices.Index(dnsserver.Directives, d)
		if idx[i] < 0 {
			t.Fatalf("Test %d: directive %q not in dnsserver.Directives", i, d)
		}
	}
	for i := 1; i < len(order); i++ {
		if idx[i-1] >= idx[i] {
			t.Errorf("Test %d: expected %q (index %d) before %q (index %d)", i, order[i-1], idx[i-1], order[i], idx[i])
		}
	}

	m := slices.Index(dnsserver.Directives, "minimal")
	if m+1 >= len(dnsserver.Directives) || dnsserver.Directives[m+1] != "ipsecoe" {
		t.Errorf("Expected ipsecoe right after minimal (index %d), got %q", m+1, dnsserver.Directives[m+1:])
	}
}

func TestDirectives(t *testing.T) {
	tests := []struct {
		in       []string
		expected []string
	}{
		{in: []string{"minimal"}, expected: []string{"minimal", "ipsecoe"}},
		{in: []string{"cache", "minimal"}, expected: []string{"cache", "minimal", "ipsecoe"}},
		{in: []string{"minimal", "file"}, expected: []string{"minimal", "ipsecoe", "file"}},
		{in: []string{"acl", "cache", "dnssec", "minimal", "template", "hosts", "forward"}, expected: []string{"acl", "cache", "dnssec", "minimal", "ipsecoe", "template", "hosts", "forward"}},
	}

	for i, tc := range tests {
		// Spare capacity: an append in place would write into it.
		in := make([]string, len(tc.in), len(tc.in)+4)
		copy(in, tc.in)
		backing := in[:cap(in)]
		orig := slices.Clone(backing)

		out := directives(in)
		if !slices.Equal(out, tc.expected) {
			t.Errorf("Test %d: expected %q, got %q", i, tc.expected, out)
		}
		if !slices.Equal(backing, orig) {
			t.Errorf("Test %d: input backing array modified: expected %q, got %q", i, orig, backing)
		}
		if len(out) > 0 && &out[0] == &in[0] {
			t.Errorf("Test %d: result aliases the input slice", i)
		}
		out[0] = "changed"
		if in[0] != tc.in[0] {
			t.Errorf("Test %d: writing the result changed the input: %q", i, in)
		}
	}
}

func TestDirectivesNoMinimal(t *testing.T) {
	tests := [][]string{
		nil,
		{},
		{"cache", "file", "forward"},
		{"Minimal"},
	}

	for i, in := range tests {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("Test %d: expected a panic for %q, got none", i, in)
					return
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, `"minimal"`) {
					t.Errorf("Test %d: expected the panic to name \"minimal\", got %q", i, msg)
				}
			}()
			directives(in)
		}()
	}
}
