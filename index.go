package ipsecoe

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// gatewayConf is one "gateway PREFIX TARGET [PRECEDENCE]" line.
type gatewayConf struct {
	prefix     netip.Prefix
	target     string     // the target as written: an address or a lower-case FQDN
	addr       netip.Addr // the target address; invalid for a domain name target
	precedence uint8
}

// daneConf is one "dane USAGE SELECTOR MATCHING" line.
type daneConf struct{ usage, selector, matching uint8 }

// options are the Corefile settings that shape the records.
type options struct {
	precedence uint8
	gateways   []gatewayConf
	ports      []uint16
	dane       []daneConf
}

// node is a name of the index. A node with no records is an empty non-terminal.
type node struct {
	keys   []*ipseckeyData
	ipseca []*IPSECA
}

// gateway is a compiled gateway line: the records every address in prefix gets.
type gateway struct {
	prefix netip.Prefix
	keys   []*ipseckeyData
}

// index is one immutable, complete key set. It is swapped whole on reload.
type index struct {
	names    map[string]*node // lower-case owner names and their ancestors
	gateways []gateway
	serial   uint32

	files    []*keyFile     // what each file gave, for the next reload and for logging
	errors   []error        // gateway errors: lines whose target has no key
	records  map[string]int // records by type, for metrics
	algCount map[string]int // distinct keys by algorithm, for metrics
}

var ent = &node{}

// buildIndex turns the read key files into an index. It is pure: no I/O, no logging; a
// non-nil pc paces it.
func buildIndex(files []*keyFile, o *options, pc *pacer) *index {
	nkeys := 0
	for _, f := range files {
		nkeys += len(f.keys)
	}
	// Sized up front: growing maps of a million names costs more than filling them.
	ix := &index{names: make(map[string]*node, nkeys*(1+len(o.ports))+nkeys/64), files: files,
		records: map[string]int{}, algCount: map[string]int{}}
	var sum uint64
	add := func(name string, s string) { sum += hash64(name)*31 ^ hash64(s) }

	owners := make(map[string][]*pubKey, nkeys) // non-port owners, for IPSECKEY and IPSECA and gateways
	ports := map[string][]*pubKey{}             // explicit _PORT owners
	seenKey := make(map[string]bool, nkeys)
	for _, f := range files {
		pc.tick()
		for _, k := range f.keys {
			if !seenKey[k.key] {
				seenKey[k.key] = true
				ix.algCount[k.kind]++
			}
			for _, ow := range k.owners {
				if ow.port != 0 {
					ports[ow.name] = append(ports[ow.name], k)
				} else {
					owners[ow.name] = append(owners[ow.name], k)
				}
			}
		}
	}

	for _, g := range o.gateways {
		target := g.target
		gwType, gwAddr, gwHost := uint8(gwTypeHost), net.IP(nil), g.target
		if g.addr.IsValid() {
			target = addrOwner(g.addr).name
			gwType, gwAddr, gwHost = gwTypeIPv4, net.IP(g.addr.AsSlice()), ""
			if g.addr.Is6() {
				gwType = gwTypeIPv6
			}
		}
		keys := owners[target]
		if len(keys) == 0 {
			ix.errors = append(ix.errors, refuse(reasonGateway, "gateway %s %s: no key for %s in the key directory", g.prefix, g.target, target))
			continue
		}
		gw := gateway{prefix: g.prefix}
		for _, k := range keys {
			gw.keys = appendKey(gw.keys, &ipseckeyData{precedence: g.precedence, gwType: gwType, algorithm: k.algorithm,
				gwAddr: gwAddr, gwHost: gwHost, publicKey: k.key})
		}
		for _, d := range gw.keys {
			add(g.prefix.String(), d.rdataKey())
		}
		ix.gateways = append(ix.gateways, gw)
	}

	for name, keys := range owners {
		pc.tick()
		n := ix.node(name)
		for _, k := range keys {
			n.keys = appendKey(n.keys, &ipseckeyData{precedence: o.precedence, algorithm: k.algorithm,
				publicKey: k.key})
		}
		for _, d := range n.keys {
			add(name, d.rdataKey())
		}
		ix.records["IPSECKEY"] += len(n.keys)
		if p, ok := reversePrefix(name); ok && p.IsSingleIP() {
			for _, g := range ix.gateways {
				if g.prefix.Contains(p.Addr()) {
					for _, d := range g.keys {
						n.keys = appendKey(n.keys, d)
					}
				}
			}
		}
		for _, port := range o.ports {
			if pn := portName(port, name); len(pn) <= maxNameLen {
				ix.addIPSECA(pn, keys, o.dane, add)
			}
		}
	}
	for name, keys := range ports {
		pc.tick()
		ix.addIPSECA(name, keys, o.dane, add)
	}
	ix.serial = uint32(sum>>32) ^ uint32(sum)
	return ix
}

// node returns the node of name, creating it and marking its ancestors as empty
// non-terminals where they are not names already.
func (ix *index) node(name string) *node {
	n := ix.names[name]
	if n != nil && n != ent {
		return n
	}
	n = &node{}
	ix.names[name] = n
	for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
		anc := name[off:]
		if _, ok := ix.names[anc]; ok {
			break
		}
		ix.names[anc] = ent
	}
	return n
}

