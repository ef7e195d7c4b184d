package ipsecoe

import (
	"bytes"
	"crypto"
	"crypto/dsa" //nolint:staticcheck // DSA is IPSECKEY algorithm 1
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/miekg/dns"
)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func spkiPEM(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PUBLIC KEY", der)
}

// TestKeyFieldMatchesDNSKEY checks that the IPSECKEY key field is byte-identical to the
// DNSKEY public key miekg/dns makes for the same key, algorithm by algorithm.
func TestKeyFieldMatchesDNSKEY(t *testing.T) {
	tests := []struct {
		dnsAlg uint8
		bits   int
		alg    uint8
		kind   string
	}{
		{dns.RSASHA256, 2048, algRSA, "rsa"},
		{dns.RSASHA512, 4096, algRSA, "rsa"},
		{dns.ECDSAP256SHA256, 256, algECDSA, "ecdsa-p256"},
		{dns.ECDSAP384SHA384, 384, algECDSA, "ecdsa-p384"},
		{dns.ED25519, 256, algEdDSA, "ed25519"},
	}
	for i, tc := range tests {
		k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.org.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET}, Flags: 257, Protocol: 3, Algorithm: tc.dnsAlg}
		priv, err := k.Generate(tc.bits)
		if err != nil {
			t.Fatalf("Test %d: %v", i, err)
		}
		keys, err := parseKeyFile(spkiPEM(t, priv.(crypto.Signer).Public()))
		if err != nil {
			t.Fatalf("Test %d: %v", i, err)
		}
		if len(keys) != 1 {
			t.Fatalf("Test %d: want 1 key, got %d", i, len(keys))
		}
		got := keys[0]
		if got.algorithm != tc.alg || got.kind != tc.kind {
			t.Errorf("Test %d: algorithm %d %s, want %d %s", i, got.algorithm, got.kind, tc.alg, tc.kind)
		}
		if b64 := base64.StdEncoding.EncodeToString(got.field()); b64 != k.PublicKey {
			t.Errorf("Test %d: key field\n%s\nwant the DNSKEY's\n%s", i, b64, k.PublicKey)
		}
	}
}

func TestRSAExponentForms(t *testing.T) {
	n := new(big.Int).Lsh(big.NewInt(1), 2047)
	n.Add(n, big.NewInt(1))
	tests := []struct {
		e      int
		prefix []byte
	}{
		{3, []byte{1, 3}},
		{65537, []byte{3, 1, 0, 1}},
	}
	for i, tc := range tests {
		f := rsaField(&rsa.PublicKey{N: n, E: tc.e})
		if !bytes.HasPrefix(f, tc.prefix) {
			t.Errorf("Test %d: field starts % x, want % x", i, f[:len(tc.prefix)], tc.prefix)
		}
		if len(f) != len(tc.prefix)+256 {
			t.Errorf("Test %d: field is %d bytes, want %d", i, len(f), len(tc.prefix)+256)
		}
	}
}

