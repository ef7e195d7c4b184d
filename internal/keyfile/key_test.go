package keyfile

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
	"strings"
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
		{dns.RSASHA256, 2048, AlgRSA, "rsa"},
		{dns.RSASHA512, 4096, AlgRSA, "rsa"},
		{dns.ECDSAP256SHA256, 256, AlgECDSA, "ecdsa-p256"},
		{dns.ECDSAP384SHA384, 384, AlgECDSA, "ecdsa-p384"},
		{dns.ED25519, 256, AlgEdDSA, "ed25519"},
	}
	for i, tc := range tests {
		k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.org.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET}, Flags: 257, Protocol: 3, Algorithm: tc.dnsAlg}
		priv, err := k.Generate(tc.bits)
		if err != nil {
			t.Fatalf("Test %d: %v", i, err)
		}
		keys, err := Parse(nil, spkiPEM(t, priv.(crypto.Signer).Public()))
		if err != nil {
			t.Fatalf("Test %d: %v", i, err)
		}
		if len(keys) != 1 {
			t.Fatalf("Test %d: want 1 key, got %d", i, len(keys))
		}
		got := keys[0]
		if got.Algorithm != tc.alg || got.Kind != tc.kind {
			t.Errorf("Test %d: algorithm %d %s, want %d %s", i, got.Algorithm, got.Kind, tc.alg, tc.kind)
		}
		if b64 := base64.StdEncoding.EncodeToString(got.Field); b64 != k.PublicKey {
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
	keys, err := Parse(nil, e2e.Testdata(t, "keys/dsa1024.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	k := keys[0]
	if k.Algorithm != AlgDSA || len(k.Field) != 1+20+3*128 || k.Field[0] != 8 {
		t.Fatalf("DSA-1024: algorithm %d, %d bytes, T=%d; want 1, 405 bytes, T=8", k.Algorithm, len(k.Field), k.Field[0])
	}
	pub, _ := x509.ParsePKIXPublicKey(k.SPKI)
	d := pub.(*dsa.PublicKey)
	for i, want := range []*big.Int{d.Q, d.P, d.G, d.Y} {
		off, size := 1+20+128*(i-1), 128
		if i == 0 {
			off, size = 1, 20
		}
		if got := new(big.Int).SetBytes(k.Field[off : off+size]); got.Cmp(want) != 0 {
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
		if _, err := fromPublic(nil, pub, nil); Reason(err) != ReasonUnsupported {
			t.Errorf("Test %d: DSA %d/%d: want unsupported, got %v", i, pub.P.BitLen(), pub.Q.BitLen(), err)
		}
	}
}

func TestEd448(t *testing.T) {
	data := e2e.Testdata(t, "keys/ed448.pub.pem")
	keys, err := Parse(nil, data)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	k := keys[0]
	if k.Algorithm != AlgEdDSA || k.Kind != "ed448" || !bytes.Equal(k.Field, b.Bytes[len(b.Bytes)-57:]) {
		t.Errorf("Ed448: algorithm %d %s, field % x", k.Algorithm, k.Kind, k.Field)
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
		{"empty", nil, ReasonParse},
		{"blank", []byte("\n \n"), ReasonParse},
		{"junk", []byte("hello, world\n"), ReasonParse},
		{"truncated PEM", valid, ReasonParse},
		{"bad base64", []byte("-----BEGIN PUBLIC KEY-----\n@@@@\n-----END PUBLIC KEY-----\n"), ReasonParse},
		{"base64 not DER", pemBlock("PUBLIC KEY", []byte("not der at all")), ReasonParse},
		{"unknown block", pemBlock("DH PARAMETERS", []byte{1, 2, 3}), ReasonParse},
		{"RSA-1024", spkiPEM(t, &rsa1024.PublicKey), ReasonWeak},
		{"P-521", spkiPEM(t, &p521.PublicKey), ReasonUnsupported},
		{"X25519", spkiPEM(t, x25519.PublicKey()), ReasonUnsupported},
		{"X25519 openssl", e2e.Testdata(t, "keys/x25519.pub.pem"), ReasonUnsupported},
		{"X448 openssl", e2e.Testdata(t, "keys/x448.pub.pem"), ReasonUnsupported},
		{"DSA-1024 with 224-bit Q", e2e.Testdata(t, "keys/dsa1024-q224.pub.pem"), ReasonUnsupported},
		{"PKCS#1 private", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048)), ReasonPrivate},
		{"PKCS#8 private", pemBlock("PRIVATE KEY", pkcs8), ReasonPrivate},
		{"SEC1 private", pemBlock("EC PRIVATE KEY", sec1), ReasonPrivate},
		{"encrypted private", pemBlock("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), ReasonPrivate},
		{"OpenSSH private", e2e.Testdata(t, "keys/openssh-ed25519.key"), ReasonPrivate},
		{"public then private", append(spkiPEM(t, ed.Public()), pemBlock("PRIVATE KEY", pkcs8)...), ReasonPrivate},
		{"private then public", append(pemBlock("PRIVATE KEY", pkcs8), goodPub...), ReasonPrivate},
		{"truncated private", pemBlock("PRIVATE KEY", pkcs8)[:60], ReasonPrivate},
		{"BOM, private, public", append(append([]byte("\ufeff"), pemBlock("PRIVATE KEY", pkcs8)...), goodPub...), ReasonPrivate},
		{"text before a private header", append(append([]byte("tls.key: "), pemBlock("EC PRIVATE KEY", sec1)...), goodPub...), ReasonPrivate},
		{"damaged private header", []byte("0-----BEGIN PRIVATE KEY"), ReasonPrivate},
		{"DER PKCS#8 private", pkcs8, ReasonPrivate},
		{"DER PKCS#1 private", x509.MarshalPKCS1PrivateKey(rsa2048), ReasonPrivate},
		{"DER SEC1 private", sec1, ReasonPrivate},
		{"good then truncated", append(append([]byte{}, goodPub...), valid...), ReasonParse},
	}
	for _, tc := range tests {
		keys, err := Parse(nil, tc.data)
		if err == nil {
			t.Errorf("%s: accepted %d keys, want refusal", tc.name, len(keys))
			continue
		}
		if got := Reason(err); got != tc.reason {
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
	cert := e2e.Vector(t, "certs/ns1-ecp256.crt")
	certBlock, _ := pem.Decode(cert)

	tests := []struct {
		name  string
		data  []byte
		algs  []uint8
		certs int
	}{
		{"SPKI PEM", pemBlock("PUBLIC KEY", spki), []uint8{AlgRSA}, 0},
		{"SPKI DER", spki, []uint8{AlgRSA}, 0},
		{"PKCS#1 PEM", pemBlock("RSA PUBLIC KEY", pkcs1), []uint8{AlgRSA}, 0},
		{"PKCS#1 DER", pkcs1, []uint8{AlgRSA}, 0},
		{"certificate PEM", cert, []uint8{AlgECDSA}, 1},
		{"certificate DER", certBlock.Bytes, []uint8{AlgECDSA}, 1},
		{"three blocks", bytes.Join([][]byte{spkiPEM(t, &p384.PublicKey), spkiPEM(t, edPub), cert}, []byte("\n")), []uint8{AlgECDSA, AlgEdDSA, AlgECDSA}, 1},
		{"text around blocks", append([]byte("subject=CN = ns1.example.com\n"), cert...), []uint8{AlgECDSA}, 1},
	}
	for _, tc := range tests {
		keys, err := Parse(nil, tc.data)
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
			if k.Algorithm != tc.algs[i] {
				t.Errorf("%s: key %d algorithm %d, want %d", tc.name, i, k.Algorithm, tc.algs[i])
			}
			if k.Cert != nil {
				certs++
			}
		}
		if certs != tc.certs {
			t.Errorf("%s: %d certificates, want %d", tc.name, certs, tc.certs)
		}
	}
	// PKCS#1 and SPKI forms of one key give one field and one SPKI.
	a, _ := Parse(nil, pemBlock("PUBLIC KEY", spki))
	b, _ := Parse(nil, pemBlock("RSA PUBLIC KEY", pkcs1))
	if !bytes.Equal(a[0].Field, b[0].Field) || !bytes.Equal(a[0].SPKI, b[0].SPKI) {
		t.Error("PKCS#1 and SPKI forms of one key differ")
	}
}

// TestHoldsPrivateKey finds "PRIVATE KEY" wherever it is, as bytes.Contains does.
func TestHoldsPrivateKey(t *testing.T) {
	for _, text := range []string{
		"", "PRIVATE KEY", "-----BEGIN PRIVATE KEY-----\nAAEC\n", "-----BEGIN RSA PRIVATE KEY-----",
		"-----BEGIN ENCRYPTED PRIVATE KEY-----", "x PRIVATE KEYx", "PRIVATE  KEY", "PRIVATEKEY",
		"-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n", " KEY", "PRIVATE KE",
		"RIVATE KEY", " KEY PRIVATE KEY", "PRIVATE KEY KEY", "-----BEGIN PUBLIC KEY-----\n-----BEGIN PRIVATE KEY-----\n",
		strings.Repeat("PPPP", 100) + "PRIVATE KEY", strings.Repeat("PRIVATE", 50),
	} {
		if got, want := holdsPrivateKey([]byte(text)), strings.Contains(text, "PRIVATE KEY"); got != want {
			t.Errorf("holdsPrivateKey(%q) = %v, want %v", text, got, want)
		}
	}
}
