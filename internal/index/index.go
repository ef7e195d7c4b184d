package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"unsafe"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
	"github.com/miekg/dns"
)

// Gateway is one "gateway PREFIX TARGET [PRECEDENCE]" line.
type Gateway struct {
	Prefix     netip.Prefix
	Target     string     // the target as written: an address or a lower-case FQDN
	Addr       netip.Addr // the target address; invalid for a domain name target
	Precedence uint8
}

// Options are the settings that shape the records.
type Options struct {
	Precedence uint8
	Gateways   []Gateway
	Ports      []uint16
	DANE       []keyfile.DANE
}

// span is a range of an index's blob or of one of its arrays.
type span struct{ off, n uint32 }

func (s span) of(b []byte) []byte { return b[s.off : s.off+s.n : s.off+s.n] }

// keyRec is one key of one file.
type keyRec struct {
	field  span  // the IPSECKEY public key field, raw, in blob
	ipseca span  // the key's IPSECA rdata for the dane lines, in blob (see packIPSECA)
	owners span  // in owners
	alg    uint8 // IPSECKEY algorithm
	kind   uint8 // in kinds: the algorithm label of the keys metric
}

// ownerRef is a name one key is published at.
type ownerRef struct {
	name span // lower-case FQDN, in blob
	port uint16
}

// nameRec is one name of the index: an owner, a _PORT name, or an empty non-terminal.
type nameRec struct {
	name   span
	keys   span   // key ids whose IPSECKEY is published here (see list)
	ipseca span   // key ids whose IPSECA is published here
	one    span   // with one key: its IPSECKEY field, or else its IPSECA rdata, in blob
	gw     bool   // a single address inside a gateway prefix: the prefix's records join its own
	alg    uint8  // the IPSECKEY algorithm of a name with one key
	hint   uint32 // see Node.Hint: the one field written after Build, atomically
}

// gateway is a compiled gateway line: the records every address in prefix gets.
type gateway struct {
	prefix netip.Prefix
	keys   []*Record
}

// index is one immutable, complete key set, swapped whole on reload; only the hints its
// user keeps at names (Node.SetHint) are written after Build. Everything a query reads is
// packed into pointer-free arrays and one byte blob, so that the garbage collector has
// nothing to scan in it however many keys there are.
type Index struct {
	blob     []byte     // names, key fields and IPSECA rdata
	keys     []keyRec   // every key of every file, file by file
	owners   []ownerRef // each key's owners, key by key
	names    []nameRec  // every name
	lists    []uint32   // the key ids of each name, name by name
	slots    []uint64   // open-addressing table of names (see slotOf), 0 when empty
	seed     maphash.Seed
	fileRecs []fileRec // every file of the read, by path: for the next read and build
	stage    *builder  // while a read packs into it: what Build goes on with
	notes    map[uint32]*fileNote
	kinds    []string

	precedence uint8
	gateways   []gateway
	gwKeys     map[uint32][]*Record // the gateway records of owners inside a prefix, by name id
	sum        uint32               // a hash of every record: the key set's identity
	serial     uint32               // the SOA serial, set by the owner before the index is published

	errors   []error        // gateway lines whose target has no key, files and records left out for their size
	notices  []string       // names published from more than one file
	records  map[string]int // records by type, for metrics
	algCount map[string]int // distinct keys by algorithm, for metrics
}

// fileRec is what the index remembers of one file: enough to know it again on the next
// read, and where its keys are.
type fileRec struct {
	path span // relative to the key directory, in blob
	keys span // in keys
	stat fileStat
	sum  [16]byte
	kept bool // refused, with the keys of its last good read
}

// fileNote is why a file was refused, or what in it was skipped: a few files at most.
type fileNote struct {
	err      error
	warnings []error
}

