package keyfile

// Fuzz targets for the parsers. `go test` runs their seed corpora (and every input kept
// under testdata/fuzz/<FuzzName>/) as ordinary tests; fuzz one of them with e.g.
//
//	go test -run XXX -fuzz FuzzParseKeyFile -fuzztime 60s ./internal/keyfile

import (
	"bytes"
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

	e2e "github.com/ipsecoe/ipsecoe/test"

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
		e2e.Repo("testdata", "vectors", "keys"),
		e2e.Repo("testdata", "vectors", "certs"),
		e2e.Repo("testdata", "vectors", "bad"),
		e2e.Repo("testdata", "keys"),
		e2e.Repo("testdata", "bad"),
	} {
		fzAddFiles(f, dir)
	}
	// Key files in other formats, where the repository has them.
	for _, dir := range []string{e2e.Repo("testdata", "libreswan"), e2e.Repo("testdata", "showhostkey")} {
		if _, err := os.Stat(dir); err == nil {
			fzAddFiles(f, dir)
		}
	}
	// File shapes editors and pasting make: CRLF lines, a byte order mark, indented armor, a
	// private key before a public one, a bare DER private key.
	pub, priv := e2e.Vector(f, "keys/ecp256.pub.pem"), e2e.Vector(f, "bad/private-ecp256.pkcs8.pem")
	f.Add(bytes.ReplaceAll(bytes.Join([][]byte{pub, priv}, nil), []byte("\n"), []byte("\r\n")))
	f.Add(bytes.Join([][]byte{[]byte("\xef\xbb\xbf"), pub}, nil))
	f.Add(bytes.Join([][]byte{[]byte("  "), priv, pub}, nil))
	f.Add(bytes.Join([][]byte{priv, pub}, nil))
	f.Add(bytes.Join([][]byte{[]byte("x"), pub}, nil))
	if b, _ := pem.Decode(priv); b != nil {
		f.Add(b.Bytes)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := Parse(nil, data)
		private := fzPrivateArmor(data)
		if err != nil {
			if keys != nil {
				t.Fatalf("error %v with %d keys, want nil keys", err, len(keys))
			}
			if private && Reason(err) != ReasonPrivate {
				t.Fatalf("a BEGIN line names a PRIVATE KEY, refused with reason %q (%v), want %q", Reason(err), err, ReasonPrivate)
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
				t.Fatalf("key %d (%s, algorithm %d, field %d bytes): %s", i, k.Kind, k.Algorithm, len(k.Field), err)
			}
		}
	})
}

