package test

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// The expected record bytes of the tests come from testdata/vectors, or are computed here
// from the keys with miekg/dns and the standard library, never with the plugin's code.

// Reverse returns the reverse name of an address.
func Reverse(t testing.TB, addr string) string {
	t.Helper()
	r, err := dns.ReverseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// RDATA returns the RDATA of rr in wire form.
func RDATA(t testing.TB, rr dns.RR) []byte {
	t.Helper()
	buf := make([]byte, dns.MaxMsgSize)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("packing %s: %v", rr, err)
	}
	return buf[n-int(rr.Header().Rdlength) : n]
}

// NameHex returns the hex of name packed without compression, as a gateway inside RDATA.
func NameHex(t testing.TB, name string) string {
	t.Helper()
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(buf[:n])
}

// KeyHex returns the hex of an IPSECKEY RDATA without gateway: header, the hex of its
// precedence, gateway type and algorithm, then the key field given in base64.
func KeyHex(t testing.TB, header, b64 string) string {
	t.Helper()
	rr, err := dns.NewRR(". IN IPSECKEY 1 0 1 . " + b64)
	if err != nil {
		t.Fatal(err)
	}
	// The RDATA of "IPSECKEY 1 0 1 . KEY" is 01 00 01 then the key: swap the header.
	return header + hex.EncodeToString(RDATA(t, rr)[3:])
}

// IPSECA311 returns the RDATA hex of "IPSECA 3 1 1" for a SubjectPublicKeyInfo.
func IPSECA311(spki []byte) string {
	sum := sha256.Sum256(spki)
	return "030101" + hex.EncodeToString(sum[:])
}

// RSAHostKey returns the RDATA hex of "IPSECKEY 10 0 2 . KEY" for an RSA key with e = 65537.
func RSAHostKey(t testing.TB, pub *rsa.PublicKey) string {
	t.Helper()
	if pub.E != 65537 {
		t.Fatalf("exponent %d, want 65537", pub.E)
	}
	return "0a0002" + hex.EncodeToString(RFC3110(pub))
}

// RFC3110 returns an RSA public key in the form of RFC 3110, the key field of IPSECKEY
// algorithm 2: the exponent's length in one octet (keys here have short exponents), the
// exponent, the modulus.
func RFC3110(pub *rsa.PublicKey) []byte {
	e := big.NewInt(int64(pub.E)).Bytes()
	return append(append([]byte{byte(len(e))}, e...), pub.N.Bytes()...)
}

// NewRR parses one record of presentation text.
func NewRR(t testing.TB, text string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(text)
	if err != nil || rr == nil {
		t.Fatalf("dns.NewRR(%q): %v", text, err)
	}
	return rr
}

// RDataHex returns the RDATA of rr in wire form, in lower-case hex.
func RDataHex(t testing.TB, rr dns.RR) string {
	t.Helper()
	return hex.EncodeToString(RDATA(t, rr))
}

// CanonicalCompare orders two lower-case names as DNSSEC does (RFC 4034 6.1): label by
// label from the right, a name before the names below it.
func CanonicalCompare(a, b string) int {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := strings.Compare(la[i], lb[j]); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}