// Build completes the index of a read: the files ReadDir returned, in its order, whose keys
// it packed as it parsed them, are taken as they are; any other list of files (or the
// same files built a second time) is copied from the indexes its files are in. It does no
// I/O and no logging; a non-nil pc paces it. The files then refer to their keys in the
// index, for the next read and build.
func Build(files []*File, o *Options, pc *Pacer) *Index {
	b := adopt(files)
	if b == nil {
		b = newBuilder(files, o)
		for fid, f := range files {
			pc.tick()
			sr := f.rec()
			b.ix.fileRecs[fid] = fileRec{stat: sr.stat, sum: sr.sum, kept: f.Kept}
			b.addFile(fid, f.Path, nil, f.src, f.fid)
			if f.Err != nil || len(f.Warnings) > 0 {
				if b.ix.notes == nil {
					b.ix.notes = map[uint32]*fileNote{}
				}
				b.ix.notes[uint32(fid)] = &fileNote{err: f.Err, warnings: f.Warnings}
			}
		}
		for fid, f := range files {
			f.src, f.fid = b.ix, int32(fid)
		}
	}
	collectBeforeBuild(len(b.ix.keys))
	b.prepare(o)
	b.addNames(pc)
	b.addLists(pc)
	b.addGateways(o)
	b.addOnes(pc)
	b.count()
	b.ix.backHuge()
	return b.ix
}

// adopt returns the builder of the stage files were read into, when they are all of it, in
// its order; nil otherwise. A stage is adopted once.
func adopt(files []*File) *builder {
	if len(files) == 0 {
		return nil
	}
	st := files[0].src
	if st == nil || st.stage == nil || len(st.fileRecs) != len(files) {
		return nil
	}
	for fid, f := range files {
		if f.src != st || int(f.fid) != fid {
			return nil
		}
	}
	b := st.stage
	st.stage = nil
	return b
}

// builder holds what Build needs beside the index it fills.
type builder struct {
	ix    *Index
	opts  *Options
	used  uint64 // octets of the blob taken or promised to the files added so far
	kinds map[string]uint8
	pairs []pair // (name, key) publications, in the order found
	sink  uint64 // what the reads made only to fill the cache add up to
}

// pair publishes key at name: as IPSECKEY, or with ipseca as IPSECA.
type pair struct {
	name, key uint32
	ipseca    bool
}

// newBuilder returns a builder whose arrays are sized for the keys of files, in the
// indexes they are in, and the records o asks for.
func newBuilder(files []*File, o *Options) *builder {
	b := &builder{opts: o, kinds: map[string]uint8{}}
	nkeys, nowners, blob := 0, 0, uint64(0)
	for _, f := range files {
		sp := f.rec().keys
		nkeys += int(sp.n)
		for _, k := range f.src.keys[sp.off : sp.off+sp.n] {
			nowners += int(k.owners.n)
		}
		blob += uint64(len(f.Path)) + b.need(nil, f.src, f.fid)
	}
	b.ix = &Index{
		blob:     make([]byte, 0, min(blob, blobLimit)),
		keys:     make([]keyRec, 0, nkeys),
		owners:   make([]ownerRef, 0, nowners),
		fileRecs: make([]fileRec, len(files)),
		seed:     maphash.MakeSeed(),
		records:  map[string]int{},
		algCount: map[string]int{},
	}
	return b
}

// prepare sizes the table of names for the keys packed, for the records o asks for.
func (b *builder) prepare(o *Options) {
	ix, nkeys := b.ix, len(b.ix.keys)
	b.opts, ix.precedence = o, o.Precedence
	// The _PORT names go into the blob: room for them now, rather than a copy of the blob
	// by append when it fills (reserve has made it, on a first read).
	ix.blob = growTo(ix.blob, portBytes(ix, o.Ports))
	// Sized up front: growing a table of a million names costs more than filling it.
	ix.names = make([]nameRec, 0, nkeys*(1+len(o.Ports))+nkeys/64+16)
	ix.slots = make([]uint64, tableSize(cap(ix.names)))
	b.pairs = make([]pair, 0, nkeys*(1+len(o.Ports)))
}

