package ipsecoe

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/request"

	"github.com/miekg/dns"
)

var errNotLoaded = errors.New("key directory not loaded yet")

// ServeDNS implements the plugin.Handler interface.
func (p *IPSecOE) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	state := request.Request{W: w, Req: r}
	qname, lname := questionName(state) // replies keep the query's case; lname is for matching
	zone := matchZone(p.Zones, lname)
	if zone == "" || state.QClass() != dns.ClassINET {
		return plugin.NextOrFailure(p.Name(), p.Next, ctx, w, r)
	}
	if qt := state.QType(); qt == dns.TypeAXFR || qt == dns.TypeIXFR {
		if p.xfer == nil {
			return dns.RcodeRefused, nil // no transfer plugin, no transfers
		}
		return plugin.NextOrFailure(p.Name(), p.Next, ctx, w, r) // to the transfer plugin
	}
	s := p.signer.Load()
	zoneSigned := s != nil && s.zones[zone]
	if zoneSigned && state.QType() == dns.TypeDNSKEY && lname == zone {
		return plugin.NextOrFailure(p.Name(), p.Next, ctx, w, r) // the dnssec plugin's
	}
	ix := p.idx.Load()
	if ix == nil {
		return dns.RcodeServerFailure, errNotLoaded
	}
	server := metrics.WithServer(ctx)
	qtype := state.QType()
	apex := lname == zone
	n, exists := ix.Lookup(lname)
	if len(p.allow) > 0 && (qtype == TypeIPSECA || n.HasIPSECA() || portLabel(lname)) && !p.allowed(state) {
		deniedCount.WithLabelValues(server).Inc()
		return p.withhold(w, r, server)
	}
	through := p.through(lname)
	signed := zoneSigned && state.Do()

	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true

	if signed && (qtype == dns.TypeIPSECKEY || qtype == TypeIPSECA) {
		m.Answer = make([]dns.RR, 0, 2) // a record and its RRSIG: grown once, not twice
	}
	if qtype == dns.TypeIPSECKEY || qtype == dns.TypeANY {
		m.Answer = appendIPSECKEY(m.Answer, n, qname, p.ttl)
	}
	if qtype == TypeIPSECA || qtype == dns.TypeANY {
		m.Answer = appendIPSECA(m.Answer, n, qname, p.ttl)
	}
	if apex && !through {
		if qtype == dns.TypeSOA || qtype == dns.TypeANY {
			m.Answer = append(m.Answer, soa(p.apexes[zone], p.negTTL(), ix.Serial()))
		}
		if qtype == dns.TypeNS || qtype == dns.TypeANY {
			m.Answer = append(m.Answer, ns(p.apexes[zone], p.ttl))
		}
	}

	if len(m.Answer) == 0 {
		if through {
			if exists {
				// The name is in the plugin's tree: the next plugin's denial must not say
				// NXDOMAIN, and where the name holds keys its NSEC must list them.
				sign := signed && n.HoldsRecords()
				w = &denialWriter{ResponseWriter: w, p: p, s: s, state: state, n: n, apex: apex, sign: sign, server: server}
			}
			return plugin.NextOrFailure(p.Name(), p.Next, ctx, w, r)
		}
		if !exists && !apex {
			m.Rcode = dns.RcodeNameError
		}
		if signed {
			p.signedDenial(s, m, n, qname, lname, zone, ix.Serial(), server)
		} else {
			m.Ns = []dns.RR{soa(p.apexes[zone], p.negTTL(), ix.Serial())}
		}
	} else if signed {
		p.signAnswer(s, m, n, lname, zone, server)
	}
	w.WriteMsg(m)
	countResponse(server, qtype, m.Rcode)
	return dns.RcodeSuccess, nil
}

// questionName returns the question's name as asked and in lower case. A name from the
// wire made of letters, digits, hyphens, underscores and dots is already in presentation
// form, so it skips request.Request's re-escaping, a cost that grows with the name (a
// reverse IPv6 name has 34 labels); anything else goes the long way.
func questionName(state request.Request) (qname, lname string) {
	if len(state.Req.Question) == 0 {
		return state.QName(), state.Name()
	}
	qname = state.Req.Question[0].Name
	upper := false
	for i := 0; i < len(qname); i++ {
		switch c := qname[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		case c >= 'A' && c <= 'Z':
			upper = true
		default:
			return state.QName(), state.Name()
		}
	}
	if qname == "" || qname[len(qname)-1] != '.' {
		return state.QName(), state.Name()
	}
	if upper {
		return qname, strings.ToLower(qname)
	}
	return qname, qname
}

// withhold answers a client outside allow that asks about IPSECA: REFUSED, with the
// extended error Prohibited (RFC 8914) where the query has EDNS. Neither a record nor a
// denial: a NODATA would be signed by dnssec, and a signed statement that no IPSECA exists
// could be replayed to allowed peers to strip DANE. Being the same whether or not IPSECA
// exists at the name, it reveals nothing either; and cache keeps no REFUSED.
func (p *IPSecOE) withhold(w dns.ResponseWriter, r *dns.Msg, server string) (int, error) {
	m := new(dns.Msg)
	m.SetRcode(r, dns.RcodeRefused)
	if opt := r.IsEdns0(); opt != nil {
		o := new(dns.OPT)
		o.Hdr.Name, o.Hdr.Rrtype = ".", dns.TypeOPT
		o.SetUDPSize(opt.UDPSize())
		o.SetDo(opt.Do())
		o.Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeProhibited}}
		m.Extra = []dns.RR{o}
	}
	w.WriteMsg(m)
	countResponse(server, r.Question[0].Qtype, m.Rcode)
	return dns.RcodeSuccess, nil // written, as acl does: a returned REFUSED would be written again
}

// portLabel reports whether lname's first label is a port, _1 to _65535: the names IPSECA
// records are published at.
func portLabel(lname string) bool {
	if len(lname) < 3 || lname[0] != '_' {
		return false
	}
	port := 0
	for i := 1; i < len(lname) && i <= 6; i++ {
		c := lname[i]
		switch {
		case c == '.':
			return i > 1 && port <= 65535 && lname[1] != '0'
		case c < '0' || c > '9':
			return false
		}
		port = 10*port + int(c-'0')
	}
	return false
}

// allowed reports whether the client may receive IPSECA answers.
func (p *IPSecOE) allowed(state request.Request) bool {
	if len(p.allow) == 0 {
		return true
	}
	a, err := netip.ParseAddr(state.IP())
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, pfx := range p.allow {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// matchZone is plugin.Zones.Matches for a lower-case name, without its allocations (it
// splits the name into labels once per zone): the longest zone lname is in, or "".
func matchZone(zones []string, lname string) string {
	if strings.IndexByte(lname, '\\') >= 0 {
		return plugin.Zones(zones).Matches(lname) // escaped dots: leave it to miekg/dns
	}
	zone := ""
	for _, z := range zones {
		if len(z) <= len(zone) || !strings.HasSuffix(lname, z) {
			continue
		}
		if z == "." || len(lname) == len(z) || lname[len(lname)-len(z)-1] == '.' {
			zone = z
		}
	}
	return zone
}
