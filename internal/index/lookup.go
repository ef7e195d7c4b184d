package index

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"sort"
	"sync/atomic"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

// Node is what the index has at one name: its own records, and those of the gateway
// prefixes it is in. The zero Node has nothing.
type Node struct {
	ix *Index
	id int32     // name id; -1 for a name not in the table
	gw []*Record // records from gateway prefixes
}

func (n Node) rec() *nameRec {
	if n.ix == nil || n.id < 0 {
		return nil
	}
	return &n.ix.names[n.id]
}

// Hint is what SetHint kept at n's name in this index, or 0.
func (n Node) Hint() uint32 {
	if r := n.rec(); r != nil {
		return atomic.LoadUint32(&r.hint)
	}
	return 0
}

// SetHint keeps h at n's name in this index, if n has one: a value for the index's user
// (where the signatures of its records were last found), in the memory the lookup of the
// name has just read, so that reading it back costs no further miss of the processor's
// caches. The index makes no use of it, and a new index starts with none.
func (n Node) SetHint(h uint32) {
	if r := n.rec(); r != nil {
		atomic.StoreUint32(&r.hint, h)
	}
}

// hasKeys reports whether n has IPSECKEY records.
func (n Node) hasKeys() bool {
	r := n.rec()
	return len(n.gw) > 0 || r != nil && r.keys.n > 0
}

// hasIPSECA reports whether n has IPSECA records.
func (n Node) hasIPSECA() bool {
	r := n.rec()
	return r != nil && r.ipseca.n > 0
}

// holdsRecords reports whether n is a name with records of the plugin's own.
func (n Node) holdsRecords() bool { return n.hasKeys() || n.hasIPSECA() }

// find returns the id of lower-case name, or -1. Only a slot whose hash matches name's
// leads to the name's text: other names in the probe cost no read of theirs.
func (ix *Index) find(name string) int32 {
	mask := uint64(len(ix.slots) - 1)
	h := maphash.String(ix.seed, name)
	for i := h & mask; ; i = (i + 1) & mask {
		v := ix.slots[i]
		if v == 0 {
			return -1
		}
		if sameHash(v, h) && string(ix.names[slotID(v)].name.of(ix.blob)) == name {
			return int32(slotID(v))
		}
	}
}

// name returns the text of name id.
func (ix *Index) name(id int) string { return string(ix.names[id].name.of(ix.blob)) }

// lookup finds lower-case name. exists is true for owners, empty non-terminals, addresses
// inside a gateway prefix and the reverse names above such addresses.
func (ix *Index) lookup(name string) (n Node, exists bool) {
	n = Node{ix: ix, id: ix.find(name)}
	if r := n.rec(); r != nil && (r.keys.n > 0 || r.ipseca.n > 0) {
		if r.gw {
			n.gw = ix.gwKeys[uint32(n.id)]
		}
		return n, true
	}
	if len(ix.gateways) == 0 || !keyfile.IsReverseZone(name) {
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
func (ix *Index) gatewayLookup(name string) ([]*Record, bool) {
	p, ok := keyfile.ReversePrefix(name)
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
func (ix *Index) gatewaysFor(a netip.Addr) ([]*Record, bool) {
	var keys []*Record
	matches := 0
	for _, g := range ix.gateways {
		if g.prefix.Contains(a) {
			if matches == 0 {
				keys = g.keys
			} else {
				if matches == 1 {
					keys = append([]*Record(nil), keys...)
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

// prevFile returns what the index remembers of the file at rel, as a File whose keys
// are in the index; nil when it has no such file (or there is no index).
func (ix *Index) prevFile(rel string) *File {
	if fid := ix.prevFid(rel, -1); fid >= 0 {
		return ix.fileAt(fid)
	}
	return nil
}

// prevFid returns the number of the file at rel in the index, or -1. A read asks in path
// order, the order of the index's files: hint, the file after the last one found, is
// tried first, and a search made only when it is not the one.
func (ix *Index) prevFid(rel string, hint int) int {
	if ix == nil {
		return -1
	}
	if hint >= 0 && hint < len(ix.fileRecs) && string(ix.fileRecs[hint].path.of(ix.blob)) == rel {
		return hint
	}
	i := sort.Search(len(ix.fileRecs), func(i int) bool { return string(ix.fileRecs[i].path.of(ix.blob)) >= rel })
	if i == len(ix.fileRecs) || string(ix.fileRecs[i].path.of(ix.blob)) != rel {
		return -1
	}
	return i
}

// fileAt returns file fid of the index as a File.
func (ix *Index) fileAt(fid int) *File {
	f := &File{Path: string(ix.fileRecs[fid].path.of(ix.blob))}
	ix.fileInto(f, fid)
	return f
}

// fileInto makes f file fid of the index, its path aside.
func (ix *Index) fileInto(f *File, fid int) {
	f.src, f.fid, f.Kept = ix, int32(fid), ix.fileRecs[fid].kept
	if n := ix.notes[uint32(fid)]; n != nil {
		f.Err, f.Warnings = n.err, n.warnings
	}
}

// fileCount is the number of files of the read the index was built from; 0 for no index.
func (ix *Index) fileCount() int {
	if ix == nil {
		return 0
	}
	return len(ix.fileRecs)
}

// Summary is a one-line account of the index for the reload log.
func (ix *Index) Summary() string {
	return fmt.Sprintf("%d IPSECKEY and %d IPSECA records at %d names, %d gateway prefixes, serial %d",
		ix.records["IPSECKEY"], ix.records["IPSECA"], len(ix.names), len(ix.gateways), ix.serial)
}