// portBytes is what addNames adds to the blob: a _PORT name for each port at each owner of
// a key with IPSECA records.
func portBytes(ix *Index, ports []uint16) int {
	if len(ports) == 0 {
		return 0
	}
	per := 0 // the "_PORT." of every port
	for _, port := range ports {
		per += len(strconv.Itoa(int(port))) + 2
	}
	n := 0
	for id := range ix.keys {
		k := &ix.keys[id]
		if k.ipseca.n == 0 {
			continue
		}
		for _, ow := range ix.owners[k.owners.off : k.owners.off+k.owners.n] {
			if ow.port == 0 {
				n += per + len(ports)*int(ow.name.n)
			}
		}
	}
	return n
}

// tableSize is the smallest power of two that holds n names at most 70 % full.
func tableSize(n int) int {
	size := 16
	for 10*n > 7*size {
		size <<= 1
	}
	return size
}

func (b *builder) put(data []byte) span {
	s := span{uint32(len(b.ix.blob)), uint32(len(data))}
	b.ix.blob = append(b.ix.blob, data...)
	return s
}

func (b *builder) putString(data string) span {
	s := span{uint32(len(b.ix.blob)), uint32(len(data))}
	b.ix.blob = append(b.ix.blob, data...)
	return s
}

func (b *builder) kind(k []byte) uint8 {
	if i, ok := b.kinds[string(k)]; ok {
		return i
	}
	i := uint8(len(b.ix.kinds))
	b.kinds[string(k)] = i
	b.ix.kinds = append(b.ix.kinds, string(k))
	return i
}

// addFile packs the path and keys of file fid: packed as packKeys packs them, or copied
// from file sfid of the index src. Keys that would take the blob past blobLimit are left
// out, with a reason.
func (b *builder) addFile(fid int, path string, packed []byte, src *Index, sfid int32) {
	ix := b.ix
	fr := &ix.fileRecs[fid]
	fr.path = b.putString(path)
	b.used += uint64(len(path))
	first := uint32(len(ix.keys))
	defer func() { fr.keys = span{first, uint32(len(ix.keys)) - first} }()
	if need := b.need(packed, src, sfid); b.used+need > blobLimit {
		ix.errors = append(ix.errors, keyfile.Refuse(keyfile.ReasonSize, "%q: left out: its keys would take the index past %d octets of key data", path, blobLimit))
		return
	} else {
		b.used += need
	}
	switch {
	case packed != nil:
		for p := packed; len(p) > 0; {
			var k packedKey
			if k, p = nextPacked(p); k.field == nil {
				break // never: packKeys wrote it
			}
			kr := keyRec{field: b.put(k.field), alg: k.alg, kind: b.kind(k.kind)}
			kr.ipseca = b.put(k.ipseca)
			kr.owners.off = uint32(len(ix.owners))
			for o := k.owners; len(o) >= 3; {
				port, n := binary.BigEndian.Uint16(o), int(o[2])
				ix.owners = append(ix.owners, ownerRef{name: b.put(o[3 : 3+n]), port: port})
				o = o[3+n:]
			}
			kr.owners.n = uint32(len(ix.owners)) - kr.owners.off
			ix.keys = append(ix.keys, kr)
		}
	case src != nil:
		sp := src.fileRecs[sfid].keys
		for _, k := range src.keys[sp.off : sp.off+sp.n] {
			kr := keyRec{field: b.put(k.field.of(src.blob)), alg: k.alg, kind: b.kind([]byte(src.kinds[k.kind]))}
			kr.ipseca = b.put(k.ipseca.of(src.blob))
			kr.owners.off = uint32(len(ix.owners))
			for _, ow := range src.owners[k.owners.off : k.owners.off+k.owners.n] {
				ix.owners = append(ix.owners, ownerRef{name: b.put(ow.name.of(src.blob)), port: ow.port})
			}
			kr.owners.n = uint32(len(ix.owners)) - kr.owners.off
			ix.keys = append(ix.keys, kr)
		}
	}
}

