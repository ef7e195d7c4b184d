package index

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
	e2e "github.com/ipsecoe/ipsecoe/test"
)

// loadDir reads dir and builds its index with o.
func loadDir(t testing.TB, dir string, o *Options) ([]*File, *Index) {
	t.Helper()
	files, _, err := ReadDir(dir, nil, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return files, Build(files, o, nil)
}

// TestManySANs publishes every SAN of a certificate, around the size where the owner list
// of one key passes 65,535 octets (862 IPv6 reverse names of 73 octets with 3 more each)
// and well past it.
func TestManySANs(t *testing.T) {
	for i, tc := range []struct {
		ips   []net.IP
		names []string
	}{
		{e2e.Addrs("2001:db8::", 862), nil},
		{e2e.Addrs("2001:db8::", 863), nil},
		{e2e.Addrs("2001:db8::", 872), []string{"gw.example.com"}}, // the wrap would land on an entry boundary
		{e2e.Addrs("2001:db8::", 1000), nil},
		{e2e.Addrs("10.0.0.0", 2400), nil},
		{e2e.Addrs("10.0.0.0", 5000), []string{"gw.example.com"}},
	} {
		dir := t.TempDir()
		e2e.WriteFile(t, filepath.Join(dir, "many.crt"), e2e.PEM("CERTIFICATE", e2e.Cert(t, tc.ips, tc.names, 0, 0)))
		o := &Options{Precedence: 10, Ports: []uint16{500}, DANE: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}}
		files, ix := loadDir(t, dir, o)
		if files[0].Err != nil {
			t.Fatalf("Test %d: %v", i, files[0].Err)
		}
		owners := len(tc.ips) + len(tc.names)
		if ix.records["IPSECKEY"] != owners || ix.records["IPSECA"] != owners {
			t.Errorf("Test %d: %v records, want %d of each", i, ix.records, owners)
		}
		for _, ip := range tc.ips {
			name := keyfile.AddrOwner(netip.MustParseAddr(ip.String())).Name
			if n, _ := ix.lookup(name); len(n.keys()) != 1 {
				t.Errorf("Test %d: %s has %d keys, want 1", i, name, len(n.keys()))
			}
			if n, _ := ix.lookup("_500." + name); len(n.ipsecas()) != 1 {
				t.Errorf("Test %d: _500.%s has %d IPSECA, want 1", i, name, len(n.ipsecas()))
			}
		}
		for _, name := range tc.names {
			if n, _ := ix.lookup(dns.Fqdn(name)); len(n.keys()) != 1 {
				t.Errorf("Test %d: %s has %d keys, want 1", i, name, len(n.keys()))
			}
		}
		if len(ix.keys) != 1 {
			t.Errorf("Test %d: %d keys packed, want 1", i, len(ix.keys))
		}
	}
}

// TestLargeCertificateIPSECA publishes the certificate itself (dane 3 0 0) while a key's
// IPSECA records fit in one message together, and leaves it out, with a reason, one octet
// past that; the digest of the real SubjectPublicKeyInfo is published either way, and
// nothing else.
func TestLargeCertificateIPSECA(t *testing.T) {
	both := []keyfile.DANE{{Usage: 3, Selector: 0, Matching: 0}, {Usage: 3, Selector: 1, Matching: 1}}
	digestRoom := rrOverhead + 3 + sha256.Size
	for i, tc := range []struct {
		size      int
		dane      []keyfile.DANE
		published bool
	}{
		{maxIPSECAData, []keyfile.DANE{{Usage: 3, Selector: 0, Matching: 0}}, true},
		{maxIPSECAData + 1, []keyfile.DANE{{Usage: 3, Selector: 0, Matching: 0}}, false},
		{maxIPSECAData - digestRoom, both, true},
		{maxIPSECAData - digestRoom + 1, both, false},
		{70_000, both, false},
		{300_000, both, false},
	} {
		der := e2e.CertOfSize(t, tc.size, "big.example.com")
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		e2e.WriteFile(t, filepath.Join(dir, "big.crt"), e2e.PEM("CERTIFICATE", der))
		o := &Options{Precedence: 10, Ports: []uint16{500}, DANE: tc.dane}
		files, ix := loadDir(t, dir, o)
		if files[0].Err != nil {
			t.Fatalf("Test %d: %v", i, files[0].Err)
		}
		n, _ := ix.lookup("_500.big.example.com.")
		var want []string
		if tc.published {
			want = append(want, fmt.Sprintf("3 0 0 %x", der))
		}
		if len(tc.dane) == 2 {
			spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
			want = append(want, fmt.Sprintf("3 1 1 %x", spki))
		}
		var got []string
		got = append(got, n.ipsecas()...)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("Test %d: %d-octet certificate: %d IPSECA records, want %d", i, tc.size, len(got), len(want))
		}
		warned := len(files[0].Warnings) == 1 && keyfile.Reason(files[0].Warnings[0]) == keyfile.ReasonSize
		if warned == tc.published {
			t.Errorf("Test %d: %d-octet certificate: warnings %v", i, tc.size, files[0].Warnings)
		}
		if len(ix.errors) != 0 {
			t.Errorf("Test %d: errors %v", i, ix.errors)
		}
	}
}

