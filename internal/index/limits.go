package index

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

// Every length the index packs is checked where it is packed: what does not fit is refused
// or left out with a reason, never wrapped.
//
// A name's records must fit, all together (ANY asks for them all), in one DNS message over
// TCP (65,535 octets) with room for the header, the longest question, an EDNS OPT record and
// four RRSIGs of 4096-bit RSA keys over a 255-octet signer name: 62,000 octets of records.
const (
	maxRRsetWire  = 62000
	rrOverhead    = 2 + 10                              // a compressed owner name, type, class, TTL and RDLENGTH
	maxKeyField   = maxRRsetWire - rrOverhead - 3 - 255 // a record with the longest gateway name fits alone
	maxIPSECAData = maxRRsetWire - rrOverhead - 3       // usage, selector and matching type before the data
)

// blobLimit is the most octets an index's blob may hold: its spans are 32-bit. A variable so
// that tests can reach it.
var blobLimit = uint64(math.MaxUint32)

// checkField refuses a public key field no IPSECKEY record could carry in a DNS message.
func checkField(field []byte) error {
	if len(field) > maxKeyField {
		return keyfile.Refuse(keyfile.ReasonSize, "public key field of %d octets; an IPSECKEY record carries at most %d", len(field), maxKeyField)
	}
	return nil
}

// ipseckeyWire is the wire size of an IPSECKEY record with a key field of n octets and a
// gateway field of gw octets, its owner name compressed.
func ipseckeyWire(n, gw int) int { return rrOverhead + 3 + gw + n }

// ipsecaWire is the wire size of the IPSECA records of one key at a name (see packIPSECA).
func ipsecaWire(packed []byte) int {
	n := 0
	it := ipsecaIter{packed}
	for _, _, _, data, ok := it.next(); ok; _, _, _, data, ok = it.next() {
		n += rrOverhead + 3 + len(data)
	}
	return n
}

// fitIPSECA splits one key's IPSECA records into those that fit in one message together
// and those left out: the largest go first, so a digest is kept before a whole certificate.
func fitIPSECA(recs []keyfile.Association) (kept, left []keyfile.Association) {
	size := 0
	for _, d := range recs {
		size += rrOverhead + 3 + len(d.Data)
	}
	kept = recs
	for size > maxRRsetWire {
		big := 0
		for i, d := range kept {
			if len(d.Data) > len(kept[big].Data) {
				big = i
			}
		}
		size -= rrOverhead + 3 + len(kept[big].Data)
		left = append(left, kept[big])
		kept = append(kept[:big:big], kept[big+1:]...)
	}
	return kept, left
}

// fitKeys returns how many of list, in order, fit in room octets of records, and the octets
// they take; size gives a key's share.
func fitKeys(list []uint32, room int, size func(uint32) int) (n, used int) {
	for n < len(list) {
		s := size(list[n])
		if used+s > room {
			break
		}
		used += s
		n++
	}
	return n, used
}

// trimmed is the refusal logged when a name's records do not all fit in one message.
func (b *builder) trimmed(name string, kept, all int, left []uint32) error {
	return keyfile.Refuse(keyfile.ReasonSize, "name %q: %d of its %d records left out (from %s): the others fill the %d octets one DNS message holds with its signatures",
		name, all-kept, all, b.filesOf(left), maxRRsetWire)
}

// fileOf returns the path of the file key id came from.
func (b *builder) fileOf(key uint32) string {
	recs := b.ix.fileRecs
	i := sort.Search(len(recs), func(i int) bool { return recs[i].keys.off+recs[i].keys.n > key })
	if i == len(recs) {
		return ""
	}
	return string(recs[i].path.of(b.ix.blob))
}

// filesOf names the files keys came from, each once, quoted: at most three, then a count.
func (b *builder) filesOf(keys []uint32) string {
	var paths []string
	for _, k := range keys {
		if p := fmt.Sprintf("%q", b.fileOf(k)); !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	if len(paths) > 3 {
		return strings.Join(paths[:3], ", ") + fmt.Sprintf(" and %d more files", len(paths)-3)
	}
	return strings.Join(paths, ", ")
}
