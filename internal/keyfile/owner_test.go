package keyfile

import (
	"net/netip"
	"strings"

	"testing"
)

func TestOwnerFromFileName(t *testing.T) {
	tests := []struct {
		file string
		name string // "" when refused
		addr string
		port uint16
	}{
		{"192.0.2.10.pem", "10.2.0.192.in-addr.arpa.", "192.0.2.10", 0},
		{"192.0.2.10.pub.pem", "10.2.0.192.in-addr.arpa.", "192.0.2.10", 0},
		{"192.0.2.10.der", "10.2.0.192.in-addr.arpa.", "192.0.2.10", 0},
		{"192.0.2.10.PEM", "10.2.0.192.in-addr.arpa.", "192.0.2.10", 0},
		{"2001:db8::10.pem", "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "2001:db8::10", 0},
		{"2001-db8--10.pem", "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "2001:db8::10", 0},
		{"2001-DB8--A.crt", "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "2001:db8::a", 0},
		{"10.2.0.192.in-addr.arpa.pem", "10.2.0.192.in-addr.arpa.", "192.0.2.10", 0},
		{"10.2.0.192.IN-ADDR.ARPA.cer", "10.2.0.192.in-addr.arpa.", "192.0.2.10", 0},
		{"gw1.example.com.pem", "gw1.example.com.", "", 0},
		{"GW1.Example.com.pub", "gw1.example.com.", "", 0},
		{"_53.ns1.example.com.pem", "_53.ns1.example.com.", "", 53},
		{"_500.192.0.2.1.pem", "_500.1.2.0.192.in-addr.arpa.", "192.0.2.1", 500},
		{"_4500.2001-db8--1.der", "_4500.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "2001:db8::1", 4500},
		{"::ffff:192.0.2.1.pem", "1.2.0.192.in-addr.arpa.", "192.0.2.1", 0},
		// Refused.
		{"tls.crt", "", "", 0},
		{"rsa2048.pub.pem", "", "", 0},
		{"2.0.192.in-addr.arpa.pem", "", "", 0},
		{"01.2.0.192.in-addr.arpa.pem", "", "", 0},
		{"_0.ns1.example.com.pem", "", "", 0},
		{"_053.ns1.example.com.pem", "", "", 0},
		{"_65536.ns1.example.com.pem", "", "", 0},
		{"*.example.com.pem", "", "", 0},
		{"bad name.example.com.pem", "", "", 0},
		{"fe80::1%eth0.pem", "", "", 0},
		{"-gw.example.com.pem", "", "", 0},
		{"_1." + strings.Repeat("abcdefghi.", 25) + "co.pem", "", "", 0},
	}
	for i, tc := range tests {
		o, err := OwnerFromFileName(tc.file)
		if tc.name == "" {
			if err == nil {
				t.Errorf("Test %d: %s: accepted as %q, want refusal", i, tc.file, o.Name)
			} else if Reason(err) != ReasonOwner {
				t.Errorf("Test %d: %s: reason %s", i, tc.file, Reason(err))
			}
			continue
		}
		if err != nil {
			t.Errorf("Test %d: %s: %v", i, tc.file, err)
			continue
		}
		if o.Name != tc.name || o.Port != tc.port {
			t.Errorf("Test %d: %s: owner %q port %d, want %q port %d", i, tc.file, o.Name, o.Port, tc.name, tc.port)
		}
		if want := tc.addr; (want == "") != !o.Addr.IsValid() || (want != "" && o.Addr != netip.MustParseAddr(want)) {
			t.Errorf("Test %d: %s: address %v, want %q", i, tc.file, o.Addr, want)
		}
	}
}

func TestReversePrefix(t *testing.T) {
	tests := []struct {
		name   string
		prefix string // "" when not a reverse name
	}{
		{"in-addr.arpa.", "0.0.0.0/0"},
		{"10.in-addr.arpa.", "10.0.0.0/8"},
		{"1.10.in-addr.arpa.", "10.1.0.0/16"},
		{"3.2.1.10.in-addr.arpa.", "10.1.2.3/32"},
		{"0.0.0.0.in-addr.arpa.", "0.0.0.0/32"},
		{"255.255.255.255.in-addr.arpa.", "255.255.255.255/32"},
		{"ip6.arpa.", "::/0"},
		{"2.ip6.arpa.", "2000::/4"},
		{"8.b.d.0.1.0.0.2.ip6.arpa.", "2001:db8::/32"},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "2001:db8::1/128"},
		{"256.in-addr.arpa.", ""},
		{"01.in-addr.arpa.", ""},
		{"x.in-addr.arpa.", ""},
		{"5.4.3.2.1.in-addr.arpa.", ""},
		{"_53.1.2.0.192.in-addr.arpa.", ""},
		{"1..10.in-addr.arpa.", ""},
		{"10.ip6.arpa.", ""},
		{"g.ip6.arpa.", ""},
		{"0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", ""},
		{"example.com.", ""},
		{"xin-addr.arpa.", ""},
		{".in-addr.arpa.", ""},
		{".ip6.arpa.", ""},
	}
	for i, tc := range tests {
		p, ok := ReversePrefix(tc.name)
		if tc.prefix == "" {
			if ok {
				t.Errorf("Test %d: %s: read as %s, want refusal", i, tc.name, p)
			}
			continue
		}
		if !ok || p != netip.MustParsePrefix(tc.prefix) {
			t.Errorf("Test %d: %s: %v %v, want %s", i, tc.name, p, ok, tc.prefix)
		}
	}
}
