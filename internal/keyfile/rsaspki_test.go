package keyfile

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"
)

// spkiOf encodes an RSA key the way crypto/x509 does.
func spkiOf(t testing.TB, n *big.Int, e int) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: e})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// checkRSAFast fails t when the fast reader accepts spki and crypto/x509 does not, or when
// the two give different key fields or sizes.
func checkRSAFast(t *testing.T, spki []byte) (accepted bool) {
	t.Helper()
	field, bits, ok := rsaFromSPKI(nil, spki)
	if !ok {
		return false
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatalf("fast reader accepts what crypto/x509 refuses (%v): %x", err, spki)
	}
	rk, isRSA := pub.(*rsa.PublicKey)
	if !isRSA {
		t.Fatalf("fast reader accepts a %T as RSA", pub)
	}
	if want := rsaField(rk); !bytes.Equal(field, want) || bits != rk.N.BitLen() {
		t.Fatalf("fast reader: %d bits, field %x; crypto/x509: %d bits, field %x", bits, field, rk.N.BitLen(), want)
	}
	return true
}

func TestRSAFromSPKI(t *testing.T) {
	two := new(big.Int).Lsh(big.NewInt(1), 2047)
	mod := new(big.Int).Add(two, big.NewInt(12345))
	vec, _ := pem.Decode(e2e.Vector(t, "keys/rsa2048.pub.pem"))
	good := spkiOf(t, mod, 65537)
	tests := []struct {
		name string
		spki []byte
		ok   bool
	}{
		{"vector", vec.Bytes, true},
		{"e=65537", good, true},
		{"e=3", spkiOf(t, mod, 3), true},
		{"e=2^31-1", spkiOf(t, mod, 1<<31-1), true},
		{"1024 bits", spkiOf(t, new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 1023), big.NewInt(1)), 65537), true},
		{"4096 bits", spkiOf(t, new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 4095), big.NewInt(1)), 65537), true},
		{"odd size", spkiOf(t, new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 2050), big.NewInt(7)), 65537), true},
		{"trailing byte", append(bytes.Clone(good), 0), false},
		{"truncated", good[:len(good)-1], false},
		{"empty", nil, false},
		{"P-256 key", mustPEM(t, e2e.Vector(t, "keys/ecp256.pub.pem")), false},
		{"Ed25519 key", mustPEM(t, e2e.Vector(t, "keys/ed25519.pub.pem")), false},
		{"no NULL parameters", bytes.Replace(good, []byte{0x01, 0x01, 0x05, 0x00}, []byte{0x01, 0x01}, 1), false},
	}
	for _, tc := range tests {
		if got := checkRSAFast(t, tc.spki); got != tc.ok {
			t.Errorf("%s: fast reader ok = %v, want %v", tc.name, got, tc.ok)
		}
	}
	// Every single-byte change of a good key: where the fast reader still accepts, crypto/x509
	// must accept it too and agree on the field.
	for i := range good {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(good)
			b[i] ^= x
			checkRSAFast(t, b)
		}
	}
}

func TestPositiveInteger(t *testing.T) {
	tests := []struct {
		in   []byte
		want []byte
		ok   bool
	}{
		{[]byte{0x01}, []byte{0x01}, true},
		{[]byte{0x00, 0x80}, []byte{0x80}, true},
		{[]byte{0x7f, 0xff}, []byte{0x7f, 0xff}, true},
		{[]byte{0x00}, nil, false},       // zero
		{[]byte{0x80}, nil, false},       // negative
		{[]byte{0x00, 0x7f}, nil, false}, // not minimal
		{nil, nil, false},
	}
	for i, tc := range tests {
		got, ok := positiveInteger(tc.in)
		if ok != tc.ok || !bytes.Equal(got, tc.want) {
			t.Errorf("Test %d: %x gives %x, %v; want %x, %v", i, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzRSAFromSPKI(f *testing.F) {
	for _, name := range []string{"keys/rsa2048.pub.pem", "keys/lsw_rsa_122269ea.pub.pem", "keys/ecp256.pub.pem"} {
		if b, _ := pem.Decode(e2e.Vector(f, name)); b != nil {
			f.Add(b.Bytes)
		}
	}
	f.Fuzz(func(t *testing.T, spki []byte) { checkRSAFast(t, spki) })
}

func mustPEM(t testing.TB, data []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}
