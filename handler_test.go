package ipsecoe

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/ipsecoe/ipsecoe/internal/index"
	"github.com/ipsecoe/ipsecoe/internal/keyfile"
	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/miekg/dns"
)

// testKeyDir lays out vector keys under owner names, as an operator would.
func testKeyDir(t testing.TB) string {
	t.Helper()
	return e2e.VectorKeys(t, e2e.OperatorLayout())
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	e2e.WriteFile(t, path, data)
}

// newTestPlugin parses a Corefile block for dir and loads the keys once.
func newTestPlugin(t testing.TB, dir, extra string) *IPSecOE {
	t.Helper()
	c := caddy.NewTestController("dns", `ipsecoe 2.0.192.in-addr.arpa 10.in-addr.arpa 8.b.d.0.1.0.0.2.ip6.arpa example.com {
		keys `+dir+`
		ttl 300
		ipseca 53
		gateway 10.1.0.0/16 192.0.2.254
		gateway 10.1.2.0/24 gw.example.com 5
		gateway 2001:db8:1::/64 192.0.2.254 30
		gateway 2001:db8:1::/48 2001:db8::4 40
		`+extra+`
	}`)
	p, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	p.load()
	if !p.Ready() {
		t.Fatal("not ready after load")
	}
	p.Next = test.NextHandler(dns.RcodeRefused, nil)
	return p
}

// keyB64 returns the vector key of a key file, by file name.
func keyB64(t testing.TB, file string) string {
	t.Helper()
	for _, v := range loadVectors(t).Cases {
		if v.KeyFile == file {
			return v.KeyB64
		}
	}
	t.Fatalf("no vector for %s", file)
	return ""
}

// ipsecaText is the IPSECA rdata the vector key or certificate file gives for 3 1 1.
func ipsecaText(t testing.TB, file string) string {
	t.Helper()
	keys, err := keyfile.Parse(nil, e2e.Vector(t, file))
	if err != nil {
		t.Fatal(err)
	}
	a := keys[0].Associations(nil, []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}})[0]
	return (&IPSECA{Usage: a.Usage, Selector: a.Selector, MatchingType: a.Matching, Data: a.Data}).String()
}

const (
	soaRR    = "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 0 7200 1800 1209600 60"
	soaRev4  = "10.in-addr.arpa. 60 IN SOA ns1.10.in-addr.arpa. hostmaster.10.in-addr.arpa. 0 7200 1800 1209600 60"
	soaRev6  = "8.b.d.0.1.0.0.2.ip6.arpa. 60 IN SOA ns1.8.b.d.0.1.0.0.2.ip6.arpa. hostmaster.8.b.d.0.1.0.0.2.ip6.arpa. 0 7200 1800 1209600 60"
	soa192   = "2.0.192.in-addr.arpa. 60 IN SOA ns1.2.0.192.in-addr.arpa. hostmaster.2.0.192.in-addr.arpa. 0 7200 1800 1209600 60"
	rev6base = "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
)

type handlerCase struct {
	qname  string
	qtype  uint16
	rcode  int
	answer []string // zone-file text, owner case as the reply must have it
	ns     []string
	next   bool // the next plugin must get the query
}