// need is how many octets of the blob a file's keys take: their fields, IPSECA rdata and
// owner names, and the _PORT names addNames will make from them.
func (b *builder) need(packed []byte, src *Index, sfid int32) uint64 {
	var n uint64
	owner := func(name, port int, ipseca bool) {
		n += uint64(name)
		if port == 0 && ipseca {
			n += uint64(len(b.opts.Ports)) * uint64(name+len("_65535."))
		}
	}
	switch {
	case packed != nil:
		for p := packed; len(p) > 0; {
			var k packedKey
			if k, p = nextPacked(p); k.field == nil {
				break
			}
			n += uint64(len(k.field) + len(k.ipseca))
			for o := k.owners; len(o) >= 3; o = o[3+int(o[2]):] {
				owner(int(o[2]), int(binary.BigEndian.Uint16(o)), len(k.ipseca) > 0)
			}
		}
	case src != nil:
		sp := src.fileRecs[sfid].keys
		for _, k := range src.keys[sp.off : sp.off+sp.n] {
			n += uint64(k.field.n + k.ipseca.n)
			for _, ow := range src.owners[k.owners.off : k.owners.off+k.owners.n] {
				owner(int(ow.name.n), int(ow.port), k.ipseca.n > 0)
			}
		}
	}
	return n
}

// packIPSECA appends recs to buf as usage, selector, matching type, a two-octet length and
// the data, one after the other; packKeys has left out any record over maxIPSECAData.
func packIPSECA(buf []byte, recs []keyfile.Association) []byte {
	for _, r := range recs {
		if len(r.Data) > maxIPSECAData {
			continue
		}
		buf = append(buf, r.Usage, r.Selector, r.Matching, byte(len(r.Data)>>8), byte(len(r.Data)))
		buf = append(buf, r.Data...)
	}
	return buf
}

// ipsecaIter walks the records packIPSECA packed.
type ipsecaIter struct{ b []byte }

// next returns the next record; ok is false at the end.
func (it *ipsecaIter) next() (usage, selector, matching uint8, data []byte, ok bool) {
	if len(it.b) < 5 {
		return 0, 0, 0, nil, false
	}
	n := int(it.b[3])<<8 | int(it.b[4])
	if len(it.b) < 5+n {
		return 0, 0, 0, nil, false
	}
	usage, selector, matching, data = it.b[0], it.b[1], it.b[2], it.b[5:5+n]
	it.b = it.b[5+n:]
	return usage, selector, matching, data, true
}

// addNames enters every owner, _PORT name and empty non-terminal into the table, and
// notes which key is published where.
func (b *builder) addNames(pc *Pacer) {
	ix := b.ix
	var q nameBatch
	for id := range ix.keys {
		if id%1024 == 0 {
			pc.tick()
		}
		k := &ix.keys[id]
		for _, ow := range ix.owners[k.owners.off : k.owners.off+k.owners.n] {
			if ow.port != 0 {
				if k.ipseca.n > 0 {
					q.add(b, ow.name, uint32(id), true)
				}
				continue
			}
			q.add(b, ow.name, uint32(id), false)
			if k.ipseca.n == 0 {
				continue
			}
			for _, port := range b.opts.Ports {
				if pn, ok := b.putPortName(port, ow.name); ok {
					q.add(b, pn, uint32(id), true)
				}
			}
		}
	}
	q.flush(b)
}

// putPortName puts _PORT.name in the blob, without a string made for it; false, and
// nothing put, if it is too long for a name.
func (b *builder) putPortName(port uint16, name span) (span, bool) {
	ix := b.ix
	start, n := len(ix.blob), name.of(ix.blob) // n stays valid if the append moves the blob
	ix.blob = keyfile.AppendPortName(ix.blob, port, n)
	if len(ix.blob)-start > keyfile.MaxNameLen {
		ix.blob = ix.blob[:start]
		return span{}, false
	}
	return span{uint32(start), uint32(len(ix.blob) - start)}, true
}

// insert returns the id of the name at s in the blob, whose hash is h, entering it and
// its ancestors (as empty non-terminals, sharing its bytes) when they are new.
func (b *builder) insert(s span, h uint64) uint32 {
	id, found := b.slot(s, h)
	if found {
		return id
	}
	// Ancestors: every suffix after a label, up to one already there.
	name := s.of(b.ix.blob)
	for off, end := dns.NextLabel(string(name), 0); !end; off, end = dns.NextLabel(string(name), off) {
		a := span{s.off + uint32(off), s.n - uint32(off)}
		if _, found := b.slot(a, maphash.Bytes(b.ix.seed, a.of(b.ix.blob))); found {
			break
		}
	}
	return id
}

