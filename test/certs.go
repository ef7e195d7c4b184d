package test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"testing"
	"time"
)

// Cert makes a self-signed Ed25519 certificate (its signature has a fixed size, so its
// size is known) with the given SANs and, when pad > 0, a non-critical extension of an
// unknown type holding pad octets of fill.
func Cert(t testing.TB, ips []net.IP, names []string, pad int, fill byte) []byte {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ipsecoe test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  ips,
		DNSNames:     names,
	}
	if pad > 0 {
		value := make([]byte, pad)
		for i := range value {
			value[i] = fill
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1}, Value: value}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// CertOfSize makes a certificate for names of exactly size octets of DER.
func CertOfSize(t testing.TB, size int, names ...string) []byte {
	t.Helper()
	pad := size - len(Cert(t, nil, names, 1, 0)) + 1
	for range 8 {
		der := Cert(t, nil, names, pad, 0)
		if len(der) == size {
			return der
		}
		pad += size - len(der)
	}
	t.Fatalf("no certificate of %d octets", size)
	return nil
}

// PEM encodes der as one PEM block of type typ.
func PEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// Addrs returns n addresses counting up from first.
func Addrs(first string, n int) []net.IP {
	a := netip.MustParseAddr(first)
	out := make([]net.IP, n)
	for i := range out {
		out[i] = net.IP(a.AsSlice())
		a = a.Next()
	}
	return out
}

// Ed25519Bundle returns n fresh Ed25519 public keys, one PEM block each, in one file.
func Ed25519Bundle(t testing.TB, n int) []byte {
	t.Helper()
	var out []byte
	for range n {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		spki, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, PEM("PUBLIC KEY", spki)...)
	}
	return out
}