func handlerCases(t testing.TB) []handlerCase {
	rsa := keyB64(t, "keys/rsa2048.pub.pem")
	lsw := keyB64(t, "keys/lsw_rsa_122269ea.pub.pem")
	ec := keyB64(t, "keys/ecp256.pub.pem")
	ed := keyB64(t, "keys/ed25519.pub.pem")
	a6 := func(last string) string { return last + rev6base[len(last):] }
	v6gw := "1.0.0.0.d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."    // 2001:db8:1::abcd:1
	v6outer := "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa." // 2001:db8:1:5::1
	return []handlerCase{
		// Positive answers at explicit owners.
		{"1.2.0.192.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeSuccess, []string{
			"1.2.0.192.in-addr.arpa. 300 IN IPSECKEY 10 0 2 . " + rsa,
			"1.2.0.192.in-addr.arpa. 300 IN IPSECKEY 10 0 3 . " + ec}, nil, false},
		{"gw.example.com.", dns.TypeIPSECKEY, dns.RcodeSuccess, []string{"gw.example.com. 300 IN IPSECKEY 10 0 4 . " + ed}, nil, false},
		{"GW.Example.COM.", dns.TypeIPSECKEY, dns.RcodeSuccess, []string{"GW.Example.COM. 300 IN IPSECKEY 10 0 4 . " + ed}, nil, false},
		{"ns1.example.com.", dns.TypeIPSECKEY, dns.RcodeSuccess, []string{"ns1.example.com. 300 IN IPSECKEY 10 0 3 . " + ec}, nil, false},
		{a6("4."), dns.TypeIPSECKEY, dns.RcodeSuccess, []string{a6("4.") + " 300 IN IPSECKEY 10 0 3 . " + ec}, nil, false},
		{"_53.ns1.example.com.", TypeIPSECA, dns.RcodeSuccess, []string{"_53.ns1.example.com. 300 IN IPSECA " + ipsecaText(t, "certs/ns1-ecp256.crt")}, nil, false},
		{"_53.1.2.0.192.in-addr.arpa.", TypeIPSECA, dns.RcodeSuccess, []string{
			"_53.1.2.0.192.in-addr.arpa. 300 IN IPSECA " + ipsecaText(t, "certs/ns1-ecp256.crt"),
			"_53.1.2.0.192.in-addr.arpa. 300 IN IPSECA " + ipsecaText(t, "keys/rsa2048.pub.pem")}, nil, false},
		{"_500.host.example.com.", TypeIPSECA, dns.RcodeSuccess, []string{"_500.host.example.com. 300 IN IPSECA " + ipsecaText(t, "keys/ed25519.pub.pem")}, nil, false},
		{"gw.example.com.", dns.TypeANY, dns.RcodeSuccess, []string{"gw.example.com. 300 IN IPSECKEY 10 0 4 . " + ed}, nil, false},
		// Apex.
		{"example.com.", dns.TypeSOA, dns.RcodeSuccess, []string{soaRR}, nil, false},
		{"example.com.", dns.TypeNS, dns.RcodeSuccess, []string{"example.com. 300 IN NS ns1.example.com."}, nil, false},
		{"10.in-addr.arpa.", dns.TypeSOA, dns.RcodeSuccess, []string{soaRev4}, nil, false},
		{"example.com.", dns.TypeA, dns.RcodeSuccess, nil, []string{soaRR}, false},
		{"example.com.", dns.TypeIPSECKEY, dns.RcodeSuccess, nil, []string{soaRR}, false},
		// Gateway prefixes: every address inside, nested prefixes all applying.
		{"5.3.1.10.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeSuccess, []string{"5.3.1.10.in-addr.arpa. 300 IN IPSECKEY 20 1 2 192.0.2.254 " + lsw}, nil, false},
		// A gateway address that is also an empty non-terminal above an explicit _PORT owner.
		{"6.3.1.10.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeSuccess, []string{"6.3.1.10.in-addr.arpa. 300 IN IPSECKEY 20 1 2 192.0.2.254 " + lsw}, nil, false},
		{"_500.6.3.1.10.in-addr.arpa.", TypeIPSECA, dns.RcodeSuccess, []string{"_500.6.3.1.10.in-addr.arpa. 300 IN IPSECA " + ipsecaText(t, "keys/ed25519.pub.pem")}, nil, false},
		{"5.2.1.10.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeSuccess, []string{
			"5.2.1.10.in-addr.arpa. 300 IN IPSECKEY 20 1 2 192.0.2.254 " + lsw,
			"5.2.1.10.in-addr.arpa. 300 IN IPSECKEY 5 3 4 gw.example.com. " + ed}, nil, false},
		{v6gw, dns.TypeIPSECKEY, dns.RcodeSuccess, []string{
			v6gw + " 300 IN IPSECKEY 30 1 2 192.0.2.254 " + lsw,
			v6gw + " 300 IN IPSECKEY 40 2 3 2001:db8::4 " + ec}, nil, false},
		{v6outer, dns.TypeIPSECKEY, dns.RcodeSuccess, []string{v6outer + " 300 IN IPSECKEY 40 2 3 2001:db8::4 " + ec}, nil, false},
		// NODATA: an owner, a gateway address, a prefix's own name, empty non-terminals.
		{"gw.example.com.", dns.TypeA, dns.RcodeSuccess, nil, []string{soaRR}, false},
		{"gw.example.com.", TypeIPSECA, dns.RcodeSuccess, nil, []string{soaRR}, false},
		{"_53.ns1.example.com.", dns.TypeIPSECKEY, dns.RcodeSuccess, nil, []string{soaRR}, false},
		{"5.2.1.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, nil, []string{soaRev4}, false},
		{"1.10.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeSuccess, nil, []string{soaRev4}, false},
		{"2.1.10.in-addr.arpa.", dns.TypeTXT, dns.RcodeSuccess, nil, []string{soaRev4}, false},
		{"host.example.com.", dns.TypeIPSECKEY, dns.RcodeSuccess, nil, []string{soaRR}, false},
		{"0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", dns.TypeIPSECKEY, dns.RcodeSuccess, nil, []string{soaRev6}, false},
		{"1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", dns.TypeAAAA, dns.RcodeSuccess, nil, []string{soaRev6}, false},
		// NXDOMAIN.
		{"nope.example.com.", dns.TypeIPSECKEY, dns.RcodeNameError, nil, []string{soaRR}, false},
		{"_53.gw.example.com.", TypeIPSECA, dns.RcodeSuccess, []string{"_53.gw.example.com. 300 IN IPSECA " + ipsecaText(t, "keys/ed25519.pub.pem")}, nil, false},
		{"_54.ns1.example.com.", TypeIPSECA, dns.RcodeNameError, nil, []string{soaRR}, false},
		{"2.10.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeNameError, nil, []string{soaRev4}, false},
		{"5.5.5.10.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeNameError, nil, []string{soaRev4}, false},
		{"x.5.2.1.10.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeNameError, nil, []string{soaRev4}, false},
		{"99.2.0.192.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeNameError, nil, []string{soa192}, false},
		{a6("1."), dns.TypeIPSECKEY, dns.RcodeNameError, nil, []string{soaRev6}, false},
		// Outside the zones: the next plugin.
		{"outside.example.net.", dns.TypeIPSECKEY, dns.RcodeRefused, nil, nil, true},
		{"11.in-addr.arpa.", dns.TypeSOA, dns.RcodeRefused, nil, nil, true},
	}
}

func rrList(t testing.TB, text []string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, s := range text {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("bad test record %q: %v", s, err)
		}
		out = append(out, rr)
	}
	return out
}

// checkReply compares a reply with a case: header and sections with test.SortAndCheck,
// then every record's text (test.Section does not compare IPSECKEY or IPSECA rdata).
func checkReply(t *testing.T, i int, tc handlerCase, m *dns.Msg, serial uint32) {
	t.Helper()
	fix := func(s []string) []string {
		out := make([]string, len(s))
		for j := range s {
			out[j] = strings.Replace(s[j], " 0 7200 1800", " "+itoa(serial)+" 7200 1800", 1)
		}
		return out
	}
	want := test.Case{Qname: tc.qname, Qtype: tc.qtype, Rcode: tc.rcode, Answer: rrList(t, fix(tc.answer)), Ns: rrList(t, fix(tc.ns))}
	if !m.Authoritative {
		t.Errorf("Test %d: %s %s: AA not set", i, tc.qname, dns.TypeToString[tc.qtype])
	}
	if err := test.SortAndCheck(m, want); err != nil {
		t.Errorf("Test %d: %s %s: %v\n%s", i, tc.qname, dns.TypeToString[tc.qtype], err, m)
		return
	}
	for sec, pair := range [][2][]dns.RR{{m.Answer, want.Answer}, {m.Ns, want.Ns}} {
		if got, exp := texts(pair[0]), texts(pair[1]); got != exp {
			t.Errorf("Test %d: %s %s: section %d\n got %s\nwant %s", i, tc.qname, dns.TypeToString[tc.qtype], sec, got, exp)
		}
	}
}

func texts(rrs []dns.RR) string {
	s := make([]string, len(rrs))
	for i, rr := range rrs {
		s[i] = rr.String()
	}
	sort.Strings(s)
	return strings.Join(s, "\n")
}

func itoa(n uint32) string { return uitoa(uint64(n)) }

func uitoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestServeDNS(t *testing.T) {
	p := newTestPlugin(t, testKeyDir(t), "")
	serial := p.idx.Load().Serial()
	for i, tc := range handlerCases(t) {
		for _, do := range []bool{false, true} {
			req := test.Case{Qname: tc.qname, Qtype: tc.qtype, Do: do}.Msg()
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			rcode, err := p.ServeDNS(context.Background(), rec, req)
			if err != nil {
				t.Errorf("Test %d: %v", i, err)
				continue
			}
			if tc.next {
				if rcode != dns.RcodeRefused || rec.Msg != nil {
					t.Errorf("Test %d: %s: want the next plugin, got rcode %d and %v", i, tc.qname, rcode, rec.Msg)
				}
				continue
			}
			if rcode != dns.RcodeSuccess || rec.Msg == nil {
				t.Errorf("Test %d: %s: rcode %d, no reply written", i, tc.qname, rcode)
				continue
			}
			checkReply(t, i, tc, rec.Msg, serial)
		}
	}
}

func TestServeDNSFallthrough(t *testing.T) {
	p := newTestPlugin(t, testKeyDir(t), "fallthrough")
	serial := p.idx.Load().Serial()
	for i, tc := range handlerCases(t) {
		req := test.Case{Qname: tc.qname, Qtype: tc.qtype}.Msg()
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		rcode, err := p.ServeDNS(context.Background(), rec, req)
		if err != nil {
			t.Fatalf("Test %d: %v", i, err)
		}
		positive := len(tc.answer) > 0 && tc.qtype != dns.TypeSOA && tc.qtype != dns.TypeNS
		if !positive {
			// Everything without a positive IPSECKEY or IPSECA answer goes on, untouched.
			if rcode != dns.RcodeRefused || rec.Msg != nil {
				t.Errorf("Test %d: %s %s: want the next plugin, got rcode %d\n%v", i, tc.qname, dns.TypeToString[tc.qtype], rcode, rec.Msg)
			}
			continue
		}
		checkReply(t, i, tc, rec.Msg, serial)
	}
}

func TestServeDNSAllow(t *testing.T) {
	// test.ResponseWriter's client is 10.240.0.1. A client outside allow asking about IPSECA
	// (the type, or any type at a _PORT name, whether or not it exists) is refused; its
	// other questions are answered as for anyone.
	const (
		in  = "allow 10.240.0.0/16"
		out = "allow 192.0.2.0/24 2001:db8::/32"
	)
	for i, tc := range []struct {
		allow   string
		qname   string
		qtype   uint16
		do      bool
		refused bool
		answers int
	}{
		{in, "_53.ns1.example.com.", TypeIPSECA, false, false, 1},
		{"allow 10.240.0.1 ::1", "_53.ns1.example.com.", TypeIPSECA, true, false, 1},
		{in, "_53.ns1.example.com.", dns.TypeANY, false, false, 1},
		{out, "_53.ns1.example.com.", TypeIPSECA, false, true, 0},
		{out, "_53.ns1.example.com.", TypeIPSECA, true, true, 0},
		{out, "_53.ns1.example.com.", dns.TypeTXT, true, true, 0},
		{out, "_53.ns1.example.com.", dns.TypeANY, false, true, 0},
		{out, "_53.nope.example.com.", TypeIPSECA, true, true, 0},
		{out, "_443.nope.example.com.", dns.TypeTXT, false, true, 0},
		{out, "ns1.example.com.", TypeIPSECA, true, true, 0},
		{out, "ns1.example.com.", dns.TypeIPSECKEY, true, false, 1},
		{out, "ns1.example.com.", dns.TypeANY, false, false, 1},
		{out, "ns1.example.com.", dns.TypeTXT, false, false, 0},
	} {
		p := newTestPlugin(t, testKeyDir(t), tc.allow)
		req := test.Case{Qname: tc.qname, Qtype: tc.qtype, Do: tc.do}.Msg()
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		rcode, err := p.ServeDNS(context.Background(), rec, req)
		if err != nil || rcode != dns.RcodeSuccess || rec.Msg == nil {
			t.Fatalf("Test %d: rcode %d, err %v, written %v", i, rcode, err, rec.Msg != nil)
		}
		m := rec.Msg
		if tc.refused {
			if m.Rcode != dns.RcodeRefused || len(m.Answer)+len(m.Ns) != 0 {
				t.Errorf("Test %d: %s %s from outside allow: rcode %s, %d answers, %d authority; want REFUSED and nothing",
					i, tc.qname, dns.TypeToString[tc.qtype], dns.RcodeToString[m.Rcode], len(m.Answer), len(m.Ns))
			}
			opt := m.IsEdns0()
			if tc.do && (opt == nil || len(opt.Option) != 1 || opt.Option[0].(*dns.EDNS0_EDE).InfoCode != dns.ExtendedErrorCodeProhibited) {
				t.Errorf("Test %d: no extended error Prohibited in %v", i, opt)
			}
			continue
		}
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != tc.answers {
			t.Errorf("Test %d: %s %s: rcode %s, %d answers; want NOERROR and %d", i, tc.qname, dns.TypeToString[tc.qtype],
				dns.RcodeToString[m.Rcode], len(m.Answer), tc.answers)
		}
		if tc.answers == 0 && (len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA) {
			t.Errorf("Test %d: denial without exactly one SOA: %v", i, m.Ns)
		}
	}
}

func TestPortLabel(t *testing.T) {
	for i, tc := range []struct {
		name string
		want bool
	}{
		{"_53.ns1.example.com.", true},
		{"_1.x.", true},
		{"_65535.x.", true},
		{"_65536.x.", false},
		{"_100000.x.", false},
		{"_053.x.", false},
		{"_0.x.", false},
		{"_.x.", false},
		{"_tcp.x.", false},
		{"_53", false},
		{"53.x.", false},
		{"_5a.x.", false},
	} {
		if got := portLabel(tc.name); got != tc.want {
			t.Errorf("Test %d: portLabel(%q) = %v, want %v", i, tc.name, got, tc.want)
		}
	}
}

// TestNoPrivateKeyPublished asks every name for every record and looks for the public
// half of the private key file among the answers.
func TestNoPrivateKeyPublished(t *testing.T) {
	v := loadVectors(t)
	var secret string
	for _, b := range v.BadInputs {
		if b.Naive != nil {
			secret = b.Naive.KeyB64
		}
	}
	if secret == "" {
		t.Fatal("vectors name no private key")
	}
	raw, _ := base64Decode(secret)
	p := newTestPlugin(t, testKeyDir(t), "")
	ix := p.idx.Load()
	for id := range ix.Names() {
		name := ix.Name(id)
		for _, qt := range []uint16{dns.TypeIPSECKEY, TypeIPSECA, dns.TypeANY} {
			req := test.Case{Qname: name, Qtype: qt}.Msg()
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			p.ServeDNS(context.Background(), rec, req)
			if rec.Msg == nil {
				continue
			}
			wire, _ := rec.Msg.Pack()
			if strings.Contains(rec.Msg.String(), secret) || strings.Contains(hex.EncodeToString(wire), hex.EncodeToString(raw)) {
				t.Fatalf("%s: the private key's public half was published", name)
			}
		}
	}
	files, _, err := index.ReadDir(p.dir, nil, &p.opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.Contains(f.Path, "private") && (f.Err == nil || f.Kept) {
			t.Errorf("%s: not refused: %v", f.Path, f.Err)
		}
	}
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// TestFallthroughDenialNotNXDOMAIN checks that in fallthrough mode a next plugin's NXDOMAIN
// at a name in the plugin's tree (an owner, a gateway address, an empty non-terminal)
// becomes NODATA, with or without DO, and stays NXDOMAIN elsewhere.
func TestFallthroughDenialNotNXDOMAIN(t *testing.T) {
	p := newTestPlugin(t, testKeyDir(t), "fallthrough")
	p.Next = test.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		m.Ns = []dns.RR{test.SOA("example.com. 60 IN SOA ns.example.com. h.example.com. 1 2 3 4 60")}
		w.WriteMsg(m)
		return dns.RcodeNameError, nil
	})
	for i, tc := range []struct {
		qname string
		rcode int
	}{
		{"gw.example.com.", dns.RcodeSuccess},
		{"host.example.com.", dns.RcodeSuccess},
		{"5.2.1.10.in-addr.arpa.", dns.RcodeSuccess},
		{"1.10.in-addr.arpa.", dns.RcodeSuccess},
		{"nope.example.com.", dns.RcodeNameError},
		{"2.10.in-addr.arpa.", dns.RcodeNameError},
	} {
		for _, do := range []bool{false, true} {
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			p.ServeDNS(context.Background(), rec, test.Case{Qname: tc.qname, Qtype: dns.TypeTXT, Do: do}.Msg())
			if rec.Msg == nil || rec.Msg.Rcode != tc.rcode || len(rec.Msg.Ns) != 1 {
				t.Errorf("Test %d: %s DO=%v: %v", i, tc.qname, do, rec.Msg)
			}
		}
	}
}

func TestQuestionName(t *testing.T) {
	tests := []string{
		"example.com.", "Example.COM.", "_500.7.3.0.10.in-addr.arpa.", "a-b.example.", ".",
		`a\.b.example.`, `a\032b.example.`, "a b.example.", `\@.example.`, "xn--bcher-kva.example.",
		"no-dot", "", "ÄÖ.example.", "a\tb.example.",
	}
	for i, name := range tests {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeIPSECKEY)
		state := request.Request{Req: m}
		q, l := questionName(state)
		ref := request.Request{Req: m}
		if q != ref.QName() || l != ref.Name() {
			t.Errorf("Test %d: %q gives %q, %q; request.Request gives %q, %q", i, name, q, l, ref.QName(), ref.Name())
		}
	}
}

func TestMatchZone(t *testing.T) {
	zones := []string{"example.com.", "sub.example.com.", "2.0.192.in-addr.arpa.", "."}
	for i, name := range []string{
		"example.com.", "a.example.com.", "sub.example.com.", "a.sub.example.com.", "xsub.example.com.",
		"notexample.com.", "com.", ".", "1.2.0.192.in-addr.arpa.", "12.0.192.in-addr.arpa.", `a\.example.com.`, `a\.sub.example.com.`,
	} {
		want := plugin.Zones(zones).Matches(name)
		if got := matchZone(zones, name); got != want {
			t.Errorf("Test %d: %s: %q, plugin.Zones says %q", i, name, got, want)
		}
		if got, want := matchZone(zones[:3], name), plugin.Zones(zones[:3]).Matches(name); got != want {
			t.Errorf("Test %d: %s without the root: %q, plugin.Zones says %q", i, name, got, want)
		}
	}
}
