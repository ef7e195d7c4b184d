package ipsecoe

// Fuzz targets for the parsers and the handler. `go test` runs their seed corpora (and every
// input kept under testdata/fuzz/<FuzzName>/) as ordinary tests; fuzz one of them with e.g.
//
//	go test -run XXX -fuzz FuzzServeDNS -fuzztime 60s .

import (
	"context" //nolint:staticcheck // DSA is IPSECKEY algorithm 1
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// fzPack packs m for a seed.
func fzPack(f *testing.F, m *dns.Msg) []byte {
	f.Helper()
	b, err := m.Pack()
	if err != nil {
		f.Fatalf("packing seed %v: %v", m.Question, err)
	}
	return b
}

// fzLongName is a name of exactly 255 octets on the wire ending in suffix, a non-root FQDN.
func fzLongName(suffix string) string {
	var labels []string
	for left := 255 - (len(suffix) + 1); left > 0; {
		n := min(63, left-1)
		if left-(n+1) == 1 { // no label of length zero: shorten this one
			n--
		}
		labels = append(labels, strings.Repeat("x", n))
		left -= n + 1
	}
	return strings.Join(labels, ".") + "." + suffix
}

func FuzzServeDNS(f *testing.F) {
	p := newTestPlugin(f, testKeyDir(f), "")
	seed := func(name string, qtype, qclass uint16, do bool) {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.Question[0].Qclass = qclass
		if do {
			m.SetEdns0(4096, true)
		}
		f.Add(fzPack(f, m))
	}
	for _, tc := range handlerCases(f) {
		seed(tc.qname, tc.qtype, dns.ClassINET, false)
		seed(tc.qname, tc.qtype, dns.ClassINET, true)
	}
	for _, name := range []string{"gw.example.com.", "example.com.", "1.2.0.192.in-addr.arpa.", "_53.ns1.example.com.", "5.2.1.10.in-addr.arpa."} {
		seed(name, dns.TypeANY, dns.ClassINET, false)
		seed(name, dns.TypeIPSECKEY, dns.ClassCHAOS, false)
		seed(name, dns.TypeIPSECKEY, dns.ClassANY, false)
	}
	for _, suffix := range []string{"example.com.", "2.0.192.in-addr.arpa.", "10.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.", "example.net."} {
		seed(fzLongName(suffix), dns.TypeIPSECKEY, dns.ClassINET, false)
		seed(fzLongName(suffix), TypeIPSECA, dns.ClassINET, true)
	}
	seed(`a\.b.example.com.`, dns.TypeIPSECKEY, dns.ClassINET, false)
	seed(`\000.gw.example.com.`, dns.TypeIPSECKEY, dns.ClassINET, false)
	seed(`1\.2.0.192.in-addr.arpa.`, dns.TypeIPSECKEY, dns.ClassINET, false)
	seed(".", dns.TypeSOA, dns.ClassINET, false)
	// QDCOUNT 0: a bare header, skipped by the property but a good start for mutations.
	f.Add(fzPack(f, &dns.Msg{MsgHdr: dns.MsgHdr{Id: 1, RecursionDesired: true}}))
	// Two questions.
	two := new(dns.Msg)
	two.SetQuestion("gw.example.com.", dns.TypeIPSECKEY)
	two.Question = append(two.Question, dns.Question{Name: "example.com.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET})
	f.Add(fzPack(f, two))
	two.Question[0], two.Question[1] = two.Question[1], two.Question[0]
	f.Add(fzPack(f, two))
	// A query with records in every section.
	full := new(dns.Msg)
	full.SetQuestion("gw.example.com.", dns.TypeIPSECKEY)
	full.Answer = rrList(f, []string{"gw.example.com. 1 IN A 192.0.2.1"})
	full.Ns = rrList(f, []string{"example.com. 1 IN NS ns1.example.com."})
	full.SetEdns0(512, true)
	f.Add(fzPack(f, full))

	f.Fuzz(func(t *testing.T, data []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(data); err != nil || len(req.Question) == 0 {
			t.Skip()
		}
		q := req.Question[0]
		outside := plugin.Zones(p.Zones).Matches(strings.ToLower(q.Name)) == "" || q.Qclass != dns.ClassINET
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		rcode, err := p.ServeDNS(context.Background(), rec, req)
		m := rec.Msg
		if m == nil {
			if !outside || rcode != dns.RcodeRefused || err != nil {
				t.Fatalf("%s %d %d: nothing written, rcode %d, error %v; outside the zones: %v", q.Name, q.Qtype, q.Qclass, rcode, err, outside)
			}
			return
		}
		if outside {
			t.Fatalf("%s %d %d: outside the zones, yet a reply was written:\n%v", q.Name, q.Qtype, q.Qclass, m)
		}
		if rcode != dns.RcodeSuccess || err != nil {
			t.Fatalf("%s: reply written, but rcode %d and error %v returned", q.Name, rcode, err)
		}
		if _, err := m.Pack(); err != nil {
			t.Fatalf("%s: reply does not pack: %v\n%v", q.Name, err, m)
		}
		if m.Id != req.Id || !m.Response || !m.Authoritative || len(m.Question) != 1 || m.Question[0] != q {
			t.Fatalf("%s: reply header or question does not match the query:\n%v", q.Name, m)
		}
		switch {
		case len(m.Answer) > 0:
			if len(m.Ns) != 0 || m.Rcode != dns.RcodeSuccess {
				t.Fatalf("%s: answers with rcode %d and %d authority records:\n%v", q.Name, m.Rcode, len(m.Ns), m)
			}
			for _, rr := range m.Answer {
				h := rr.Header()
				typeOK := h.Rrtype == q.Qtype || q.Qtype == dns.TypeANY &&
					(h.Rrtype == dns.TypeIPSECKEY || h.Rrtype == TypeIPSECA || h.Rrtype == dns.TypeSOA || h.Rrtype == dns.TypeNS)
				if !strings.EqualFold(h.Name, q.Name) || h.Class != dns.ClassINET || !typeOK {
					t.Fatalf("%s %d: answer %v is not of the question", q.Name, q.Qtype, rr)
				}
			}
		case len(m.Ns) == 1 && m.Ns[0].Header().Rrtype == dns.TypeSOA:
			if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
				t.Fatalf("%s: denial with rcode %d", q.Name, m.Rcode)
			}
			if !dns.IsSubDomain(m.Ns[0].Header().Name, strings.ToLower(q.Name)) {
				t.Fatalf("%s: denial SOA %v is not of a zone above the name", q.Name, m.Ns[0])
			}
		default:
			t.Fatalf("%s: neither answers nor exactly one SOA in the authority section:\n%v", q.Name, m)
		}
	})
}
