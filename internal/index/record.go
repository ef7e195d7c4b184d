package index

import (
	"bytes"
	"net"
	"strings"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

// IPSECKEY gateway types, RFC 4025 section 2.3.
const (
	GatewayNone = 0 // no gateway
	GatewayIPv4 = 1 // a 32-bit IPv4 address
	GatewayIPv6 = 2 // a 128-bit IPv6 address
	GatewayHost = 3 // an uncompressed domain name
)

// Record is the rdata of one IPSECKEY record.
type Record struct {
	Precedence  uint8
	GatewayType uint8
	Algorithm   uint8
	GatewayAddr net.IP
	GatewayHost string
	Key         []byte // the public key field, as on the wire
}

// gatewayLen is the wire size of d's gateway field.
func gatewayLen(d *Record) int {
	switch d.GatewayType {
	case GatewayIPv4:
		return 4
	case GatewayIPv6:
		return 16
	case GatewayHost:
		return len(d.GatewayHost) + 1
	}
	return 0
}

func appendKey(list []*Record, d *Record) []*Record {
	for _, e := range list {
		if e.Precedence == d.Precedence && e.GatewayType == d.GatewayType && e.Algorithm == d.Algorithm &&
			e.GatewayAddr.Equal(d.GatewayAddr) && strings.EqualFold(e.GatewayHost, d.GatewayHost) && bytes.Equal(e.Key, d.Key) {
			return list
		}
	}
	return append(list, d)
}

// rdataKey identifies d's rdata for the serial hash, cheaply.
func (d *Record) rdataKey() string {
	return string([]byte{d.Precedence, d.GatewayType, d.Algorithm}) + string(d.GatewayAddr) + d.GatewayHost + string(d.Key)
}

// IPSECKEYs appends n's IPSECKEY rdata to recs: its own keys and the records of the
// gateway prefixes it is in. Their key fields are the index's own memory, not copies: a
// record kept past the index (by a cache, say) must copy them.
func (n Node) IPSECKEYs(recs []Record) []Record {
	if r := n.rec(); r != nil && r.keys.n == 1 { // one key: its field is in the name's record
		recs = append(recs, Record{Precedence: n.ix.precedence, Algorithm: r.alg, Key: r.one.of(n.ix.blob)})
	} else if r != nil {
		ix := n.ix
		for _, key := range ix.list(&r.keys) {
			k := &ix.keys[key]
			recs = append(recs, Record{Precedence: ix.precedence, Algorithm: k.alg, Key: k.field.of(ix.blob)})
		}
	}
	for _, d := range n.gw {
		recs = append(recs, *d)
	}
	return recs
}

// IPSECAs appends n's IPSECA rdata to recs, each record once, its data copied out of the
// index, so that a reply never keeps a replaced index alive.
func (n Node) IPSECAs(recs []keyfile.Association) []keyfile.Association {
	if r := n.rec(); r != nil {
		at := n.ix.ipsecaAt(r)
		for u, s, m, data, ok := at.next(); ok; u, s, m, data, ok = at.next() {
			recs = append(recs, keyfile.Association{Usage: u, Selector: s, Matching: m, Data: append([]byte(nil), data...)})
		}
	}
	return recs
}
