package keyfile

import (
	"bytes"
	"crypto/dsa" //nolint:staticcheck // DSA keys are still valid IPSECKEY algorithm 1 (RFC 2536)
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// IPSECKEY public key algorithms (IANA "IPSECKEY Resource Record Parameters").
const (
	AlgDSA   = 1 // RFC 4025: DSA, key field as in RFC 2536
	AlgRSA   = 2 // RFC 4025: RSA, key field as in RFC 3110
	AlgECDSA = 3 // RFC 8005: ECDSA, key field as in RFC 6605
	AlgEdDSA = 4 // RFC 9373: EdDSA, key field as in RFC 8080
)

// minRSABits is the smallest RSA modulus published.
const minRSABits = 2048

// Reasons a file or key is refused; they are the reason label of load_errors_total.
const (
	ReasonPrivate     = "private_key"
	ReasonParse       = "parse"
	ReasonUnsupported = "unsupported_key"
	ReasonWeak        = "weak_key"
	ReasonOwner       = "owner"
	ReasonSize        = "size"
	ReasonSymlink     = "symlink"
	ReasonRead        = "read"
	ReasonGateway     = "gateway"
)

var (
	oidEd448 = asn1.ObjectIdentifier{1, 3, 101, 113} // RFC 8410
	oidX448  = asn1.ObjectIdentifier{1, 3, 101, 111} // RFC 8410
)

// refusal is why a key file is not published; reason is one of the reason constants.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// Refuse returns an error with a reason; %w in format keeps the chain of an error it wraps.
func Refuse(reason, format string, a ...any) error {
	return &refusal{reason: reason, err: fmt.Errorf(format, a...)}
}

// Reason returns the reason of err, a refusal: the reason label of the load errors metric.
func Reason(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	return ReasonParse
}

// Key is one public key read from a key file, with everything records need.
type Key struct {
	Algorithm uint8  // IPSECKEY algorithm number
	Kind      string // e.g. "rsa", "ecdsa-p256", "ed25519": the algorithm label of the keys metric
	Field     []byte // the IPSECKEY public key field
	SPKI      []byte // SubjectPublicKeyInfo DER, IPSECA selector 1
	Cert      []byte // certificate DER, IPSECA selector 0; nil for a bare key

	SANIPs   []string // certificate IP SANs, as text
	SANNames []string // certificate DNS SANs
	Expired  bool     // certificate outside its validity window at load time

	Owners []Owner // where the key is published, from SANs or the file name
}

// Parse returns every public key in data, or an error that refuses the whole file.
// It never derives anything from private key material. The keys may share data's memory:
// data must stay as it is while they are in use. With a non-nil s, what it makes for a PEM
// file is made in s, and is good only until the next Parse with s (see Scratch).
func Parse(s *Scratch, data []byte) ([]*Key, error) {
	if s != nil {
		s.reset()
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Refuse(ReasonParse, "empty file")
	}
	if isPEM(data) {
		return parsePEM(s, data)
	}
	if isLibreswanText(data) {
		return parseLibreswan(data)
	}
	k, err := parseDER(data)
	if err != nil {
		return nil, err
	}
	return []*Key{k}, nil
}

func isPEM(data []byte) bool { return bytes.Contains(data, []byte("-----BEGIN ")) }

func parsePEM(s *Scratch, data []byte) ([]*Key, error) {
	// A private key anywhere refuses the file before any block is parsed, even one whose
	// armor is damaged or preceded by other text (pem.Decode would skip over it).
	if holdsPrivateKey(data) {
		return nil, Refuse(ReasonPrivate, "holds a private key; refusing the whole file")
	}
	keys := s.keyList()
	rest := data
	for n := 1; ; n++ {
		b, r, ok := nextPEM(s, rest)
		if rest = r; !ok {
			break
		}
		k, err := parseBlock(s, b)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, b.typ, err)
		}
		keys = append(keys, k)
		s.keepList(keys)
	}
	if bytes.Contains(rest, []byte("-----BEGIN ")) {
		return nil, Refuse(ReasonParse, "truncated or malformed PEM block %d", len(keys)+1)
	}
	if len(keys) == 0 {
		return nil, Refuse(ReasonParse, "no PEM block")
	}
	return keys, nil
}

