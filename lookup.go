package ipsecoe

import (
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sort"
	"unsafe"

	"github.com/miekg/dns"
)

// node is what the index has at one name: its own records, and those of the gateway
// prefixes it is in. The zero node has nothing.
type node struct {
	ix *index
	id int32           // name id; -1 for a name not in the table
	gw []*ipseckeyData // records from gateway prefixes
}

func (n node) rec() *nameRec {
	if n.ix == nil || n.id < 0 {
		return nil
	}
	return &n.ix.names[n.id]
}

// hasKeys reports whether n has IPSECKEY records.
func (n node) hasKeys() bool {
	r := n.rec()
	return len(n.gw) > 0 || r != nil && r.keys.n > 0
}

// hasIPSECA reports whether n has IPSECA records.
func (n node) hasIPSECA() bool {
	r := n.rec()
	return r != nil && r.ipseca.n > 0
}

// holdsRecords reports whether n is a name with records of the plugin's own.
func (n node) holdsRecords() bool { return n.hasKeys() || n.hasIPSECA() }

// appendIPSECKEY appends n's IPSECKEY records, at owner, to rrs. Each gets its own key
// field in base64, as dns.IPSECKEY holds it: the index keeps the raw 260 octets of an
// RSA-2048 key rather than 348 of text.
func (n node) appendIPSECKEY(rrs []dns.RR, owner string, ttl uint32) []dns.RR {
	if r := n.rec(); r != nil {
		ix := n.ix
		for _, key := range ix.list(r.keys) {
			k := &ix.keys[key]
			rrs = append(rrs, ipseckey(owner, ttl, &ipseckeyData{precedence: ix.precedence, algorithm: k.alg,
				publicKey: toBase64(k.field.of(ix.blob))}))
		}
	}
	for _, d := range n.gw {
		rrs = append(rrs, ipseckey(owner, ttl, d))
	}
	return rrs
}

// appendIPSECA appends n's IPSECA records, at owner, to rrs.
func (n node) appendIPSECA(rrs []dns.RR, owner string, ttl uint32) []dns.RR {
	if r := n.rec(); r != nil {
		at := n.ix.ipsecaAt(r)
		for u, s, m, data, ok := at.next(); ok; u, s, m, data, ok = at.next() {
			// The record's own copy of data: nothing taken from the index may outlive it.
			rrs = append(rrs, ipseca(owner, ttl, &IPSECA{u, s, m, append([]byte(nil), data...)}))
		}
	}
	return rrs
}

// toBase64 is base64.StdEncoding.EncodeToString with one allocation instead of two: the
// encoded bytes are never written again, so the string can be made over them.
func toBase64(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	buf := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(buf, b)
	return unsafe.String(&buf[0], len(buf))
}

// find returns the id of lower-case name, or -1.
func (ix *index) find(name string) int32 {
	mask := uint64(len(ix.slots) - 1)
	for i := maphash.String(ix.seed, name) & mask; ; i = (i + 1) & mask {
		v := ix.slots[i]
		if v == 0 {
			return -1
		}
		if string(ix.names[v-1].name.of(ix.blob)) == name {
			return int32(v - 1)
		}
	}
}

// name returns the text of name id.
func (ix *index) name(id int) string { return string(ix.names[id].name.of(ix.blob)) }

// lookup finds lower-case name. exists is true for owners, empty non-terminals, addresses
// inside a gateway prefix and the reverse names above such addresses.
func (ix *index) lookup(name string) (n node, exists bool) {
	n = node{ix: ix, id: ix.find(name)}
	if r := n.rec(); r != nil && (r.keys.n > 0 || r.ipseca.n > 0) {
		if r.gw {
			n.gw = ix.gwKeys[uint32(n.id)]
		}
		return n, true
	}
	if len(ix.gateways) == 0 || !isReverseZone(name) {
		return n, n.id >= 0
	}
	// An address inside a gateway prefix may also be an empty non-terminal (above an
	// explicit _PORT owner): it still gets the gateway records.
	if gw, ok := ix.gatewayLookup(name); ok {
		n.gw = gw
		return n, true
	}
	return n, n.id >= 0
}

// gatewayLookup answers reverse names from the gateway prefixes alone: the records of an
// address inside one or more prefixes, or ok alone for a name above such addresses.
func (ix *index) gatewayLookup(name string) ([]*ipseckeyData, bool) {
	p, ok := reversePrefix(name)
	if !ok {
		return nil, false
	}
	if !p.IsSingleIP() {
		for _, g := range ix.gateways {
			if g.prefix.Overlaps(p) {
				return nil, true
			}
		}
		return nil, false
	}
	return ix.gatewaysFor(p.Addr())
}

// gatewaysFor returns the records of address a from the gateway prefixes it is in, and
// whether there is any.
func (ix *index) gatewaysFor(a netip.Addr) ([]*ipseckeyData, bool) {
	var keys []*ipseckeyData
	matches := 0
	for _, g := range ix.gateways {
		if g.prefix.Contains(a) {
			if matches == 0 {
				keys = g.keys
			} else {
				if matches == 1 {
					keys = append([]*ipseckeyData(nil), keys...)
				}
				for _, d := range g.keys {
					keys = appendKey(keys, d)
				}
			}
			matches++
		}
	}
	return keys, matches > 0
}

// prevFile returns what the index remembers of the file at rel, as a keyFile whose keys
// are in the index; nil when it has no such file (or there is no index).
func (ix *index) prevFile(rel string) *keyFile {
	if ix == nil {
		return nil
	}
	i := sort.Search(len(ix.fileRecs), func(i int) bool { return string(ix.fileRecs[i].path.of(ix.blob)) >= rel })
	if i == len(ix.fileRecs) || string(ix.fileRecs[i].path.of(ix.blob)) != rel {
		return nil
	}
	return ix.fileAt(i)
}

// fileAt returns file fid of the index as a keyFile.
func (ix *index) fileAt(fid int) *keyFile {
	fr := &ix.fileRecs[fid]
	f := &keyFile{path: string(fr.path.of(ix.blob)), sum: fr.sum, stat: fr.stat, src: ix, fid: int32(fid), kept: fr.kept}
	if n := ix.notes[uint32(fid)]; n != nil {
		f.err, f.warnings = n.err, n.warnings
	}
	return f
}

// fileCount is the number of files of the read the index was built from; 0 for no index.
func (ix *index) fileCount() int {
	if ix == nil {
		return 0
	}
	return len(ix.fileRecs)
}

// summary is a one-line account of the index for the reload log.
func (ix *index) summary() string {
	return fmt.Sprintf("%d IPSECKEY and %d IPSECA records at %d names, %d gateway prefixes, serial %d",
		ix.records["IPSECKEY"], ix.records["IPSECA"], len(ix.names), len(ix.gateways), ix.serial)
}
