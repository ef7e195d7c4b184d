package keyfile

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func TestReverseName(t *testing.T) {
	addrs := []string{
		"0.0.0.0", "255.255.255.255", "10.0.0.1", "192.0.2.10", "100.64.9.99",
		"::", "::1", "2001:db8::10", "fe80::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		addrs = append(addrs, netip.AddrFrom4([4]byte(b[:4])).String(), netip.AddrFrom16(b).String())
	}
	for _, s := range addrs {
		a := netip.MustParseAddr(s)
		want, err := dns.ReverseAddr(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := reverseName(a); got != want {
			t.Errorf("reverseName(%s) = %q, want %q", s, got, want)
		}
	}
}
