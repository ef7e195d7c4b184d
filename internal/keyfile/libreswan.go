package keyfile

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"strings"

	"github.com/miekg/dns"
)

// Libreswan prints a host's public key as a config line (ipsec showhostkey --left/--right):
//
//	leftrsasigkey=0sAwEAAc...   (RFC 3110 RSA)
//	leftecdsakey=0sHNNIzW...    (the ECDSA point X‖Y)
//
// or as a record (--ipseckey): "host. IN IPSECKEY 10 0 2 . AwEAAc...". Such a file can be
// dropped into the key directory as it is; its owner comes from the file name.

// isLibreswanText reports whether data looks like one of those forms.
func isLibreswanText(data []byte) bool {
	return bytes.Contains(data, []byte("sigkey=")) || bytes.Contains(data, []byte("ecdsakey=")) ||
		bytes.Contains(data, []byte("IPSECKEY"))
}

// parseLibreswan reads every key line of data. Comment lines (#) and blank lines are
// skipped; any other line refuses the file, so nothing is silently dropped.
func parseLibreswan(data []byte) ([]*Key, error) {
	var keys []*Key
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1) // no line is longer than the file
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		var (
			k   *Key
			err error
		)
		if name, value, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(name, " \t") {
			k, err = fromConfigLine(strings.ToLower(name), value)
		} else {
			k, err = fromIPSECKEYText(line)
		}
		if err != nil {
			return nil, Refuse(Reason(err), "line %d: %v", n, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, Refuse(ReasonParse, "%v", err)
	}
	if len(keys) == 0 {
		return nil, Refuse(ReasonParse, "no key line")
	}
	return keys, nil
}

// fromConfigLine reads "leftrsasigkey=0s..." or "leftecdsakey=0s..." (left or right).
func fromConfigLine(name, value string) (*Key, error) {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "left"), "right")
	value = strings.TrimSpace(value)
	if !strings.HasPrefix(value, "0s") {
		return nil, Refuse(ReasonParse, "%s: only the base64 (0s) form is read", name)
	}
	raw, err := base64.StdEncoding.DecodeString(value[2:])
	if err != nil {
		return nil, Refuse(ReasonParse, "%s: bad base64", name)
	}
	switch name {
	case "rsasigkey":
		return fromField(AlgRSA, raw)
	case "ecdsakey":
		return fromField(AlgECDSA, raw)
	}
	return nil, Refuse(ReasonParse, "unknown key line %q", name)
}

// fromIPSECKEYText reads one IPSECKEY record in presentation form and takes its key.
func fromIPSECKEYText(line string) (*Key, error) {
	rr, err := dns.NewRR(line)
	if err != nil || rr == nil {
		return nil, Refuse(ReasonParse, "not an IPSECKEY record")
	}
	r, ok := rr.(*dns.IPSECKEY)
	if !ok {
		return nil, Refuse(ReasonParse, "a %s record, not IPSECKEY", dns.TypeToString[rr.Header().Rrtype])
	}
	raw, err := base64.StdEncoding.DecodeString(r.PublicKey)
	if err != nil {
		return nil, Refuse(ReasonParse, "bad base64 key")
	}
	return fromField(r.Algorithm, raw)
}

// fromField turns an IPSECKEY public key field back into a key, then builds it again the
// way every other key is built, so the same checks apply (key size, curve).
func fromField(alg uint8, f []byte) (*Key, error) {
	var pub any
	switch alg {
	case AlgRSA:
		if len(f) < 3 {
			return nil, Refuse(ReasonParse, "short RSA key")
		}
		elen, off := int(f[0]), 1
		if elen == 0 {
			elen, off = int(f[1])<<8|int(f[2]), 3
		}
		if elen == 0 || elen > 8 || len(f) <= off+elen {
			return nil, Refuse(ReasonParse, "malformed RSA key")
		}
		e := new(big.Int).SetBytes(f[off : off+elen])
		if !e.IsInt64() || e.Int64() > 1<<31-1 || e.Int64() < 3 {
			return nil, Refuse(ReasonUnsupported, "RSA exponent out of range")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(f[off+elen:]), E: int(e.Int64())}
	case AlgECDSA:
		var curve elliptic.Curve
		switch len(f) {
		case 64:
			curve = elliptic.P256()
		case 96:
			curve = elliptic.P384()
		default:
			return nil, Refuse(ReasonUnsupported, "ECDSA key of %d bytes is neither P-256 nor P-384", len(f))
		}
		k, err := ecdsa.ParseUncompressedPublicKey(curve, append([]byte{4}, f...))
		if err != nil {
			return nil, Refuse(ReasonParse, "ECDSA point not on the curve")
		}
		pub = k
	case AlgEdDSA:
		if len(f) != ed25519.PublicKeySize {
			return nil, Refuse(ReasonUnsupported, "EdDSA key of %d bytes; only Ed25519 is read from text", len(f))
		}
		pub = ed25519.PublicKey(bytes.Clone(f))
	default:
		return nil, Refuse(ReasonUnsupported, "IPSECKEY algorithm %d", alg)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, Refuse(ReasonParse, "%v", err)
	}
	return fromPublic(nil, pub, spki)
}
