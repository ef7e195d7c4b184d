package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
)

// TestDirectiveOrder pins where ipsecoe runs, so a CoreDNS upgrade cannot silently move it:
// after acl and cache, which filter and keep its answers; right before dnssec, so that it
// serves the signatures it keeps (made with dnssec's keys) and dnssec answers DNSKEY and
// signs what the plugins after it answer; before the plugins it passes names on to.
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

	order := []string{"acl", "cache", "ipsecoe", "dnssec", "minimal", "template", "hosts", "kubernetes", "file", "forward"}
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

	d := slices.Index(dnsserver.Directives, "dnssec")
	if d < 1 || dnsserver.Directives[d-1] != "ipsecoe" {
		t.Errorf("Expected ipsecoe right before dnssec (index %d), got %q", d-1, dnsserver.Directives[:d])
	}
}

func TestDirectives(t *testing.T) {
	tests := []struct {
		in       []string
		expected []string
	}{
		{in: []string{"dnssec"}, expected: []string{"ipsecoe", "dnssec"}},
		{in: []string{"cache", "dnssec"}, expected: []string{"cache", "ipsecoe", "dnssec"}},
		{in: []string{"dnssec", "file"}, expected: []string{"ipsecoe", "dnssec", "file"}},
		{in: []string{"acl", "cache", "header", "dnssec", "minimal", "template", "hosts", "forward"}, expected: []string{"acl", "cache", "header", "ipsecoe", "dnssec", "minimal", "template", "hosts", "forward"}},
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
		{"Dnssec"},
	}

	for i, in := range tests {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("Test %d: expected a panic for %q, got none", i, in)
					return
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, `"dnssec"`) {
					t.Errorf("Test %d: expected the panic to name \"dnssec\", got %q", i, msg)
				}
			}()
			directives(in)
		}()
	}
}