// TestKeyFieldLimit refuses a key whose IPSECKEY record could not travel in a message.
func TestKeyFieldLimit(t *testing.T) {
	for i, tc := range []struct {
		size int
		ok   bool
	}{
		{maxKeyField, true},
		{maxKeyField + 1, false},
		{70_000, false},
	} {
		// An RSA key field: exponent length, exponent 65537, modulus.
		mod := make([]byte, tc.size-4)
		for j := range mod {
			mod[j] = 0xff
		}
		field := append([]byte{3, 1, 0, 1}, mod...)
		dir := t.TempDir()
		e2e.WriteFile(t, filepath.Join(dir, "big.example.com.pub"), []byte("leftrsasigkey=0s"+base64.StdEncoding.EncodeToString(field)+"\n"))
		files, ix := loadDir(t, dir, &Options{Precedence: 10})
		err := files[0].Err
		if tc.ok && (err != nil || len(ix.keys) != 1) {
			t.Errorf("Test %d: %d-octet field refused: %v", i, tc.size, err)
		}
		if !tc.ok && (keyfile.Reason(err) != keyfile.ReasonSize || len(ix.keys) != 0) {
			t.Errorf("Test %d: %d-octet field: err %v, want refused for its size", i, tc.size, err)
		}
	}
}

// TestRRsetLimit leaves out the keys of a name that do not fit in one message, in the
// order of their files, and says so.
func TestRRsetLimit(t *testing.T) {
	per := ipseckeyWire(ed25519.PublicKeySize, 0)
	fit := maxRRsetWire / per
	for i, tc := range []struct {
		keys, want int
	}{
		{fit, fit},
		{fit + 1, fit},
		{2000, fit},
	} {
		dir := t.TempDir()
		bundle := e2e.Ed25519Bundle(t, tc.keys)
		e2e.WriteFile(t, filepath.Join(dir, "bundle.example.com.pem"), bundle)
		o := &Options{Precedence: 10, DANE: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}}
		_, ix := loadDir(t, dir, o)
		n, _ := ix.lookup("bundle.example.com.")
		if got := len(n.keys()); got != tc.want {
			t.Errorf("Test %d: %d keys published of %d, want %d", i, got, tc.keys, tc.want)
		}
		trimmed := len(ix.errors) == 1 && keyfile.Reason(ix.errors[0]) == keyfile.ReasonSize && strings.Contains(ix.errors[0].Error(), `"bundle.example.com.pem"`)
		if trimmed != (tc.keys > tc.want) {
			t.Errorf("Test %d: errors %v", i, ix.errors)
		}
		// What is kept fits: the RRset with four large signatures and the question.
		m := new(dns.Msg)
		m.SetQuestion("bundle.example.com.", dns.TypeIPSECKEY)
		m.Answer = ipseckeyRRs(n, "bundle.example.com.")
		if size := packedLen(t, m); size > maxRRsetWire+12+len("bundle.example.com.")+5 {
			t.Errorf("Test %d: answer of %d octets", i, size)
		}
	}
}

// packedLen is the size of m on the wire, compressed.
func packedLen(t testing.TB, m *dns.Msg) int {
	t.Helper()
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// TestGatewayRRsetLimit trims gateway records so that an address inside every prefix still
// gets an answer that fits.
func TestGatewayRRsetLimit(t *testing.T) {
	dir := t.TempDir()
	bundle := e2e.Ed25519Bundle(t, 1500)
	e2e.WriteFile(t, filepath.Join(dir, "gw.example.com.pem"), bundle)
	target := "a-rather-long-gateway-name-to-make-every-record-larger.example.com."
	e2e.WriteFile(t, filepath.Join(dir, target+"pem"), bundle)
	o := &Options{Precedence: 10, Gateways: []Gateway{
		{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Target: "gw.example.com.", Precedence: 1},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Target: target, Precedence: 2},
	}}
	_, ix := loadDir(t, dir, o)
	n, ok := ix.lookup("1.2.1.10.in-addr.arpa.")
	if !ok || len(n.gw) == 0 {
		t.Fatal("no gateway records")
	}
	m := new(dns.Msg)
	m.SetQuestion("1.2.1.10.in-addr.arpa.", dns.TypeIPSECKEY)
	m.Answer = ipseckeyRRs(n, "1.2.1.10.in-addr.arpa.")
	if size := packedLen(t, m); size > maxRRsetWire+64 {
		t.Errorf("gateway answer of %d octets", size)
	}
	if len(ix.errors) == 0 || keyfile.Reason(ix.errors[0]) != keyfile.ReasonSize {
		t.Errorf("errors %v, want the gateway trim", ix.errors)
	}
}

