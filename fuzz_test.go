package ipsecoe

// Fuzz targets for the parsers and the handler. `go test` runs their seed corpora (and every
// input kept under testdata/fuzz/<FuzzName>/) as ordinary tests; fuzz one of them with e.g.
//
//	go test -run XXX -fuzz FuzzServeDNS -fuzztime 60s .

import (
	"bytes"
	"context"
	"crypto/dsa" //nolint:staticcheck // DSA is IPSECKEY algorithm 1
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"

	"github.com/miekg/dns"
)

// fzAddFiles adds every regular file under dir as a seed. A missing directory fails the
// test: the vectors are part of the test input, not optional.
func fzAddFiles(f *testing.F, dir string) {
	f.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f.Add(data)
		n++
		return nil
	})
	if err != nil {
		f.Fatalf("seed files: %v", err)
	}
	if n == 0 {
		f.Fatalf("seed files: %s holds no file", dir)
	}
}

// fzPrivateArmor reports whether data has a line holding a PEM "-----BEGIN " with
// "PRIVATE KEY" after it: such a file must be refused as a private key, wherever on the line
// the armor starts.
func fzPrivateArmor(data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		if i := bytes.Index(line, []byte("-----BEGIN ")); i >= 0 && bytes.Contains(line[i:], []byte("PRIVATE KEY")) {
			return true
		}
	}
	return false
}

func FuzzParseKeyFile(f *testing.F) {
	for _, dir := range []string{
		filepath.Join(vectorsDir, "keys"),
		filepath.Join(vectorsDir, "certs"),
		filepath.Join(vectorsDir, "bad"),
		filepath.Join("testdata", "keys"),
		filepath.Join("testdata", "bad"),
	} {
		fzAddFiles(f, dir)
	}
	// Key files in other formats, where the repository has them.
	for _, dir := range []string{filepath.Join("testdata", "libreswan"), filepath.Join("testdata", "showhostkey")} {
		if _, err := os.Stat(dir); err == nil {
			fzAddFiles(f, dir)
		}
	}
	// File shapes editors and pasting make: CRLF lines, a byte order mark, indented armor, a
	// private key before a public one, a bare DER private key.
	pub, priv := readVector(f, "keys/ecp256.pub.pem"), readVector(f, "bad/private-ecp256.pkcs8.pem")
	f.Add(bytes.ReplaceAll(bytes.Join([][]byte{pub, priv}, nil), []byte("\n"), []byte("\r\n")))
	f.Add(bytes.Join([][]byte{[]byte("\xef\xbb\xbf"), pub}, nil))
	f.Add(bytes.Join([][]byte{[]byte("  "), priv, pub}, nil))
	f.Add(bytes.Join([][]byte{priv, pub}, nil))
	f.Add(bytes.Join([][]byte{[]byte("x"), pub}, nil))
	if b, _ := pem.Decode(priv); b != nil {
		f.Add(b.Bytes)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseKeyFile(data)
		private := fzPrivateArmor(data)
		if err != nil {
			if keys != nil {
				t.Fatalf("error %v with %d keys, want nil keys", err, len(keys))
			}
			if private && reasonOf(err) != reasonPrivate {
				t.Fatalf("a BEGIN line names a PRIVATE KEY, refused with reason %q (%v), want %q", reasonOf(err), err, reasonPrivate)
			}
			return
		}
		if private {
			t.Fatalf("a BEGIN line names a PRIVATE KEY, yet the file was accepted with %d keys", len(keys))
		}
		if len(keys) == 0 {
			t.Fatal("no error and no key")
		}
		for i, k := range keys {
			if k == nil {
				t.Fatalf("key %d is nil", i)
			}
			if err := fzCheckKey(k); err != "" {
				t.Fatalf("key %d (%s, algorithm %d, field %d bytes): %s", i, k.kind, k.algorithm, len(k.field()), err)
			}
		}
	})
}

