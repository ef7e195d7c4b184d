package keyfile

import (
	"bytes"
	"encoding/asn1"
	"math/bits"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// oidRSA is rsaEncryption (1.2.840.113549.1.1.1, RFC 3279) in DER, whose encoding of an
// object identifier is unique: its octets are compared, not decoded.
var oidRSA = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}

// rsaFromSPKI reads the common case of a key directory, an RSA SubjectPublicKeyInfo in
// strict DER, straight into the RFC 3110 key field, without crypto/x509's big integers. It
// accepts only what crypto/x509 accepts too, and gives the same field; anything else
// (ok false) goes the general way, which decides and explains. The field comes from s.
func rsaFromSPKI(sc *Scratch, spki []byte) (field []byte, modBits int, ok bool) {
	s := cryptobyte.String(spki)
	var info, alg, oid, null, key cryptobyte.String
	var bs asn1.BitString
	if !s.ReadASN1(&info, cbasn1.SEQUENCE) || !s.Empty() ||
		!info.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!alg.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) || !bytes.Equal(oid, oidRSA) ||
		!alg.ReadASN1(&null, cbasn1.NULL) || len(null) != 0 || !alg.Empty() ||
		!info.ReadASN1BitString(&bs) || !info.Empty() || bs.BitLength%8 != 0 {
		return nil, 0, false
	}
	key = bs.Bytes
	var pk, n, e cryptobyte.String
	if !key.ReadASN1(&pk, cbasn1.SEQUENCE) || !key.Empty() ||
		!pk.ReadASN1(&n, cbasn1.INTEGER) || !pk.ReadASN1(&e, cbasn1.INTEGER) || !pk.Empty() {
		return nil, 0, false
	}
	n, okN := positiveInteger(n)
	e, okE := positiveInteger(e)
	if !okN || !okE || len(e) > 4 {
		return nil, 0, false
	}
	field = sc.alloc(1 + len(e) + len(n))
	field[0] = byte(len(e))
	copy(field[1+copy(field[1:], e):], n)
	return field, 8*(len(n)-1) + bits.Len8(n[0]), true
}

// positiveInteger returns the magnitude of a minimally encoded, positive DER INTEGER
// without its sign octet; ok is false for zero, negative and non-minimal encodings.
func positiveInteger(b []byte) ([]byte, bool) {
	switch {
	case len(b) == 0 || b[0]&0x80 != 0: // empty or negative
		return nil, false
	case b[0] == 0 && len(b) == 1: // zero
		return nil, false
	case b[0] == 0 && b[1]&0x80 == 0: // a needless leading zero
		return nil, false
	case b[0] == 0:
		return b[1:], true
	}
	return b, true
}
