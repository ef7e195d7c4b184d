package ipsecoe

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/dnssec"
	"github.com/coredns/coredns/plugin/pkg/cache"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// zoneKey makes an ECDSA P-256 key for zone in the dnssec plugin's key file format.
func zoneKey(t testing.TB, zone string) (*dnssec.DNSKEY, *dns.DNSKEY) {
	t.Helper()
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := k.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, strings.TrimSuffix(k.Hdr.Name, "."))
	must(t, os.WriteFile(base+".key", []byte(k.String()+"\n"), 0o644))
	must(t, os.WriteFile(base+".private", []byte(k.PrivateKeyString(priv)), 0o600))
	dk, err := dnssec.ParseKeyFile(base+".key", base+".private")
	if err != nil {
		t.Fatal(err)
	}
	return dk, k
}

// TestSignedByDNSSEC runs the answers through the dnssec plugin, as the binary chains
// them, and verifies every signature with the zone key.
func TestSignedByDNSSEC(t *testing.T) {
	p := newTestPlugin(t, testKeyDir(t), "")
	dk, k := zoneKey(t, "example.com.")
	d := dnssec.New([]string{"example.com."}, []*dnssec.DNSKEY{dk}, false, p, cache.New[[]dns.RR](100))

	tests := []struct {
		qname   string
		qtype   uint16
		answers int // records other than RRSIG in the answer
		denial  bool
	}{
		{"gw.example.com.", dns.TypeIPSECKEY, 1, false},
		{"Gw.Example.Com.", dns.TypeIPSECKEY, 1, false},
		{"_53.ns1.example.com.", TypeIPSECA, 1, false},
		{"example.com.", dns.TypeSOA, 1, false},
		{"example.com.", dns.TypeNS, 1, false},
		{"gw.example.com.", dns.TypeTXT, 0, true},
		{"host.example.com.", dns.TypeIPSECKEY, 0, true},
		{"nope.example.com.", dns.TypeIPSECKEY, 0, true},
	}
	for i, tc := range tests {
		for _, do := range []bool{true, false} {
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			if _, err := d.ServeDNS(context.Background(), rec, test.Case{Qname: tc.qname, Qtype: tc.qtype, Do: do}.Msg()); err != nil {
				t.Fatalf("Test %d: %v", i, err)
			}
			m := rec.Msg
			sigs := 0
			for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
				sigs += verifySection(t, i, k, sec)
			}
			if !do {
				if sigs != 0 {
					t.Errorf("Test %d: signed without DO", i)
				}
				continue
			}
			if m.Rcode != dns.RcodeSuccess {
				t.Errorf("Test %d: rcode %s with DO (black lies answer NOERROR)", i, dns.RcodeToString[m.Rcode])
			}
			if got := len(m.Answer) - countType(m.Answer, dns.TypeRRSIG); got != tc.answers {
				t.Errorf("Test %d: %d answers, want %d", i, got, tc.answers)
			}
			if tc.denial {
				if countType(m.Ns, dns.TypeSOA) != 1 || countType(m.Ns, dns.TypeNSEC) != 1 || countType(m.Ns, dns.TypeRRSIG) != 2 {
					t.Errorf("Test %d: denial not signed: %v", i, m.Ns)
				}
			} else if sigs != 1 {
				t.Errorf("Test %d: %d signatures over the answer, want 1", i, sigs)
			}
		}
	}
}

func countType(rrs []dns.RR, t uint16) int {
	n := 0
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			n++
		}
	}
	return n
}

// verifySection checks every RRSIG in sec against its RRset and returns how many it checked.
func verifySection(t *testing.T, i int, k *dns.DNSKEY, sec []dns.RR) int {
	t.Helper()
	n := 0
	for _, rr := range sec {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			continue
		}
		var set []dns.RR
		for _, x := range sec {
			if x.Header().Rrtype == sig.TypeCovered && strings.EqualFold(x.Header().Name, sig.Header().Name) {
				set = append(set, x)
			}
		}
		if err := sig.Verify(k, set); err != nil {
			t.Errorf("Test %d: RRSIG over %s %s does not verify: %v", i, sig.Header().Name, dns.TypeToString[sig.TypeCovered], err)
		}
		n++
	}
	return n
}