// fzCheckKey checks one parsed key: the algorithm, a field whose length fits it, and the
// field against the public key of the SubjectPublicKeyInfo it came from.
func fzCheckKey(k *pubKey) string {
	if k.algorithm < algDSA || k.algorithm > algEdDSA {
		return "algorithm outside 1-4"
	}
	if len(k.field()) == 0 {
		return "empty key field"
	}
	if len(k.spki) == 0 {
		return "empty SubjectPublicKeyInfo"
	}
	if k.cert != nil {
		c, err := x509.ParseCertificate(k.cert)
		if err != nil {
			return "certificate does not parse: " + err.Error()
		}
		if !bytes.Equal(c.RawSubjectPublicKeyInfo, k.spki) {
			return "spki is not the certificate's"
		}
	}
	f := k.field()
	pub, perr := x509.ParsePKIXPublicKey(k.spki)
	switch k.algorithm {
	case algRSA:
		// RFC 3110: one byte of exponent length, or zero and two bytes; the exponent; the modulus.
		off, elen := 1, int(f[0])
		if f[0] == 0 {
			if len(f) < 3 {
				return "RSA field too short for its exponent length"
			}
			off, elen = 3, int(f[1])<<8|int(f[2])
			if elen <= 255 {
				return "RSA exponent length in three bytes for a short exponent"
			}
		}
		if len(f) < off+elen+minRSABits/8 {
			return "RSA field too short for exponent and a 2048-bit modulus"
		}
		e, n := f[off:off+elen], f[off+elen:]
		if e[0] == 0 || n[0] == 0 {
			return "RSA exponent or modulus with a leading zero"
		}
		if k.kind != "rsa" {
			return "RSA key of kind " + k.kind
		}
		rk, ok := pub.(*rsa.PublicKey)
		if perr != nil || !ok {
			return "spki is not an RSA key"
		}
		if new(big.Int).SetBytes(n).Cmp(rk.N) != 0 || new(big.Int).SetBytes(e).Cmp(big.NewInt(int64(rk.E))) != 0 {
			return "RSA field does not match the spki"
		}
	case algECDSA:
		if !(len(f) == 64 && k.kind == "ecdsa-p256" || len(f) == 96 && k.kind == "ecdsa-p384") {
			return "ECDSA field length does not fit kind " + k.kind
		}
		ek, ok := pub.(*ecdsa.PublicKey)
		if perr != nil || !ok {
			return "spki is not an ECDSA key"
		}
		point, err := ek.Bytes()
		if err != nil || !bytes.Equal(point[1:], f) {
			return "ECDSA field does not match the spki"
		}
	case algEdDSA:
		switch {
		case len(f) == 32 && k.kind == "ed25519":
			ek, ok := pub.(ed25519.PublicKey)
			if perr != nil || !ok || !bytes.Equal(ek, f) {
				return "Ed25519 field does not match the spki"
			}
		case len(f) == 57 && k.kind == "ed448":
			if !bytes.HasSuffix(k.spki, f) || !bytes.Contains(k.spki, []byte{0x06, 0x03, 0x2b, 0x65, 0x71}) {
				return "Ed448 field does not match the spki"
			}
		default:
			return "EdDSA field length does not fit kind " + k.kind
		}
	case algDSA:
		t := int(f[0])
		if t > 8 || len(f) != 1+20+3*(64+8*t) || k.kind != "dsa" {
			return "DSA field length does not fit T"
		}
		dk, ok := pub.(*dsa.PublicKey)
		if perr != nil || !ok {
			return "spki is not a DSA key"
		}
		plen := 64 + 8*t
		for i, v := range []*big.Int{dk.Q, dk.P, dk.G, dk.Y} {
			start, end := 1, 21
			if i > 0 {
				start, end = 21+(i-1)*plen, 21+i*plen
			}
			if new(big.Int).SetBytes(f[start:end]).Cmp(v) != 0 {
				return "DSA field does not match the spki"
			}
		}
	}
	return ""
}

// fzOwnerSeeds are file names of every owner form, accepted and refused.
var fzOwnerSeeds = []string{
	"192.0.2.10.pem", "192.0.2.10.pub.pem", "192.0.2.10.der", "192.0.2.10.PEM", "192.0.2.10",
	"2001:db8::10.pem", "2001-db8--10.pem", "2001-DB8--A.crt", "::ffff:192.0.2.1.pem", "--1.pem",
	"10.2.0.192.in-addr.arpa.pem", "10.2.0.192.IN-ADDR.ARPA.cer", "10.2.0.192.in-addr.arpa..pem",
	"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.pem",
	"gw1.example.com.pem", "GW1.Example.com.pub", "gw1.example.com.", "x.pub.pem", "a.b.pub.pub",
	"_53.ns1.example.com.pem", "_500.192.0.2.1.pem", "_4500.2001-db8--1.der", "_65535.a.b.cer",
	"_500.10.2.0.192.in-addr.arpa.pem", "_500._500.a.example.pem",
	"tls.crt", "rsa2048.pub.pem", "2.0.192.in-addr.arpa.pem", "01.2.0.192.in-addr.arpa.pem",
	"_0.ns1.example.com.pem", "_053.ns1.example.com.pem", "_65536.ns1.example.com.pem", "_+53.a.b.pem",
	"*.example.com.pem", "bad name.example.com.pem", "fe80::1%eth0.pem", "fe80--1%eth0.pem",
	"-gw.example.com.pem", "192.0.2.256.pem", "a..b.pem", ".pem", "", ".", "_53.", "_53.pem",
	strings.Repeat("a.", 126) + "pem", strings.Repeat("abcdefgh.", 27) + "com.pem",
	"_1." + strings.Repeat("abcdefghi.", 24) + "com",
	// The longest names: 255 octets on the wire.
	strings.Repeat("abcdefghi.", 25) + "abc.pem", "_1." + strings.Repeat("abcdefghi.", 24) + "abcdefg.co",
}

