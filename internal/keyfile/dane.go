package keyfile

import (
	"crypto/sha256"
	"crypto/sha512"
)

// DANE is one "dane USAGE SELECTOR MATCHING" line: the IPSECA records made for each key.
type DANE struct{ Usage, Selector, Matching uint8 }

// Association is the rdata of one IPSECA record: the fields and meaning of TLSA (RFC 6698).
type Association struct {
	Usage, Selector, Matching uint8
	Data                      []byte
}

// Associations returns k's IPSECA rdata for lines; a bare key has none for selector 0.
// With a non-nil s, the list and its digests are made in s: they are good only until the
// next Associations or Parse with s.
func (k *Key) Associations(s *Scratch, lines []DANE) []Association {
	out := s.assocList()
	for _, l := range lines {
		if d, ok := associate(s, k, l); ok {
			out = append(out, d)
		}
	}
	s.keepAssocs(out)
	return out
}

// associate computes the IPSECA rdata of k for one dane line; false when a bare key is
// asked for selector 0 (it has no certificate).
func associate(s *Scratch, k *Key, l DANE) (Association, bool) {
	var data []byte
	switch l.Selector {
	case 0:
		data = k.Cert
	case 1:
		data = k.SPKI
	}
	if data == nil {
		return Association{}, false
	}
	switch l.Matching {
	case 1:
		sum := sha256.Sum256(data)
		data = s.alloc(len(sum))
		copy(data, sum[:])
	case 2:
		sum := sha512.Sum512(data)
		data = s.alloc(len(sum))
		copy(data, sum[:])
	}
	return Association{Usage: l.Usage, Selector: l.Selector, Matching: l.Matching, Data: data}, true
}
