package ipsecoe

import (
	"context"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/plugin/transfer"

	"github.com/ipsecoe/ipsecoe/internal/index"

	"github.com/miekg/dns"
)

// drain reads a transfer to its end.
func drain(t *testing.T, ch <-chan []dns.RR) []dns.RR {
	t.Helper()
	var out []dns.RR
	for rrs := range ch {
		out = append(out, rrs...)
	}
	return out
}

func TestTransfer(t *testing.T) {
	for i, tc := range []struct {
		extra   string
		ipsecas bool
	}{
		{"", true},
		{"allow 192.0.2.0/24", false}, // the secondaries' clients are not the plugin's to choose
	} {
		p := newTestPlugin(t, testKeyDir(t), tc.extra)
		ch, err := p.Transfer("example.com.", 0)
		if err != nil {
			t.Fatalf("Test %d: %v", i, err)
		}
		rrs := drain(t, ch)
		if len(rrs) < 4 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[1].Header().Rrtype != dns.TypeNS || rrs[len(rrs)-1].Header().Rrtype != dns.TypeSOA {
			t.Fatalf("Test %d: transfer not SOA, NS ... SOA: %v", i, rrs)
		}
		serial := p.idx.Load().Serial()
		if rrs[0].(*dns.SOA).Serial != serial {
			t.Errorf("Test %d: SOA serial %d, want %d", i, rrs[0].(*dns.SOA).Serial, serial)
		}
		count := map[uint16]int{}
		var last string
		for _, rr := range rrs[2 : len(rrs)-1] {
			name := rr.Header().Name
			if !dns.IsSubDomain("example.com.", name) {
				t.Errorf("Test %d: %s is outside the zone", i, name)
			}
			if last != "" && name != last && !canonicalLess(last, name) {
				t.Errorf("Test %d: %s after %s: not in canonical order", i, name, last)
			}
			last = name
			count[rr.Header().Rrtype]++
		}
		if count[dns.TypeIPSECKEY] == 0 || (count[TypeIPSECA] > 0) != tc.ipsecas {
			t.Errorf("Test %d: %d IPSECKEY and %d IPSECA records, want IPSECA %v", i, count[dns.TypeIPSECKEY], count[TypeIPSECA], tc.ipsecas)
		}

		// IXFR: up to date gets the SOA alone, an older serial the whole zone.
		for _, s := range []uint32{serial, serial + 1} {
			ch, err := p.Transfer("example.com.", s)
			if err != nil {
				t.Fatal(err)
			}
			if got := drain(t, ch); len(got) != 1 || got[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("Test %d: IXFR from %d (current %d): %d records, want the SOA", i, s, serial, len(got))
			}
		}
		ch, _ = p.Transfer("example.com.", serial-1)
		if got := drain(t, ch); len(got) != len(rrs) {
			t.Errorf("Test %d: IXFR from an older serial: %d records, want the zone's %d", i, len(got), len(rrs))
		}

		// Not a zone of the plugin, or below one: another plugin's.
		for _, z := range []string{"example.org.", "gw.example.com.", "com."} {
			if _, err := p.Transfer(z, 0); err != transfer.ErrNotAuthoritative {
				t.Errorf("Test %d: transfer of %s: %v, want ErrNotAuthoritative", i, z, err)
			}
		}
	}
}

// TestTransferQueries passes AXFR and IXFR on to the transfer plugin, and refuses them
// where the block has none.
func TestTransferQueries(t *testing.T) {
	p := newTestPlugin(t, testKeyDir(t), "")
	for _, qt := range []uint16{dns.TypeAXFR, dns.TypeIXFR} {
		req := test.Case{Qname: "example.com.", Qtype: qt}.Msg()
		if rcode, _ := p.ServeDNS(context.Background(), dnstest.NewRecorder(&test.ResponseWriter{}), req); rcode != dns.RcodeRefused {
			t.Errorf("%s without a transfer plugin: rcode %d, want REFUSED", dns.TypeToString[qt], rcode)
		}
		p.xfer = &transfer.Transfer{}
		p.Next = test.NextHandler(dns.RcodeNotImplemented, nil)
		if rcode, _ := p.ServeDNS(context.Background(), dnstest.NewRecorder(&test.ResponseWriter{}), req); rcode != dns.RcodeNotImplemented {
			t.Errorf("%s with a transfer plugin: rcode %d, want the next plugin's", dns.TypeToString[qt], rcode)
		}
		p.xfer = nil
	}
}

func TestNextSerial(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(s uint32) *index.Index {
		ix := &index.Index{}
		ix.SetSerial(s)
		return ix
	}
	for i, tc := range []struct {
		old  *index.Index
		want uint32
	}{
		{nil, 1_800_000_000},
		{at(1_700_000_000), 1_800_000_000}, // older: the time of the change
		{at(1_800_000_000), 1_800_000_001}, // a second change in one second
		{at(1_900_000_000), 1_900_000_001}, // a clock set back: still up
		{at(0xffffffff), 1_800_000_000},    // RFC 1982: past 2^32-1 it goes on from 0
		{at(1_800_000_000 - 1), 1_800_000_000},
	} {
		got := nextSerial(tc.old, now)
		if got != tc.want {
			t.Errorf("Test %d: %d, want %d", i, got, tc.want)
		}
		if tc.old != nil && int32(got-tc.old.Serial()) <= 0 {
			t.Errorf("Test %d: %d does not follow %d in serial arithmetic", i, got, tc.old.Serial())
		}
	}
}
