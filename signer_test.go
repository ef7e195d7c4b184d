package ipsecoe

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/dnssec"
	"github.com/coredns/coredns/plugin/pkg/cache"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/miekg/dns"
)

// TestSignaturesKept checks, on a fake clock, that an answer's signatures are made on its
// first ask and then served as they are; that the renewal pass makes them again once they
// come within renewBefore of expiring, and an ask within dueBefore does, each time over the
// same data and valid at the clock's time; and that the pass makes none for names not asked.
func TestSignaturesKept(t *testing.T) {
	p := newTestPlugin(t, testKeyDir(t), "")
	k := signWith(t, p, "example.com.")
	s := p.signer.Load()
	real := time.Now().UTC()
	clock := real.Add(-132 * time.Hour) // 5.5 days back: the first signatures expire 2.5 days from now
	s.now = func() time.Time { return clock }

	ask := func(qname string, qtype uint16) *dns.RRSIG {
		t.Helper()
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := p.ServeDNS(context.Background(), rec, test.Case{Qname: qname, Qtype: qtype, Do: true}.Msg()); err != nil {
			t.Fatal(err)
		}
		sec := rec.Msg.Answer
		if len(sec) == 0 {
			sec = rec.Msg.Ns
		}
		var sig *dns.RRSIG
		for _, rr := range sec {
			if x, ok := rr.(*dns.RRSIG); ok && (x.TypeCovered == qtype || x.TypeCovered == dns.TypeNSEC) {
				sig = x
			}
		}
		if sig == nil {
			t.Fatalf("%s %s: no signature in %v", qname, dns.TypeToString[qtype], rec.Msg)
		}
		if verifySection(t, 0, k, sec) == 0 || !sig.ValidityPeriod(clock) {
			t.Fatalf("%s %s: signature not valid at %s: %s", qname, dns.TypeToString[qtype], clock, sig)
		}
		return sig
	}

	tests := []struct {
		qname string
		qtype uint16
	}{
		{"gw.example.com.", dns.TypeIPSECKEY},
		{"_53.ns1.example.com.", TypeIPSECA},
		{"gw.example.com.", dns.TypeTXT}, // the NSEC at a name with keys
	}
	first := make([]*dns.RRSIG, len(tests))
	for i, tc := range tests {
		first[i] = ask(tc.qname, tc.qtype)
		if again := ask(tc.qname, tc.qtype); again.Signature != first[i].Signature {
			t.Errorf("Test %d: signed again on the second ask", i)
		}
		if want := uint32(clock.Add(8 * 24 * time.Hour).Unix()); first[i].Expiration != want {
			t.Errorf("Test %d: expiration %d, want %d (8 days)", i, first[i].Expiration, want)
		}
	}
	kept := s.names.len()

	// 5.5 days on, the signatures are 2.5 days from expiring: still served, until the pass.
	clock = real
	for i, tc := range tests {
		if got := ask(tc.qname, tc.qtype); got.Signature != first[i].Signature {
			t.Errorf("Test %d: signed again before the renewal pass", i)
		}
	}
	p.renew(nil)
	renewed := make([]*dns.RRSIG, len(tests))
	for i, tc := range tests {
		renewed[i] = ask(tc.qname, tc.qtype)
		if renewed[i].Signature == first[i].Signature || renewed[i].Expiration != uint32(clock.Add(8*24*time.Hour).Unix()) {
			t.Errorf("Test %d: not renewed by the pass: %s", i, renewed[i])
		}
	}
	if got := s.names.len(); got != kept {
		t.Errorf("%d RRsets kept after the pass, want %d: it signed names nobody asked for, or lost some", got, kept)
	}

	// Seven days on, with no pass, an ask signs again.
	clock = real.Add(7 * 24 * time.Hour)
	for i, tc := range tests {
		if got := ask(tc.qname, tc.qtype); got.Signature == renewed[i].Signature {
			t.Errorf("Test %d: a signature a day from expiring was served", i)
		}
	}
}