// holdsPrivateKey reports whether data contains "PRIVATE KEY". It looks for the space in
// it, which a base64 body never holds, so it stops at the armor lines only, where a search
// for the whole text stops at every P of the body.
func holdsPrivateKey(data []byte) bool {
	for i := 0; ; i++ {
		j := bytes.Index(data[i:], []byte(" KEY"))
		if j < 0 {
			return false
		}
		if i += j; bytes.HasSuffix(data[:i], []byte("PRIVATE")) {
			return true
		}
	}
}

func parseBlock(s *Scratch, b block) (*Key, error) {
	switch b.typ {
	case "CERTIFICATE", "X509 CERTIFICATE":
		return fromCertificate(b.der)
	case "PUBLIC KEY":
		return fromSPKI(s, b.der)
	case "RSA PUBLIC KEY":
		pub, err := x509.ParsePKCS1PublicKey(b.der)
		if err != nil {
			return nil, Refuse(ReasonParse, "not a PKCS#1 RSA public key: %v", err)
		}
		spki, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, Refuse(ReasonParse, "re-encoding the RSA key: %v", err)
		}
		return fromPublic(s, pub, spki)
	}
	return nil, Refuse(ReasonParse, "unsupported PEM block type %q", b.typ)
}

// parseDER tries the binary forms: a certificate, an SPKI, a PKCS#1 public key. A DER
// private key is recognised only to refuse it.
func parseDER(der []byte) (*Key, error) {
	if _, err := x509.ParseCertificate(der); err == nil {
		return fromCertificate(der)
	}
	if k, err := fromSPKI(nil, der); err == nil || Reason(err) != ReasonParse {
		return k, err
	}
	if pub, err := x509.ParsePKCS1PublicKey(der); err == nil {
		spki, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, Refuse(ReasonParse, "re-encoding the RSA key: %v", err)
		}
		return fromPublic(nil, pub, spki)
	}
	if isPrivateDER(der) {
		return nil, Refuse(ReasonPrivate, "holds a private key (DER); refusing the whole file")
	}
	return nil, Refuse(ReasonParse, "neither PEM nor a DER certificate or public key")
}

func isPrivateDER(der []byte) bool {
	if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return true
	}
	_, err := x509.ParseECPrivateKey(der)
	return err == nil
}

func fromCertificate(der []byte) (*Key, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, Refuse(ReasonParse, "not an X.509 certificate: %v", err)
	}
	k, err := fromSPKI(nil, cert.RawSubjectPublicKeyInfo)
	if err != nil {
		return nil, err
	}
	k.Cert = cert.Raw
	for _, ip := range cert.IPAddresses {
		k.SANIPs = append(k.SANIPs, ip.String())
	}
	k.SANNames = cert.DNSNames
	now := time.Now()
	k.Expired = now.Before(cert.NotBefore) || now.After(cert.NotAfter)
	return k, nil
}

