package index

import "net/netip"

// Lookup finds lower-case name. exists is true for owners, empty non-terminals, addresses
// inside a gateway prefix and the reverse names above such addresses.
func (ix *Index) Lookup(name string) (n Node, exists bool) { return ix.lookup(name) }

// HasKeys reports whether n has IPSECKEY records.
func (n Node) HasKeys() bool { return n.hasKeys() }

// HasIPSECA reports whether n has IPSECA records.
func (n Node) HasIPSECA() bool { return n.hasIPSECA() }

// HoldsRecords reports whether n is a name with records of the index's own.
func (n Node) HoldsRecords() bool { return n.holdsRecords() }

// Explicit reports whether n is a name the index lists: an owner or a _PORT name, not an
// address that only a gateway prefix gives records.
func (n Node) Explicit() bool {
	r := n.rec()
	return r != nil && r.keys.n+r.ipseca.n > 0
}

// Sum is a hash of every record of the index: two indexes with the same records, however
// read, have the same sum.
func (ix *Index) Sum() uint32 { return ix.sum }

// Serial is the SOA serial of the index: its Sum unless SetSerial gave another.
func (ix *Index) Serial() uint32 { return ix.serial }

// SetSerial sets the SOA serial; it is called before the index is published, never after.
func (ix *Index) SetSerial(s uint32) { ix.serial = s }

// Records counts the records at explicit owners, by type.
func (ix *Index) Records() map[string]int { return ix.records }

// Keys counts the distinct keys, by algorithm.
func (ix *Index) Keys() map[string]int { return ix.algCount }

// Errors are the gateway lines without a key, and the files and records left out for
// their size.
func (ix *Index) Errors() []error { return ix.errors }

// Notices name the names published from more than one file (the first few).
func (ix *Index) Notices() []string { return ix.notices }

// Names is the number of names in the index.
func (ix *Index) Names() int { return len(ix.names) }

// Name returns the text of name id, 0 <= id < Names().
func (ix *Index) Name(id int) string { return ix.name(id) }

// FileCount is the number of files of the read the index was built from; 0 for no index.
func (ix *Index) FileCount() int { return ix.fileCount() }

// PrevFile returns what the index remembers of the file at rel; nil when it has none (or
// there is no index).
func (ix *Index) PrevFile(rel string) *File { return ix.prevFile(rel) }

// FileKeys returns the algorithm labels of the keys of file fid of the read the index was
// built from, and the names they are published at, each once.
func (ix *Index) FileKeys(fid int) (kinds, owners []string) {
	sp := ix.fileRecs[fid].keys
	seen := map[string]bool{}
	for _, k := range ix.keys[sp.off : sp.off+sp.n] {
		kinds = append(kinds, ix.kinds[k.kind])
		for _, o := range ix.owners[k.owners.off : k.owners.off+k.owners.n] {
			if name := string(o.name.of(ix.blob)); !seen[name] {
				seen[name] = true
				owners = append(owners, name)
			}
		}
	}
	return kinds, owners
}

// Gateways calls fn with each compiled gateway prefix and its records.
func (ix *Index) Gateways(fn func(prefix netip.Prefix, recs []*Record)) {
	for _, g := range ix.gateways {
		fn(g.prefix, g.keys)
	}
}

// Unchanged reports whether dir still resolves to the same root and its directories
// still have the same inode and modification time.
func (ds *DirState) Unchanged(dir string) bool { return ds.unchanged(dir) }

// SameContent reports whether f and g were read with the same content.
func (f *File) SameContent(g *File) bool { return f.rec().sum == g.rec().sum }