func TestDSAField(t *testing.T) {
	keys, err := parseKeyFile(readTestdata(t, "keys/dsa1024.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	k := keys[0]
	if k.algorithm != algDSA || len(k.field()) != 1+20+3*128 || k.field()[0] != 8 {
		t.Fatalf("DSA-1024: algorithm %d, %d bytes, T=%d; want 1, 405 bytes, T=8", k.algorithm, len(k.field()), k.field()[0])
	}
	pub, _ := x509.ParsePKIXPublicKey(k.spki)
	d := pub.(*dsa.PublicKey)
	for i, want := range []*big.Int{d.Q, d.P, d.G, d.Y} {
		off, size := 1+20+128*(i-1), 128
		if i == 0 {
			off, size = 1, 20
		}
		if got := new(big.Int).SetBytes(k.field()[off : off+size]); got.Cmp(want) != 0 {
			t.Errorf("DSA field %d does not hold the key's value", i)
		}
	}

	// RFC 2536 has no encoding for P over 1024 bits or Q other than 160.
	big2048 := new(big.Int).Lsh(big.NewInt(1), 2047)
	q224 := new(big.Int).Lsh(big.NewInt(1), 223)
	q160 := new(big.Int).Lsh(big.NewInt(1), 159)
	for i, pub := range []*dsa.PublicKey{
		{Parameters: dsa.Parameters{P: big2048, Q: q224, G: big.NewInt(2)}, Y: big.NewInt(5)},
		{Parameters: dsa.Parameters{P: big2048, Q: q160, G: big.NewInt(2)}, Y: big.NewInt(5)},
	} {
		if _, err := fromPublic(pub, nil); reasonOf(err) != reasonUnsupported {
			t.Errorf("Test %d: DSA %d/%d: want unsupported, got %v", i, pub.P.BitLen(), pub.Q.BitLen(), err)
		}
	}
}

func TestEd448(t *testing.T) {
	data := readTestdata(t, "keys/ed448.pub.pem")
	keys, err := parseKeyFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	k := keys[0]
	if k.algorithm != algEdDSA || k.kind != "ed448" || !bytes.Equal(k.field(), b.Bytes[len(b.Bytes)-57:]) {
		t.Errorf("Ed448: algorithm %d %s, field % x", k.algorithm, k.kind, k.field())
	}
}

func TestRefusals(t *testing.T) {
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(p256)
	sec1, _ := x509.MarshalECPrivateKey(p256)
	goodPub := spkiPEM(t, &rsa2048.PublicKey)
	valid := goodPub[:len(goodPub)/2]

	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"empty", nil, reasonParse},
		{"blank", []byte("\n \n"), reasonParse},
		{"junk", []byte("hello, world\n"), reasonParse},
		{"truncated PEM", valid, reasonParse},
		{"bad base64", []byte("-----BEGIN PUBLIC KEY-----\n@@@@\n-----END PUBLIC KEY-----\n"), reasonParse},
		{"base64 not DER", pemBlock("PUBLIC KEY", []byte("not der at all")), reasonParse},
		{"unknown block", pemBlock("DH PARAMETERS", []byte{1, 2, 3}), reasonParse},
		{"RSA-1024", spkiPEM(t, &rsa1024.PublicKey), reasonWeak},
		{"P-521", spkiPEM(t, &p521.PublicKey), reasonUnsupported},
		{"X25519", spkiPEM(t, x25519.PublicKey()), reasonUnsupported},
		{"X25519 openssl", readTestdata(t, "keys/x25519.pub.pem"), reasonUnsupported},
		{"X448 openssl", readTestdata(t, "keys/x448.pub.pem"), reasonUnsupported},
		{"DSA-1024 with 224-bit Q", readTestdata(t, "keys/dsa1024-q224.pub.pem"), reasonUnsupported},
		{"PKCS#1 private", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048)), reasonPrivate},
		{"PKCS#8 private", pemBlock("PRIVATE KEY", pkcs8), reasonPrivate},
		{"SEC1 private", pemBlock("EC PRIVATE KEY", sec1), reasonPrivate},
		{"encrypted private", pemBlock("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), reasonPrivate},
		{"OpenSSH private", readTestdata(t, "keys/openssh-ed25519.key"), reasonPrivate},
		{"public then private", append(spkiPEM(t, ed.Public()), pemBlock("PRIVATE KEY", pkcs8)...), reasonPrivate},
		{"private then public", append(pemBlock("PRIVATE KEY", pkcs8), goodPub...), reasonPrivate},
		{"truncated private", pemBlock("PRIVATE KEY", pkcs8)[:60], reasonPrivate},
		{"BOM, private, public", append(append([]byte("\ufeff"), pemBlock("PRIVATE KEY", pkcs8)...), goodPub...), reasonPrivate},
		{"text before a private header", append(append([]byte("tls.key: "), pemBlock("EC PRIVATE KEY", sec1)...), goodPub...), reasonPrivate},
		{"damaged private header", []byte("0-----BEGIN PRIVATE KEY"), reasonPrivate},
		{"DER PKCS#8 private", pkcs8, reasonPrivate},
		{"DER PKCS#1 private", x509.MarshalPKCS1PrivateKey(rsa2048), reasonPrivate},
		{"DER SEC1 private", sec1, reasonPrivate},
		{"good then truncated", append(append([]byte{}, goodPub...), valid...), reasonParse},
	}
	for _, tc := range tests {
		keys, err := parseKeyFile(tc.data)
		if err == nil {
			t.Errorf("%s: accepted %d keys, want refusal", tc.name, len(keys))
			continue
		}
		if got := reasonOf(err); got != tc.reason {
			t.Errorf("%s: reason %q (%v), want %q", tc.name, got, err, tc.reason)
		}
		if keys != nil {
			t.Errorf("%s: refused but returned keys", tc.name)
		}
	}
}

func TestAcceptedForms(t *testing.T) {
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(&rsa2048.PublicKey)
	pkcs1 := x509.MarshalPKCS1PublicKey(&rsa2048.PublicKey)
	cert := readVector(t, "certs/ns1-ecp256.crt")
	certBlock, _ := pem.Decode(cert)

	tests := []struct {
		name  string
		data  []byte
		algs  []uint8
		certs int
	}{
		{"SPKI PEM", pemBlock("PUBLIC KEY", spki), []uint8{algRSA}, 0},
		{"SPKI DER", spki, []uint8{algRSA}, 0},
		{"PKCS#1 PEM", pemBlock("RSA PUBLIC KEY", pkcs1), []uint8{algRSA}, 0},
		{"PKCS#1 DER", pkcs1, []uint8{algRSA}, 0},
		{"certificate PEM", cert, []uint8{algECDSA}, 1},
		{"certificate DER", certBlock.Bytes, []uint8{algECDSA}, 1},
		{"three blocks", bytes.Join([][]byte{spkiPEM(t, &p384.PublicKey), spkiPEM(t, edPub), cert}, []byte("\n")), []uint8{algECDSA, algEdDSA, algECDSA}, 1},
		{"text around blocks", append([]byte("subject=CN = ns1.example.com\n"), cert...), []uint8{algECDSA}, 1},
	}
	for _, tc := range tests {
		keys, err := parseKeyFile(tc.data)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(keys) != len(tc.algs) {
			t.Errorf("%s: %d keys, want %d", tc.name, len(keys), len(tc.algs))
			continue
		}
		certs := 0
		for i, k := range keys {
			if k.algorithm != tc.algs[i] {
				t.Errorf("%s: key %d algorithm %d, want %d", tc.name, i, k.algorithm, tc.algs[i])
			}
			if k.cert != nil {
				certs++
			}
		}
		if certs != tc.certs {
			t.Errorf("%s: %d certificates, want %d", tc.name, certs, tc.certs)
		}
	}
	// PKCS#1 and SPKI forms of one key give one field and one SPKI.
	a, _ := parseKeyFile(pemBlock("PUBLIC KEY", spki))
	b, _ := parseKeyFile(pemBlock("RSA PUBLIC KEY", pkcs1))
	if !bytes.Equal(a[0].field(), b[0].field()) || !bytes.Equal(a[0].spki, b[0].spki) {
		t.Error("PKCS#1 and SPKI forms of one key differ")
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	return e2e.Testdata(t, name)
}

// vectorsDir holds keys and the record bytes other tools confirmed for them (testdata/README.md).
var vectorsDir = filepath.Join("testdata", "vectors")

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	return e2e.Vector(t, name)
}