// slot finds the name at s, whose hash is h, or enters it with no records.
func (b *builder) slot(s span, h uint64) (uint32, bool) {
	ix := b.ix
	if 10*(len(ix.names)+1) > 7*len(ix.slots) {
		ix.grow()
	}
	name := s.of(ix.blob)
	mask := uint64(len(ix.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := ix.slots[i]
		if v == 0 {
			ix.names = append(ix.names, nameRec{name: s})
			ix.slots[i] = slotOf(h, uint32(len(ix.names)-1))
			return uint32(len(ix.names) - 1), false
		}
		if sameHash(v, h) && string(ix.names[slotID(v)].name.of(ix.blob)) == string(name) {
			return slotID(v), true
		}
	}
}

// slotOf is the table's slot of name id, whose hash is h: the upper half of the hash, so
// that a lookup passes over other names without reading them, and id + 1. A table has
// fewer than 2^32 slots, so the lower half picks the slot and the upper half is left to
// tell names apart.
func slotOf(h uint64, id uint32) uint64 { return h&^0xffffffff | uint64(id+1) }

// slotID is the name id in slot v.
func slotID(v uint64) uint32 { return uint32(v) - 1 }

// sameHash reports whether slot v may hold the name whose hash is h.
func sameHash(v, h uint64) bool { return v>>32 == h>>32 }

// grow doubles the table.
func (ix *Index) grow() {
	ix.slots = make([]uint64, 2*len(ix.slots))
	mask := uint64(len(ix.slots) - 1)
	for id, nr := range ix.names {
		h := maphash.Bytes(ix.seed, nr.name.of(ix.blob))
		i := h & mask
		for ix.slots[i] != 0 {
			i = (i + 1) & mask
		}
		ix.slots[i] = slotOf(h, uint32(id))
	}
}

// addLists groups the publications by name, one list of keys per name and kind, with a
// key whose record another key at the name already gives left out.
func (b *builder) addLists(pc *Pacer) {
	ix := b.ix
	counts := make([]uint32, 2*len(ix.names)+1)
	for _, p := range b.pairs {
		counts[2*p.name+idx(p.ipseca)+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	ix.lists = make([]uint32, len(b.pairs))
	fill := counts[:len(counts)-1]
	for _, p := range b.pairs {
		at := &fill[2*p.name+idx(p.ipseca)]
		ix.lists[*at] = p.key
		*at++
	}
	// fill[i] now ends list i; counts[i] (shifted by the fill) starts it.
	out := uint32(0)
	start := uint32(0)
	for id := range ix.names {
		if id%1024 == 0 {
			pc.tick()
		}
		room := maxRRsetWire
		for kind := 0; kind < 2; kind++ {
			end := fill[2*id+kind]
			list := ix.lists[start:end]
			first := out
			for _, key := range list {
				// Against the keys kept so far: list itself is being written over.
				if !dupKey(ix, ix.lists[first:out], key, kind == 1) {
					ix.lists[out] = key
					out++
				}
			}
			kept := ix.lists[first:out]
			n, used := fitKeys(kept, room, b.wireSize(kind == 1))
			if n < len(kept) {
				ix.errors = append(ix.errors, b.trimmed(ix.name(id), n, len(kept), kept[n:]))
				out = first + uint32(n)
			}
			room -= used
			if kind == 0 {
				b.noteFiles(id, ix.lists[first:out])
			}
			sp := span{first, out - first}
			if sp.n == 1 {
				sp, out = span{ix.lists[first], 1}, first // held in the span (see list)
			}
			if kind == 0 {
				ix.names[id].keys = sp
			} else {
				ix.names[id].ipseca = sp
			}
			start = end
		}
	}
	// Made for every publication, lists keeps only those of names with more keys than one:
	// a copy lets the rest go.
	ix.lists = slices.Clone(ix.lists[:out])
	b.pairs = nil
}

// wireSize returns the wire size of one key's records at a name: its IPSECKEY record, or
// its IPSECA records.
func (b *builder) wireSize(ipseca bool) func(uint32) int {
	ix := b.ix
	if ipseca {
		return func(key uint32) int { return ipsecaWire(ix.keys[key].ipseca.of(ix.blob)) }
	}
	return func(key uint32) int { return ipseckeyWire(int(ix.keys[key].field.n), 0) }
}

// maxNotices is how many names published from several files one load reports by name.
const maxNotices = 20

// noteFiles notes a name whose keys come from more than one file: whoever can write a file
// in the key directory can claim a name, so the operator is told where each name comes from.
func (b *builder) noteFiles(id int, keys []uint32) {
	if len(keys) < 2 {
		return
	}
	f := b.fileOf(keys[0])
	for _, k := range keys[1:] {
		if b.fileOf(k) != f {
			ix := b.ix
			if len(ix.notices) < maxNotices {
				ix.notices = append(ix.notices, fmt.Sprintf("name %q is published from several files: %s", ix.name(id), b.filesOf(keys)))
			} else if len(ix.notices) == maxNotices {
				ix.notices = append(ix.notices, "more names are published from several files")
			}
			return
		}
	}
}

func idx(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// dupKey reports whether a key in list already gives key's records: the same algorithm and
// key field, and for IPSECA the same rdata.
func dupKey(ix *Index, list []uint32, key uint32, ipseca bool) bool {
	k := &ix.keys[key]
	for _, other := range list {
		o := &ix.keys[other]
		if o.alg == k.alg && string(o.field.of(ix.blob)) == string(k.field.of(ix.blob)) &&
			(!ipseca || string(o.ipseca.of(ix.blob)) == string(k.ipseca.of(ix.blob))) {
			return true
		}
	}
	return false
}

// addGateways compiles the gateway lines: a target's own keys, with the line's gateway, for
// every address of the prefix; and gives the owners inside a prefix its records.
func (b *builder) addGateways(o *Options) {
	ix := b.ix
	gwRoom := maxRRsetWire
	for _, g := range o.Gateways {
		target := g.Target
		gwType, gwAddr, gwHost := uint8(GatewayHost), net.IP(nil), g.Target
		if g.Addr.IsValid() {
			target = keyfile.AddrOwner(g.Addr).Name
			gwType, gwAddr, gwHost = GatewayIPv4, net.IP(g.Addr.AsSlice()), ""
			if g.Addr.Is6() {
				gwType = GatewayIPv6
			}
		}
		gwLen := gatewayLen(&Record{GatewayType: gwType, GatewayHost: gwHost})
		id := ix.find(target)
		if id < 0 || ix.names[id].keys.n == 0 {
			ix.errors = append(ix.errors, keyfile.Refuse(keyfile.ReasonGateway, "gateway %s %s: no key for %q in the key directory", g.Prefix, g.Target, target))
			continue
		}
		// An address may be inside every prefix: all the gateway lines' records together
		// must fit in one message, in the order of the lines.
		keys := ix.list(&ix.names[id].keys)
		n, used := fitKeys(keys, gwRoom, func(key uint32) int { return ipseckeyWire(int(ix.keys[key].field.n), gwLen) })
		if n < len(keys) {
			ix.errors = append(ix.errors, keyfile.Refuse(keyfile.ReasonSize, "gateway %s %s: %d of the %d keys of %q left out: the records of all gateway lines fill the %d octets one DNS message holds with its signatures",
				g.Prefix, g.Target, len(keys)-n, len(keys), target, maxRRsetWire))
		}
		gwRoom -= used
		gw := gateway{prefix: g.Prefix}
		for _, key := range keys[:n] {
			k := &ix.keys[key]
			gw.keys = appendKey(gw.keys, &Record{Precedence: g.Precedence, GatewayType: gwType, Algorithm: k.alg,
				GatewayAddr: gwAddr, GatewayHost: gwHost, Key: k.field.of(ix.blob)})
		}
		ix.gateways = append(ix.gateways, gw)
	}
	if len(ix.gateways) == 0 {
		return
	}
	// Only the reverse tree of a family some prefix is in can hold an owner inside one.
	var trees []string
	for _, g := range ix.gateways {
		tree := keyfile.In6Arpa
		if g.prefix.Addr().Is4() {
			tree = keyfile.In4Arpa
		}
		if !slices.Contains(trees, tree) {
			trees = append(trees, tree)
		}
	}
	for id := range ix.names {
		nr := &ix.names[id]
		if nr.keys.n == 0 {
			continue
		}
		name := nr.name.of(ix.blob)
		if !slices.ContainsFunc(trees, func(t string) bool { return bytes.HasSuffix(name, []byte(t)) }) {
			continue
		}
		if p, ok := keyfile.ReversePrefix(string(name)); ok && p.IsSingleIP() {
			if keys, ok := ix.gatewaysFor(p.Addr()); ok {
				if ix.gwKeys == nil {
					ix.gwKeys = map[uint32][]*Record{}
				}
				nr.gw, ix.gwKeys[uint32(id)] = true, keys
				b.fitWithGateways(id, keys)
			}
		}
	}
}

// addOnes copies into the record of each name with one key, once its lists are final, that
// key's IPSECKEY field and algorithm, or else its IPSECA rdata: a lookup at a random name
// then finds its records without a read of the key's own record.
func (b *builder) addOnes(pc *Pacer) {
	ix := b.ix
	for id := range ix.names {
		if id%4096 == 0 {
			pc.tick()
		}
		nr := &ix.names[id]
		switch {
		case nr.keys.n == 1:
			k := &ix.keys[nr.keys.off]
			nr.one, nr.alg = k.field, k.alg
		case nr.ipseca.n == 1:
			nr.one = ix.keys[nr.ipseca.off].ipseca
		}
	}
}

// fitWithGateways leaves out the keys of an owner inside gateway prefixes that do not fit
// beside the prefixes' records (and its IPSECA, for ANY) in one message.
func (b *builder) fitWithGateways(id int, gw []*Record) {
	ix := b.ix
	nr := &ix.names[id]
	room := maxRRsetWire
	for _, d := range gw {
		room -= ipseckeyWire(len(d.Key), gatewayLen(d))
	}
	for _, key := range ix.list(&nr.ipseca) {
		room -= ipsecaWire(ix.keys[key].ipseca.of(ix.blob))
	}
	keys := ix.list(&nr.keys)
	n, _ := fitKeys(keys, room, b.wireSize(false))
	if n < len(keys) {
		ix.errors = append(ix.errors, b.trimmed(ix.name(id), n, len(keys), keys[n:]))
		switch n {
		case 0:
			nr.keys = span{}
		case 1:
			nr.keys = span{keys[0], 1}
		default:
			nr.keys.n = uint32(n)
		}
	}
}

// count sets the sum and the metrics. The sum is over every record, so it does
// not depend on the order of files or names.
func (b *builder) count() {
	ix := b.ix
	var sum uint64
	seen := newHashSet(len(ix.keys))
	var hs [16]uint64 // a batch, as nameBatch does it for the names
	for lo := 0; lo < len(ix.keys); lo += len(hs) {
		keys := ix.keys[lo:min(lo+len(hs), len(ix.keys))]
		for i := range keys {
			hs[i] = maphash.Bytes(ix.seed, keys[i].field.of(ix.blob))
		}
		b.sink += seen.touch(hs[:len(keys)])
		for i := range keys {
			if seen.add(hs[i]) {
				ix.algCount[ix.kinds[keys[i].kind]]++
			}
		}
	}
	for _, g := range ix.gateways {
		for _, d := range g.keys {
			sum += hash64(g.prefix.String())*31 ^ hash64(d.rdataKey())
		}
	}
	var rdata []byte
	for id := range ix.names {
		nr := &ix.names[id]
		hn := recordHash(nr.name.of(ix.blob))
		for _, key := range ix.list(&nr.keys) {
			k := &ix.keys[key]
			rdata = append(append(rdata[:0], ix.precedence, GatewayNone, k.alg), k.field.of(ix.blob)...)
			sum += hn*31 ^ recordHash(rdata)
		}
		ix.records["IPSECKEY"] += int(nr.keys.n)
		at := ix.ipsecaAt(nr)
		for u, s, m, data, ok := at.next(); ok; u, s, m, data, ok = at.next() {
			rdata = append(append(rdata[:0], u, s, m), data...)
			sum += hn*31 ^ recordHash(rdata)
			ix.records["IPSECA"]++
		}
	}
	ix.sum = uint32(sum>>32) ^ uint32(sum)
	ix.serial = ix.sum
}

// list returns the key ids of s, a name's span in names: a span of one key holds the key's
// id in off itself, not in lists, which spares a lookup at a name of one key a read from
// memory. The ids of a span of one are s's own memory: they are never written to.
func (ix *Index) list(s *span) []uint32 {
	if s.n == 1 {
		return unsafe.Slice(&s.off, 1)
	}
	return ix.lists[s.off : s.off+s.n]
}

// ipsecaAt walks the IPSECA records at a name, each once: a record another key at the
// name already gave is skipped.
type ipsecaAt struct {
	ix   *Index
	keys []uint32
	i    int
	it   ipsecaIter
}

func (ix *Index) ipsecaAt(nr *nameRec) ipsecaAt {
	if nr.ipseca.n == 1 && nr.keys.n != 1 { // one key: its rdata is in the name's record
		return ipsecaAt{ix: ix, it: ipsecaIter{nr.one.of(ix.blob)}}
	}
	return ipsecaAt{ix: ix, keys: ix.list(&nr.ipseca), i: -1}
}

// next returns the next record; ok is false at the end.
func (a *ipsecaAt) next() (usage, selector, matching uint8, data []byte, ok bool) {
	for {
		if u, s, m, d, ok := a.it.next(); ok {
			if !a.seen(u, s, m, d) {
				return u, s, m, d, true
			}
			continue
		}
		if a.i++; a.i >= len(a.keys) {
			return 0, 0, 0, nil, false
		}
		a.it = ipsecaIter{a.ix.keys[a.keys[a.i]].ipseca.of(a.ix.blob)}
	}
}

// seen reports whether a key before the current one gave the same record.
func (a *ipsecaAt) seen(u, s, m uint8, d []byte) bool {
	for _, prev := range a.keys[:a.i] {
		it := ipsecaIter{a.ix.keys[prev].ipseca.of(a.ix.blob)}
		for pu, ps, pm, pd, ok := it.next(); ok; pu, ps, pm, pd, ok = it.next() {
			if pu == u && ps == s && pm == m && string(pd) == string(d) {
				return true
			}
		}
	}
	return false
}

// hashSet is a set of 64-bit hashes in an open-addressing table: a map of a million
// entries costs a load several times as much.
type hashSet struct {
	slots []uint64 // 0 for empty; a hash of 0 is kept as 1
}

func newHashSet(n int) hashSet { return hashSet{slots: make([]uint64, tableSize(n))} }

// touch reads the slots where hs would go, together, so that add finds them in cache.
func (s hashSet) touch(hs []uint64) uint64 {
	mask := uint64(len(s.slots) - 1)
	var sum uint64
	for _, h := range hs {
		sum += s.slots[h&mask]
	}
	return sum
}

// add adds h and reports whether it was new.
func (s hashSet) add(h uint64) bool {
	if h == 0 {
		h = 1
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return false
		case 0:
			s.slots[i] = h
			return true
		}
	}
}

// hash64 is FNV-1a, inline so that hashing a string does not copy it.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// recordSeed keys recordHash; the records' hash is only compared within the process.
var recordSeed = maphash.MakeSeed()

// recordHash is the hash of one record's owner or rdata in the records' hash, which is
// taken over every key the index holds.
func recordHash(b []byte) uint64 { return maphash.Bytes(recordSeed, b) }