// fromSPKI parses a SubjectPublicKeyInfo; Ed448, which crypto/x509 lacks, is read here.
// The Key, and an RSA key's field, come from s (see Scratch).
func fromSPKI(s *Scratch, spki []byte) (*Key, error) {
	if field, bits, ok := rsaFromSPKI(s, spki); ok {
		if bits < minRSABits {
			return nil, Refuse(ReasonWeak, "RSA key of %d bits, under %d", bits, minRSABits)
		}
		k := s.newKey()
		k.Algorithm, k.Kind, k.Field, k.SPKI = AlgRSA, "rsa", field, spki
		return k, nil
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err == nil {
		return fromPublic(s, pub, spki)
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, aerr := asn1.Unmarshal(spki, &info); aerr != nil || len(rest) != 0 {
		return nil, Refuse(ReasonParse, "not a SubjectPublicKeyInfo: %v", err)
	}
	switch {
	case info.Algorithm.Algorithm.Equal(oidEd448):
		if len(info.Algorithm.Parameters.FullBytes) != 0 || info.PublicKey.BitLength != 57*8 {
			return nil, Refuse(ReasonParse, "malformed Ed448 public key")
		}
		return &Key{Algorithm: AlgEdDSA, Kind: "ed448", Field: info.PublicKey.Bytes, SPKI: spki}, nil
	case info.Algorithm.Algorithm.Equal(oidX448):
		return nil, Refuse(ReasonUnsupported, "X448 is a key-agreement key, not a signature key")
	}
	return nil, Refuse(ReasonUnsupported, "unsupported public key: %v", err)
}

// fromPublic builds the IPSECKEY key field of pub.
func fromPublic(s *Scratch, pub any, spki []byte) (*Key, error) {
	k := s.newKey()
	k.SPKI = spki
	var field []byte
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < minRSABits {
			return nil, Refuse(ReasonWeak, "RSA key of %d bits, under %d", bits, minRSABits)
		}
		k.Algorithm, k.Kind, field = AlgRSA, "rsa", rsaField(pub)
	case *ecdsa.PublicKey:
		var size int
		switch pub.Curve {
		case elliptic.P256():
			k.Kind, size = "ecdsa-p256", 32
		case elliptic.P384():
			k.Kind, size = "ecdsa-p384", 48
		default:
			return nil, Refuse(ReasonUnsupported, "ECDSA curve %s: only P-256 and P-384 can be told apart in IPSECKEY", pub.Curve.Params().Name)
		}
		point, err := pub.Bytes()
		if err != nil || len(point) != 1+2*size {
			return nil, Refuse(ReasonParse, "malformed ECDSA point")
		}
		k.Algorithm, field = AlgECDSA, point[1:]
	case ed25519.PublicKey:
		k.Algorithm, k.Kind, field = AlgEdDSA, "ed25519", pub
	case *dsa.PublicKey:
		f, err := dsaField(pub)
		if err != nil {
			return nil, err
		}
		k.Algorithm, k.Kind, field = AlgDSA, "dsa", f
	default:
		return nil, Refuse(ReasonUnsupported, "%T is not a signature key IPSECKEY can carry", pub)
	}
	k.Field = field
	return k, nil
}

// rsaField encodes pub as RFC 3110 section 2: exponent length, exponent, modulus.
func rsaField(pub *rsa.PublicKey) []byte {
	e := big.NewInt(int64(pub.E)).Bytes()
	n := pub.N.Bytes()
	out := make([]byte, 0, 3+len(e)+len(n))
	if len(e) <= 255 {
		out = append(out, byte(len(e)))
	} else {
		out = append(out, 0, byte(len(e)>>8), byte(len(e)))
	}
	out = append(out, e...)
	return append(out, n...)
}

// dsaField encodes pub as RFC 2536 section 2: T, Q, P, G, Y.
func dsaField(pub *dsa.PublicKey) ([]byte, error) {
	qlen, plen := (pub.Q.BitLen()+7)/8, (pub.P.BitLen()+7)/8
	if qlen != 20 {
		return nil, Refuse(ReasonUnsupported, "DSA Q of %d bits: RFC 2536 encodes only 160", pub.Q.BitLen())
	}
	if plen < 64 || plen > 128 || (plen-64)%8 != 0 {
		return nil, Refuse(ReasonUnsupported, "DSA P of %d bits: RFC 2536 encodes 512 to 1024 in steps of 64", pub.P.BitLen())
	}
	t := (plen - 64) / 8
	out := make([]byte, 1+20+3*plen)
	out[0] = byte(t)
	pub.Q.FillBytes(out[1:21])
	pub.P.FillBytes(out[21 : 21+plen])
	if pub.G.BitLen() > plen*8 || pub.Y.BitLen() > plen*8 {
		return nil, Refuse(ReasonParse, "malformed DSA key")
	}
	pub.G.FillBytes(out[21+plen : 21+2*plen])
	pub.Y.FillBytes(out[21+2*plen:])
	return out, nil
}
