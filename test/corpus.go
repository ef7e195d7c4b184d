package test

import (
	"path/filepath"
	"testing"
)

// The reasons the plugin gives for refusing a key file, as its load_errors_total metric
// labels them.
const (
	ReasonParse       = "parse"
	ReasonPrivate     = "private_key"
	ReasonWeak        = "weak_key"
	ReasonUnsupported = "unsupported_key"
	ReasonOwner       = "owner"
	ReasonSymlink     = "symlink"
	ReasonSize        = "size"
)

// BadFiles returns every file of testdata/bad and the reason it must be refused for.
func BadFiles() map[string]string {
	return map[string]string{
		"empty.pem":        ReasonParse,
		"junk.pem":         ReasonParse,
		"truncated.pem":    ReasonParse,
		"bad-base64.pem":   ReasonParse,
		"not-der.pem":      ReasonParse,
		"rsa-pkcs1.key":    ReasonPrivate,
		"pkcs8.key":        ReasonPrivate,
		"sec1.key":         ReasonPrivate,
		"openssh.key":      ReasonPrivate,
		"pub-and-priv.pem": ReasonPrivate,
		"rsa1024.pem":      ReasonWeak,
		"dsa2048.pem":      ReasonUnsupported,
		"p521.pem":         ReasonUnsupported,
		"x25519.pem":       ReasonUnsupported,
		"wildcard.crt":     ReasonOwner,
	}
}

// OperatorLayout returns a key directory as an operator lays it out (file name -> file of
// testdata/vectors): keys under addresses and names, DER and PEM, a certificate in a
// folder, IPSECA owners, an owner outside the zones, a hidden folder, and a private and a
// broken file that must not be published.
func OperatorLayout() map[string]string {
	return map[string]string{
		"192.0.2.1.pem":                "keys/rsa2048.pub.pem",
		"192.0.2.254.der":              "keys/lsw_rsa_122269ea.pub.der",
		"gw.example.com.pem":           "keys/ed25519.pub.pem",
		"certs/ns1-ecp256.crt":         "certs/ns1-ecp256.crt",
		"2001-db8--4.der":              "keys/ecp256.pub.der",
		"_500.host.example.com.pem":    "keys/ed25519.pub.pem",
		"_500.10.1.3.6.pem":            "keys/ed25519.pub.pem",
		"outside.example.net.pem":      "keys/ed25519.pub.pem",
		".hidden/192.0.2.99.pem":       "keys/ed25519.pub.pem",
		"bad/private-ecp256.pkcs8.pem": "bad/private-ecp256.pkcs8.pem",
		"bad/truncated.pub.pem":        "bad/truncated.pub.pem",
	}
}

// PublicLayout returns a key directory of public keys only (file name -> file of
// testdata), each under a name the file name rule reads as an owner: keys of the vectors in
// PEM and DER, a certificate in a folder, an address inside a gateway prefix, a key named
// by its reverse name, and Libreswan's showhostkey output as a config line and as a record.
func PublicLayout() map[string]string {
	return map[string]string{
		"192.0.2.1.pem":              "vectors/keys/rsa2048.pub.pem",
		"192.0.2.254.pem":            "vectors/keys/rsa2048.pub.pem", // the IPv4 gateway's key
		"gw.example.com.pem":         "vectors/keys/ed25519.pub.pem",
		"certs/ns1-ecp256.crt":       "vectors/certs/ns1-ecp256.crt", // SANs ns1.example.com, 192.0.2.1
		"2001-db8--d.der":            "vectors/keys/lsw_rsa_122269ea.pub.der",
		"4.2.0.192.in-addr.arpa.pem": "vectors/keys/ecp256.pub.pem",
		"192.0.2.5.pub":              "showhostkey/rsa.left",       // leftrsasigkey=0s...
		"ecdsa.example.com.pem":      "showhostkey/ecdsa.ipseckey", // an IPSECKEY record line
	}
}

// TestdataKeys writes files of testdata into a new temporary directory under the names of
// layout (file name -> file of testdata) and returns the directory.
func TestdataKeys(t testing.TB, layout map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for dst, src := range layout {
		WriteFile(t, filepath.Join(dir, dst), Testdata(t, src))
	}
	return dir
}

// VectorKeys is TestdataKeys for a layout of files of testdata/vectors.
func VectorKeys(t testing.TB, layout map[string]string) string {
	t.Helper()
	in := map[string]string{}
	for dst, src := range layout {
		in[dst] = filepath.Join("vectors", src)
	}
	return TestdataKeys(t, in)
}