func FuzzOwnerFromFileName(f *testing.F) {
	for _, s := range fzOwnerSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, base string) {
		o, err := ownerFromFileName(base)
		if err != nil {
			if reasonOf(err) != reasonOwner {
				t.Fatalf("refused with reason %q, want %q: %v", reasonOf(err), reasonOwner, err)
			}
			return
		}
		if o.name == "" || !dns.IsFqdn(o.name) || strings.ToLower(o.name) != o.name {
			t.Fatalf("owner %q is not a lower-case FQDN", o.name)
		}
		if _, ok := dns.IsDomainName(o.name); !ok || strings.Contains(o.name, `\`) {
			t.Fatalf("owner %q (%d characters) is not a domain name", o.name, len(o.name))
		}
		// dns.IsDomainName lets a name one octet too long through: count the wire octets.
		wire := 1
		for _, l := range dns.SplitDomainName(o.name) {
			wire += 1 + len(l)
		}
		if wire > 255 {
			t.Fatalf("owner %q is %d octets on the wire, over 255", o.name, wire)
		}
		rest := o.name
		if o.port != 0 {
			prefix := "_" + strconv.Itoa(int(o.port)) + "."
			if !strings.HasPrefix(o.name, prefix) {
				t.Fatalf("owner %q of port %d does not start with %q", o.name, o.port, prefix)
			}
			rest = o.name[len(prefix):]
		} else if strings.HasPrefix(o.name, "_") {
			t.Fatalf("owner %q without a port starts with _", o.name)
		}
		if o.addr.IsValid() {
			if o.addr.Zone() != "" || o.addr.Is4In6() {
				t.Fatalf("owner %q: address %v has a zone or is IPv4-mapped", o.name, o.addr)
			}
			if back := addrOwner(o.addr); back.name != rest || back.addr != o.addr {
				t.Fatalf("owner %q: address %v gives back %q", o.name, o.addr, back.name)
			}
			return
		}
		if isReverseZone(rest) || dns.CountLabel(rest) < 2 || !isHostName(rest) {
			t.Fatalf("host owner %q is a reverse name or not a host name of two labels", o.name)
		}
	})
}

// fzReverseName is the reverse name of p: octets for IPv4, nibbles for IPv6.
func fzReverseName(p netip.Prefix) (string, bool) {
	a, bits := p.Addr(), p.Bits()
	var labels []string
	switch {
	case a.Is4() && bits%8 == 0:
		b := a.As4()
		for i := bits/8 - 1; i >= 0; i-- {
			labels = append(labels, strconv.Itoa(int(b[i])))
		}
		labels = append(labels, "in-addr.arpa.")
	case a.Is6() && bits%4 == 0:
		b := a.As16()
		for i := bits/4 - 1; i >= 0; i-- {
			v := b[i/2] >> 4
			if i%2 == 1 {
				v = b[i/2] & 0xf
			}
			labels = append(labels, strconv.FormatUint(uint64(v), 16))
		}
		labels = append(labels, "ip6.arpa.")
	default:
		return "", false
	}
	return strings.Join(labels, "."), true
}

func FuzzReversePrefix(f *testing.F) {
	for _, s := range []string{
		"in-addr.arpa.", "10.in-addr.arpa.", "1.10.in-addr.arpa.", "3.2.1.10.in-addr.arpa.",
		"0.0.0.0.in-addr.arpa.", "255.255.255.255.in-addr.arpa.", "ip6.arpa.", "2.ip6.arpa.",
		"8.b.d.0.1.0.0.2.ip6.arpa.", rev6base, "1." + rev6base[2:],
		"256.in-addr.arpa.", "01.in-addr.arpa.", "x.in-addr.arpa.", "5.4.3.2.1.in-addr.arpa.",
		"_53.1.2.0.192.in-addr.arpa.", "1..10.in-addr.arpa.", "10.ip6.arpa.", "g.ip6.arpa.",
		"A.ip6.arpa.", "0." + rev6base, "example.com.", "xin-addr.arpa.", "in-addr.arpa",
		"1.2.0.192.in-addr.arpa.example.com.", "-1.in-addr.arpa.", "+1.in-addr.arpa.", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p, ok := reversePrefix(name)
		if !ok {
			return
		}
		if !p.IsValid() || p.Masked() != p {
			t.Fatalf("%q read as %v: not a valid, masked prefix", name, p)
		}
		back, ok := fzReverseName(p)
		if !ok {
			t.Fatalf("%q read as %v: not octet or nibble aligned", name, p)
		}
		if back != name {
			t.Fatalf("%q read as %v, which is %q", name, p, back)
		}
		if a, full, ok := parseReverse(name); !ok || full != p.IsSingleIP() || a != p.Addr() {
			t.Fatalf("%q: parseReverse %v %v %v disagrees with reversePrefix %v", name, a, full, ok, p)
		}
	})
}

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
