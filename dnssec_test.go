package ipsecoe

import (
	"context"
	"os"
	"path/filepath"
	"slices"
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

// signWith chains p before a dnssec plugin for zones, with a new key of the first, as the
// binary orders them, and returns the key.
func signWith(t testing.TB, p *IPSecOE, zones ...string) *dns.DNSKEY {
	t.Helper()
	dk, k := zoneKey(t, zones[0])
	d := dnssec.New(zones, []*dnssec.DNSKEY{dk}, false, p.Next, cache.New[[]dns.RR](100))
	p.Next = d
	p.signer.Store(newSigner(&d, p.Zones, p.apexes))
	return k
}

// TestSignedByDNSSEC runs the answers through the dnssec plugin, as the binary chains
// them, and verifies every signature with the zone key.
func TestSignedByDNSSEC(t *testing.T) {
	p := newTestPlugin(t, testKeyDir(t), "")
	k := signWith(t, p, "example.com.")

	tests := []struct {
		qname   string
		qtype   uint16
		answers int // records other than RRSIG in the answer
		denial  bool
		bitmap  []uint16 // the NSEC's types, when the plugin signs the denial itself
	}{
		{"gw.example.com.", dns.TypeIPSECKEY, 1, false, nil},
		{"Gw.Example.Com.", dns.TypeIPSECKEY, 1, false, nil},
		{"_53.ns1.example.com.", TypeIPSECA, 1, false, nil},
		{"example.com.", dns.TypeSOA, 1, false, nil},
		{"example.com.", dns.TypeNS, 1, false, nil},
		{"gw.example.com.", dns.TypeTXT, 0, true, []uint16{dns.TypeIPSECKEY, dns.TypeRRSIG, dns.TypeNSEC}},
		{"GW.example.com.", dns.TypeA, 0, true, []uint16{dns.TypeIPSECKEY, dns.TypeRRSIG, dns.TypeNSEC}},
		{"gw.example.com.", TypeIPSECA, 0, true, []uint16{dns.TypeIPSECKEY, dns.TypeRRSIG, dns.TypeNSEC}},
		{"_53.gw.example.com.", dns.TypeTXT, 0, true, []uint16{dns.TypeRRSIG, dns.TypeNSEC, TypeIPSECA}},
		{"_53.ns1.example.com.", dns.TypeIPSECKEY, 0, true, []uint16{dns.TypeRRSIG, dns.TypeNSEC, TypeIPSECA}},
		{"ns1.example.com.", dns.TypeAAAA, 0, true, []uint16{dns.TypeIPSECKEY, dns.TypeRRSIG, dns.TypeNSEC}},
		{"5.2.1.10.in-addr.arpa.", dns.TypeTXT, 0, true, nil}, // outside dnssec's zone: unsigned
		{"host.example.com.", dns.TypeIPSECKEY, 0, true, nil},
		{"nope.example.com.", dns.TypeIPSECKEY, 0, true, nil},
		{"example.com.", dns.TypeDNSKEY, 1, false, nil}, // the dnssec plugin's answer
	}
	for i, tc := range tests {
		for _, do := range []bool{true, false} {
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			if _, err := p.ServeDNS(context.Background(), rec, test.Case{Qname: tc.qname, Qtype: tc.qtype, Do: do}.Msg()); err != nil {
				t.Fatalf("Test %d: %v", i, err)
			}
			m := rec.Msg
			sigs := 0
			for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
				sigs += verifySection(t, i, k, sec)
			}
			if !do {
				if sigs != 0 && tc.qtype != dns.TypeDNSKEY {
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
			if strings.HasSuffix(tc.qname, ".arpa.") {
				if sigs != 0 {
					t.Errorf("Test %d: signed outside the dnssec zone", i)
				}
				continue
			}
			if tc.denial {
				if countType(m.Ns, dns.TypeSOA) != 1 || countType(m.Ns, dns.TypeNSEC) != 1 || countType(m.Ns, dns.TypeRRSIG) != 2 {
					t.Errorf("Test %d: denial not signed: %v", i, m.Ns)
				}
				for _, rr := range m.Ns {
					if nsec, ok := rr.(*dns.NSEC); ok {
						// The owner keeps the query's case; the next name, a signed field, is the
						// lower-case one, so that one signature serves every case.
						if nsec.Header().Name != tc.qname || nsec.NextDomain != `\000.`+strings.ToLower(tc.qname) {
							t.Errorf("Test %d: NSEC %s", i, nsec)
						}
						if tc.bitmap != nil && !slices.Equal(nsec.TypeBitMap, tc.bitmap) {
							t.Errorf("Test %d: NSEC types %v, want %v", i, nsec.TypeBitMap, tc.bitmap)
						}
						if tc.bitmap == nil && slices.Contains(nsec.TypeBitMap, dns.TypeIPSECKEY) {
							t.Errorf("Test %d: dnssec's own black lie expected, got %s", i, nsec)
						}
						if slices.Contains(nsec.TypeBitMap, tc.qtype) {
							t.Errorf("Test %d: NSEC lists the type asked for", i)
						}
					}
				}
			} else if sigs != 1 {
				t.Errorf("Test %d: %d signatures over the answer, want 1", i, sigs)
			}
		}
	}
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

// TestSignedDenialFallthrough checks that in fallthrough mode a denial from the next plugin
// at a name holding keys gets the plugin's NSEC, and elsewhere dnssec's own.
func TestSignedDenialFallthrough(t *testing.T) {
	p := newTestPlugin(t, testKeyDir(t), "fallthrough")
	next := test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		m.Ns = []dns.RR{test.SOA("example.com. 60 IN SOA ns.example.com. h.example.com. 1 2 3 4 60")}
		w.WriteMsg(m)
		return dns.RcodeNameError, nil
	})
	p.Next = next
	k := signWith(t, p, "example.com.")
	for i, tc := range []struct {
		qname string
		qtype uint16
		ours  bool
	}{
		{"gw.example.com.", dns.TypeTXT, true},
		{"gw.example.com.", dns.TypePTR, true},
		{"nope.example.com.", dns.TypeTXT, false},
	} {
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := p.ServeDNS(context.Background(), rec, test.Case{Qname: tc.qname, Qtype: tc.qtype, Do: true}.Msg()); err != nil {
			t.Fatal(err)
		}
		m := rec.Msg
		if m.Rcode != dns.RcodeSuccess || countType(m.Ns, dns.TypeNSEC) != 1 || countType(m.Ns, dns.TypeRRSIG) != 2 {
			t.Fatalf("Test %d: %s", i, m)
		}
		verifySection(t, i, k, m.Ns)
		for _, rr := range m.Ns {
			if nsec, ok := rr.(*dns.NSEC); ok {
				if got := slices.Contains(nsec.TypeBitMap, dns.TypeIPSECKEY); got != tc.ours {
					t.Errorf("Test %d: IPSECKEY in the NSEC: %v, want %v (%s)", i, got, tc.ours, nsec)
				}
				if tc.ours && (!slices.Contains(nsec.TypeBitMap, dns.TypeA) || slices.Contains(nsec.TypeBitMap, tc.qtype)) {
					t.Errorf("Test %d: fallthrough bitmap %v", i, nsec.TypeBitMap)
				}
			}
		}
	}
}