// TestSignaturesFollowKeys checks that a kept signature is not served over other rdata: a
// key file replaced on reload is signed again on its next ask, and the pass forgets the
// signatures of the old rdata, and those of a name that is gone.
func TestSignaturesFollowKeys(t *testing.T) {
	dir := testKeyDir(t)
	p := newTestPlugin(t, dir, "")
	k := signWith(t, p, "example.com.")
	s := p.signer.Load()
	ask := func(qname string) []dns.RR {
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := p.ServeDNS(context.Background(), rec, test.Case{Qname: qname, Qtype: dns.TypeIPSECKEY, Do: true}.Msg()); err != nil {
			t.Fatal(err)
		}
		if verifySection(t, 0, k, rec.Msg.Answer) != 1 {
			t.Fatalf("%s: answer not signed once: %v", qname, rec.Msg)
		}
		return rec.Msg.Answer
	}
	before := ask("gw.example.com.")
	n := s.names.len()
	p.sizeStores(p.idx.Load())
	if got, want := s.others.capacity.Load(), int64(otherSigs/sigShards); got != want {
		t.Errorf("others bounded to %d per shard, want %d (otherSigs, the index being smaller)", got, want)
	}
	replaceKeys(t, dir, "gw.example.com")
	p.load()
	first := testutil.ToFloat64(signCount.WithLabelValues("", "first"))
	after := ask("gw.example.com.")
	if got := testutil.ToFloat64(signCount.WithLabelValues("", "first")) - first; got != 1 {
		t.Errorf("%v signings of new rdata counted, want 1", got)
	}
	if after[0].String() == before[0].String() {
		t.Fatal("the key did not change on reload")
	}
	if s.names.len() != n+1 {
		t.Errorf("%d RRsets kept, want %d", s.names.len(), n+1)
	}
	p.renew(nil)
	if s.names.len() != n {
		t.Errorf("%d RRsets kept after the pass, want %d: the old rdata's signatures are kept", s.names.len(), n)
	}
	removeKeys(t, dir, "gw.example.com")
	p.load()
	p.renew(nil)
	if s.names.len() != n-1 {
		t.Errorf("%d RRsets kept after the pass, want %d", s.names.len(), n-1)
	}
}

// replaceKeys puts another key in owner's file of dir.
func replaceKeys(t *testing.T, dir, owner string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors", "keys", "rsa2048.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, owner+".pem"), data)
}

// removeKeys removes owner's file of dir.
func removeKeys(t *testing.T, dir, owner string) {
	t.Helper()
	must(t, os.Remove(filepath.Join(dir, owner+".pem")))
}

// TestDenialUnsignable checks that a denial the dnssec plugin fails to sign stays the
// plain one (NXDOMAIN, exactly one SOA), never an NSEC without signatures.
func TestDenialUnsignable(t *testing.T) {
	p := newTestPlugin(t, testKeyDir(t), "")
	signWith(t, p, "example.com.")
	s := p.signer.Load()
	s.d = dnssec.New([]string{"example.com."}, nil, false, p.Next, cache.New[[]dns.RR](10)) // no keys
	for i, tc := range []struct {
		qname string
		qtype uint16
		rcode int
	}{
		{"nope.example.com.", dns.TypeIPSECKEY, dns.RcodeNameError},
		{"gw.example.com.", dns.TypeTXT, dns.RcodeSuccess},
		{"gw.example.com.", dns.TypeNSEC, dns.RcodeSuccess},
	} {
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := p.ServeDNS(context.Background(), rec, test.Case{Qname: tc.qname, Qtype: tc.qtype, Do: true}.Msg()); err != nil {
			t.Fatal(err)
		}
		m := rec.Msg
		if m.Rcode != tc.rcode || len(m.Answer) != 0 || len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("Test %d: want rcode %s and one SOA, got %s", i, dns.RcodeToString[tc.rcode], m)
		}
	}
}