// TestBlobLimit leaves out a file whose keys would take the index past its limit, and
// keeps one that reaches it exactly.
func TestBlobLimit(t *testing.T) {
	dir := t.TempDir()
	e2e.WriteFile(t, filepath.Join(dir, "a.example.com.pem"), e2e.Vector(t, "keys/ed25519.pub.pem"))
	e2e.WriteFile(t, filepath.Join(dir, "b.example.com.pem"), e2e.Vector(t, "keys/ecp256.pub.pem"))
	o := &Options{Precedence: 10, Ports: []uint16{500}, DANE: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}}
	files, _, err := ReadDir(dir, nil, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := newBuilder(files, o)
	total := uint64(0)
	for _, f := range files {
		total += uint64(len(f.Path)) + b.need(nil, f.src, f.fid)
	}
	defer func(l uint64) { blobLimit = l }(blobLimit)
	for i, tc := range []struct {
		limit uint64
		keys  int
	}{
		{total, 2},
		{total - 1, 1},
	} {
		blobLimit = tc.limit
		files, _, _ := ReadDir(dir, nil, o, nil)
		ix := Build(files, o, nil)
		if len(ix.keys) != tc.keys || uint64(len(ix.blob)) > tc.limit {
			t.Errorf("Test %d: limit %d: %d keys, blob %d", i, tc.limit, len(ix.keys), len(ix.blob))
		}
		left := len(ix.errors) == 1 && strings.Contains(ix.errors[0].Error(), `"b.example.com.pem": left out`)
		if left != (tc.keys == 1) {
			t.Errorf("Test %d: errors %v", i, ix.errors)
		}
	}
}

// TestSharedOwnerNotice names the files that publish one name.
func TestSharedOwnerNotice(t *testing.T) {
	dir := t.TempDir()
	e2e.WriteFile(t, filepath.Join(dir, "gw.example.com.pem"), e2e.Vector(t, "keys/ed25519.pub.pem"))
	e2e.WriteFile(t, filepath.Join(dir, "tenant-b.crt"), e2e.PEM("CERTIFICATE", e2e.Cert(t, nil, []string{"gw.example.com"}, 0, 0)))
	e2e.WriteFile(t, filepath.Join(dir, "other.example.com.pem"), e2e.Vector(t, "keys/ecp256.pub.pem"))
	_, ix := loadDir(t, dir, &Options{Precedence: 10})
	want := `name "gw.example.com." is published from several files: "gw.example.com.pem", "tenant-b.crt"`
	if len(ix.notices) != 1 || ix.notices[0] != want {
		t.Errorf("notices %q, want %q", ix.notices, want)
	}
}

// hostOfLen is a host name whose FQDN, final dot included, is n octets long.
func hostOfLen(n int) string {
	var labels []string
	for rest := n - 1; rest > 0; rest -= 61 {
		labels = append(labels, strings.Repeat("a", min(60, rest)))
	}
	return strings.Join(labels, ".")
}

// TestPortNameAtLimit publishes IPSECA at _PORT.name when that name is 254 octets in
// presentation form with its final dot, the longest a name may be, and not at 255.
func TestPortNameAtLimit(t *testing.T) {
	ed := e2e.Vector(t, "keys/ed25519.pub.pem")
	for _, tc := range []struct {
		fqdn             int  // the host's FQDN length
		port65535, port1 bool // whether _65535.host and _1.host are published
	}{
		{246, true, true}, // 253 and 249
		{247, true, true}, // 254
		{248, false, true},
		{251, false, true}, // _1: 254
		{252, false, false},
	} {
		host := hostOfLen(tc.fqdn)
		if len(host)+1 != tc.fqdn {
			t.Fatalf("hostOfLen(%d) is %d long", tc.fqdn, len(host)+1)
		}
		dir := t.TempDir()
		e2e.WriteFile(t, filepath.Join(dir, host+".pem"), ed)
		o := &Options{Precedence: 10, Ports: []uint16{65535, 1}, DANE: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}}
		files, ix := loadDir(t, dir, o)
		if files[0].Err != nil {
			t.Fatalf("FQDN of %d octets: %v", tc.fqdn, files[0].Err)
		}
		want := 0
		for _, pc := range []struct {
			label     string
			published bool
		}{{"_65535.", tc.port65535}, {"_1.", tc.port1}} {
			n, _ := ix.lookup(pc.label + host + ".")
			if (len(n.ipsecas()) == 1) != pc.published {
				t.Errorf("FQDN of %d octets: %s has %d IPSECA, want it published: %v", tc.fqdn, pc.label, len(n.ipsecas()), pc.published)
			}
			if pc.published {
				want++
			}
		}
		if ix.records["IPSECA"] != want {
			t.Errorf("FQDN of %d octets: %d IPSECA records, want %d", tc.fqdn, ix.records["IPSECA"], want)
		}
	}
}
