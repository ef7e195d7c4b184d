package ipsecoe

import (
	"github.com/coredns/coredns/plugin/dnssec"
	"github.com/ipsecoe/ipsecoe/internal/index"

	"github.com/miekg/dns"
)

// findSigner looks up the dnssec plugin of the server block; it runs at startup, once the
// plugin chain is built.
func findSigner(h any) *dnssec.Dnssec {
	if d, ok := h.(dnssec.Dnssec); ok {
		return &d
	}
	return nil
}

// storeFor is where the signatures of an RRset at n are kept.
func (s *signer) storeFor(n index.Node) *sigStore {
	if n.Explicit() {
		return s.names
	}
	return s.others
}

// signAnswer appends to m.Answer the RRSIGs over each RRset in it: n's records at lname,
// in the query's case, or the zone's SOA and NS at its apex.
func (p *IPSecOE) signAnswer(s *signer, m *dns.Msg, n index.Node, lname, zone, server string) {
	rrs := m.Answer
	for i := 0; i < len(rrs); {
		j := i + 1
		for j < len(rrs) && rrs[j].Header().Rrtype == rrs[i].Header().Rrtype {
			j++
		}
		t := rrs[i].Header().Rrtype
		store, ln, at := s.storeFor(n), lname, index.Node{}
		switch {
		case t == dns.TypeSOA || t == dns.TypeNS:
			store, ln = s.others, zone
		case store == s.names && i == 0:
			at = n // the hint at a name is for its first RRset: the one asked for, but with ANY
		}
		m.Answer = s.appendSigs(m.Answer, store, at, rrs[i].Header().Name, ln, rrs[i:j], rrs[i].Header().Ttl, server)
		i = j
	}
}

// blackLie is the NSEC of a denial at owner: it covers owner alone (its next name is the
// least name below it, in lower case: a signed field) and lists types.
func blackLie(owner, lname string, ttl uint32, types []uint16) *dns.NSEC {
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: `\000.` + lname,
		TypeBitMap: types,
	}
}

// signedNSEC returns the NSEC of a denial at owner listing types, and its RRSIGs. In
// fallthrough mode the bitmap depends on the type asked, and the signatures go to the
// bounded store.
func (p *IPSecOE) signedNSEC(s *signer, n index.Node, owner, lname string, ttl uint32, types []uint16, through bool, server string) []dns.RR {
	store := s.storeFor(n)
	if through {
		store = s.others
	}
	set := []dns.RR{blackLie(owner, lname, ttl, types)}
	return s.appendSigs(set, store, index.Node{}, owner, lname, set, ttl, server)
}

// signedSOA returns the zone's SOA and its RRSIGs.
func (p *IPSecOE) signedSOA(s *signer, zone string, serial uint32, server string) []dns.RR {
	rr := soa(p.apexes[zone], p.negTTL(), serial)
	set := []dns.RR{rr}
	return s.appendSigs(set, s.others, index.Node{}, zone, zone, set, rr.Hdr.Ttl, server)
}

// renew is the renewal pass: it walks the names of the index and signs again, ahead of
// time, each RRset whose kept signatures come within renewBefore of expiring; then it
// forgets the signatures of names that are gone, and of rdata that changed. pc paces it.
func (p *IPSecOE) renew(pc *index.Pacer) {
	s, ix := p.signer.Load(), p.idx.Load()
	if s == nil || ix == nil || s.names.len() == 0 {
		return // nothing kept: nothing to renew or forget
	}
	pass := s.pass.Add(1)
	now := s.now()
	for id := range ix.Names() {
		pc.Tick()
		name := ix.Name(id)
		zone := matchZone(p.Zones, name)
		if !s.zones[zone] {
			continue
		}
		n, _ := ix.Lookup(name)
		if !n.Explicit() {
			continue
		}
		for _, set := range p.keptSets(n, name, zone) {
			t := set[0].Header().Rrtype
			k := s.names.key(name, t, rdataSum(s.names.seed, set))
			sigs, ok := s.names.mark(k, pass)
			if ok && within(earliest(sigs), now, renewBefore) {
				s.names.put(k, s.sign(set, name, "", now, true), pass)
				signCount.WithLabelValues("", "renewed").Inc()
			}
		}
	}
	s.names.sweep(pass)
}

// keptSets are the RRsets at an explicit name whose signatures the names store keeps.
func (p *IPSecOE) keptSets(n index.Node, name, zone string) [][]dns.RR {
	var sets [][]dns.RR
	if rrs := appendIPSECKEY(nil, n, name, p.ttl); len(rrs) > 0 {
		sets = append(sets, rrs)
	}
	if rrs := appendIPSECA(nil, n, name, p.ttl); len(rrs) > 0 {
		sets = append(sets, rrs)
	}
	if !p.through(name) {
		types := denialTypes(n, 0, name == zone, false)
		sets = append(sets, []dns.RR{blackLie(name, name, p.negTTL(), types)})
	}
	return sets
}

// sizeStores bounds the store of names the index does not list to the index's size, and
// at least otherSigs.
func (p *IPSecOE) sizeStores(ix *index.Index) {
	if s := p.signer.Load(); s != nil {
		s.others.setCapacity(max(otherSigs, ix.Names()))
	}
}

// through reports whether lname is in a fallthrough zone.
func (p *IPSecOE) through(lname string) bool { return matchZone(p.Fall.Zones, lname) != "" }