// fzCheckKey checks one parsed key: the algorithm, a field whose length fits it, and the
// field against the public key of the SubjectPublicKeyInfo it came from.
func fzCheckKey(k *Key) string {
	if k.Algorithm < AlgDSA || k.Algorithm > AlgEdDSA {
		return "algorithm outside 1-4"
	}
	if len(k.Field) == 0 {
		return "empty key field"
	}
	if len(k.SPKI) == 0 {
		return "empty SubjectPublicKeyInfo"
	}
	if k.Cert != nil {
		c, err := x509.ParseCertificate(k.Cert)
		if err != nil {
			return "certificate does not parse: " + err.Error()
		}
		if !bytes.Equal(c.RawSubjectPublicKeyInfo, k.SPKI) {
			return "spki is not the certificate's"
		}
	}
	f := k.Field
	pub, perr := x509.ParsePKIXPublicKey(k.SPKI)
	switch k.Algorithm {
	case AlgRSA:
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
		if k.Kind != "rsa" {
			return "RSA key of kind " + k.Kind
		}
		rk, ok := pub.(*rsa.PublicKey)
		if perr != nil || !ok {
			return "spki is not an RSA key"
		}
		if new(big.Int).SetBytes(n).Cmp(rk.N) != 0 || new(big.Int).SetBytes(e).Cmp(big.NewInt(int64(rk.E))) != 0 {
			return "RSA field does not match the spki"
		}
	case AlgECDSA:
		if !(len(f) == 64 && k.Kind == "ecdsa-p256" || len(f) == 96 && k.Kind == "ecdsa-p384") {
			return "ECDSA field length does not fit kind " + k.Kind
		}
		ek, ok := pub.(*ecdsa.PublicKey)
		if perr != nil || !ok {
			return "spki is not an ECDSA key"
		}
		point, err := ek.Bytes()
		if err != nil || !bytes.Equal(point[1:], f) {
			return "ECDSA field does not match the spki"
		}
	case AlgEdDSA:
		switch {
		case len(f) == 32 && k.Kind == "ed25519":
			ek, ok := pub.(ed25519.PublicKey)
			if perr != nil || !ok || !bytes.Equal(ek, f) {
				return "Ed25519 field does not match the spki"
			}
		case len(f) == 57 && k.Kind == "ed448":
			if !bytes.HasSuffix(k.SPKI, f) || !bytes.Contains(k.SPKI, []byte{0x06, 0x03, 0x2b, 0x65, 0x71}) {
				return "Ed448 field does not match the spki"
			}
		default:
			return "EdDSA field length does not fit kind " + k.Kind
		}
	case AlgDSA:
		t := int(f[0])
		if t > 8 || len(f) != 1+20+3*(64+8*t) || k.Kind != "dsa" {
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
		o, err := OwnerFromFileName(base)
		if err != nil {
			if Reason(err) != ReasonOwner {
				t.Fatalf("refused with reason %q, want %q: %v", Reason(err), ReasonOwner, err)
			}
			return
		}
		if o.Name == "" || !dns.IsFqdn(o.Name) || strings.ToLower(o.Name) != o.Name {
			t.Fatalf("owner %q is not a lower-case FQDN", o.Name)
		}
		if _, ok := dns.IsDomainName(o.Name); !ok || strings.Contains(o.Name, `\`) {
			t.Fatalf("owner %q (%d characters) is not a domain name", o.Name, len(o.Name))
		}
		// dns.IsDomainName lets a name one octet too long through: count the wire octets.
		wire := 1
		for _, l := range dns.SplitDomainName(o.Name) {
			wire += 1 + len(l)
		}
		if wire > 255 {
			t.Fatalf("owner %q is %d octets on the wire, over 255", o.Name, wire)
		}
		rest := o.Name
		if o.Port != 0 {
			prefix := "_" + strconv.Itoa(int(o.Port)) + "."
			if !strings.HasPrefix(o.Name, prefix) {
				t.Fatalf("owner %q of port %d does not start with %q", o.Name, o.Port, prefix)
			}
			rest = o.Name[len(prefix):]
		} else if strings.HasPrefix(o.Name, "_") {
			t.Fatalf("owner %q without a port starts with _", o.Name)
		}
		if o.Addr.IsValid() {
			if o.Addr.Zone() != "" || o.Addr.Is4In6() {
				t.Fatalf("owner %q: address %v has a zone or is IPv4-mapped", o.Name, o.Addr)
			}
			if back := AddrOwner(o.Addr); back.Name != rest || back.Addr != o.Addr {
				t.Fatalf("owner %q: address %v gives back %q", o.Name, o.Addr, back.Name)
			}
			return
		}
		if IsReverseZone(rest) || dns.CountLabel(rest) < 2 || !IsHostName(rest) {
			t.Fatalf("host owner %q is a reverse name or not a host name of two labels", o.Name)
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

// rev6base is the reverse name of 2001:db8::.
const rev6base = "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."

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
		p, ok := ReversePrefix(name)
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
		if a, full, ok := ParseReverse(name); !ok || full != p.IsSingleIP() || a != p.Addr() {
			t.Fatalf("%q: ParseReverse %v %v %v disagrees with ReversePrefix %v", name, a, full, ok, p)
		}
	})
}