func (ix *index) addIPSECA(name string, keys []*pubKey, lines []daneConf, add func(string, string)) {
	var recs []*IPSECA
	for _, k := range keys {
		for _, d := range k.associations(lines) {
			recs = appendIPSECA(recs, d)
		}
	}
	if len(recs) == 0 {
		return
	}
	n := ix.node(name)
	before := len(n.ipseca)
	for _, r := range recs {
		n.ipseca = appendIPSECA(n.ipseca, r)
	}
	for _, r := range n.ipseca[before:] {
		add(name, string([]byte{r.Usage, r.Selector, r.MatchingType})+string(r.Data))
	}
	ix.records["IPSECA"] += len(n.ipseca) - before
}

// associations returns k's IPSECA rdata for lines: computed at load time (compact), or now.
func (k *pubKey) associations(lines []daneConf) []*IPSECA {
	if k.compacted {
		return k.ipseca
	}
	var out []*IPSECA
	for _, l := range lines {
		if d := associate(k, l); d != nil {
			out = append(out, d)
		}
	}
	return out
}

// compact computes k's IPSECA rdata for o, when any will be published, and lets go of the
// certificate and SubjectPublicKeyInfo: a key then costs little more than its key field.
func (k *pubKey) compact(o *options) {
	need := len(o.ports) > 0
	for _, ow := range k.owners {
		need = need || ow.port != 0
	}
	if need {
		k.ipseca = k.associations(o.dane)
	}
	k.spki, k.cert, k.sanIPs, k.sanNames, k.compacted = nil, nil, nil, nil, true
}

// associate computes the IPSECA rdata of k for one dane line; nil when a bare key is asked
// for selector 0 (it has no certificate).
func associate(k *pubKey, l daneConf) *IPSECA {
	var data []byte
	switch l.selector {
	case 0:
		data = k.cert
	case 1:
		data = k.spki
	}
	if data == nil {
		return nil
	}
	switch l.matching {
	case 1:
		s := sha256.Sum256(data)
		data = s[:]
	case 2:
		s := sha512.Sum512(data)
		data = s[:]
	}
	return &IPSECA{Usage: l.usage, Selector: l.selector, MatchingType: l.matching, Data: data}
}

// String gives the rdata in presentation form, for hashing and tests.
func (d *ipseckeyData) String() string {
	return ipseckey(".", 0, d).String()
}

func appendKey(list []*ipseckeyData, d *ipseckeyData) []*ipseckeyData {
	for _, e := range list {
		if e.precedence == d.precedence && e.gwType == d.gwType && e.algorithm == d.algorithm &&
			e.gwAddr.Equal(d.gwAddr) && strings.EqualFold(e.gwHost, d.gwHost) && e.publicKey == d.publicKey {
			return list
		}
	}
	return append(list, d)
}

func appendIPSECA(list []*IPSECA, d *IPSECA) []*IPSECA {
	for _, e := range list {
		if e.Usage == d.Usage && e.Selector == d.Selector && e.MatchingType == d.MatchingType && string(e.Data) == string(d.Data) {
			return list
		}
	}
	return append(list, d)
}

// rdataKey identifies d's rdata for the serial hash, cheaply.
func (d *ipseckeyData) rdataKey() string {
	return string([]byte{d.precedence, d.gwType, d.algorithm}) + string(d.gwAddr) + d.gwHost + d.publicKey
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

// lookup finds lower-case name. exists is true for owners, empty non-terminals, addresses
// inside a gateway prefix and the reverse names above such addresses.
func (ix *index) lookup(name string) (n *node, exists bool) {
	n, ok := ix.names[name]
	if ok && n != ent {
		return n, true
	}
	if len(ix.gateways) == 0 || !isReverseZone(name) {
		return n, ok
	}
	// An address inside a gateway prefix may also be an empty non-terminal (above an
	// explicit _PORT owner): it still gets the gateway records.
	if g, gok := ix.gatewayLookup(name); gok {
		return g, true
	}
	return n, ok
}

// gatewayLookup answers reverse names from the gateway prefixes alone.
func (ix *index) gatewayLookup(name string) (*node, bool) {
	p, ok := reversePrefix(name)
	if !ok {
		return nil, false
	}
	if !p.IsSingleIP() {
		for _, g := range ix.gateways {
			if g.prefix.Overlaps(p) {
				return ent, true
			}
		}
		return nil, false
	}
	var keys []*ipseckeyData
	matches := 0
	for _, g := range ix.gateways {
		if g.prefix.Contains(p.Addr()) {
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
	if matches == 0 {
		return nil, false
	}
	return &node{keys: keys}, true
}

// summary is a one-line account of the index for the reload log.
func (ix *index) summary() string {
	return fmt.Sprintf("%d IPSECKEY and %d IPSECA records at %d names, %d gateway prefixes, serial %d",
		ix.records["IPSECKEY"], ix.records["IPSECA"], len(ix.names), len(ix.gateways), ix.serial)
}
