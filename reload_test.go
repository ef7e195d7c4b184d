package ipsecoe

import "testing"

// TestPrintable escapes what could forge a log line or drive a terminal.
func TestPrintable(t *testing.T) {
	for i, tc := range []struct{ in, want string }{
		{`"x.pem": bad`, `"x.pem": bad`},
		{"x.pem: bad\n[INFO] plugin/ipsecoe: loaded", `x.pem: bad\n[INFO] plugin/ipsecoe: loaded`},
		{"\x1b[31mred", `\x1b[31mred`},
		{"tab\there\r", `tab\there\r`},
		{"naïve", "naïve"},
		{"\u2028line", `\u2028line`},
	} {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("Test %d: printable(%q) = %q, want %q", i, tc.in, got, tc.want)
		}
	}
}
