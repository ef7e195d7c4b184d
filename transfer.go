package ipsecoe

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/coredns/coredns/plugin/transfer"

	"github.com/ipsecoe/ipsecoe/internal/index"
	"github.com/ipsecoe/ipsecoe/internal/keyfile"

	"github.com/miekg/dns"
)

// Zone transfers go through the transfer plugin of the server block, which finds the plugin
// as a transfer.Transferer: a transfer holds the SOA, the NS and every record at a name the
// index lists (owners, _PORT names, owners inside gateway prefixes). The other addresses of a
// gateway prefix exist only as a rule (a /64 has 2^64) and are not listed; with fallthrough,
// the zone's other names belong to the next plugin and are not in it either. With allow, it
// holds no IPSECA: the secondaries' clients are nobody's to choose.

// Transfer implements the transfer.Transferer interface.
func (p *IPSecOE) Transfer(zone string, serial uint32) (<-chan []dns.RR, error) {
	zone = strings.ToLower(zone)
	if matchZone(p.Zones, zone) != zone {
		return nil, transfer.ErrNotAuthoritative
	}
	ix := p.idx.Load()
	if ix == nil {
		return nil, errNotLoaded
	}
	apex := p.apexes[zone]
	soa := soa(apex, p.negTTL(), ix.Serial())
	ch := make(chan []dns.RR)
	if serial != 0 && int32(serial-ix.Serial()) >= 0 {
		// The secondary is up to date (RFC 1982); an older serial gets the whole zone.
		go func() { ch <- []dns.RR{soa}; close(ch) }()
		return ch, nil
	}
	names := zoneNames(ix, func(name string) bool { return matchZone(p.Zones, name) == zone })
	if n := p.gatewaysIn(ix, zone); n > 0 {
		log.Infof("transfer of %q: the addresses of %d gateway prefixes are not listed, only their owners with keys", zone, n)
	}
	go func() {
		defer close(ch)
		ch <- []dns.RR{soa, ns(apex, p.ttl)}
		for _, name := range names {
			n, _ := ix.Lookup(name)
			rrs := appendIPSECKEY(nil, n, name, p.ttl)
			if len(p.allow) == 0 {
				rrs = appendIPSECA(rrs, n, name, p.ttl)
			}
			if len(rrs) > 0 {
				ch <- rrs
			}
		}
		ch <- []dns.RR{soa}
	}()
	return ch, nil
}

// zoneNames returns the names with records of the index's own, those in says are in, in
// canonical order (RFC 4034 6.1).
func zoneNames(ix *index.Index, in func(string) bool) []string {
	var names []string
	for id := range ix.Names() {
		if name := ix.Name(id); in(name) {
			if n, _ := ix.Lookup(name); n.Explicit() {
				names = append(names, name)
			}
		}
	}
	sort.Slice(names, func(i, j int) bool { return canonicalLess(names[i], names[j]) })
	return names
}

// gatewaysIn counts the gateway prefixes whose addresses are in zone.
func (p *IPSecOE) gatewaysIn(ix *index.Index, zone string) int {
	n := 0
	ix.Gateways(func(prefix netip.Prefix, _ []*index.Record) {
		if matchZone(p.Zones, keyfile.AddrOwner(prefix.Addr()).Name) == zone {
			n++
		}
	})
	return n
}

// notify tells the transfer plugin's secondaries that the key set changed, in the
// background: a secondary that does not answer must not hold up the next reload.
func (p *IPSecOE) notify() {
	x := p.xfer
	if x == nil {
		return
	}
	for _, z := range p.Zones {
		go func() {
			if err := x.Notify(z); err != nil {
				log.Warningf("notify for %q: %s", z, printable(err))
			}
		}()
	}
}

// canonicalLess orders names as DNSSEC does (RFC 4034 6.1), label by label from the right.
func canonicalLess(a, b string) bool {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if la[i] != lb[j] {
			return la[i] < lb[j]
		}
	}
	return len(la) < len(lb)
}
