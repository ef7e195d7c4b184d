package ipsecoe

import (
	"slices"

	"github.com/coredns/coredns/request"
	"github.com/ipsecoe/ipsecoe/internal/index"

	"github.com/miekg/dns"
)

// The dnssec plugin answers a denial with an NSEC "black lie" whose type bitmap is a fixed
// list without IPSECKEY and TYPE65347. A validating resolver doing aggressive NSEC (RFC 8198)
// would, after a signed NODATA for, say, TXT at a name holding keys, deny the keys from its
// cache. So the plugin writes its signed denials itself: the SOA, an NSEC that covers the
// name asked alone and lists the types served there (never the type asked), and their
// RRSIGs, signed with the keys of the dnssec plugin of the same server block (see
// signer.go). In fallthrough mode the next plugin's denial comes back signed by dnssec, and
// at a name holding keys the plugin puts its own NSEC in place of dnssec's.

// blackLieTypes are the types dnssec's black lies claim below the apex, plus PTR and the
// plugin's own: the bitmap when other plugins may hold other types at the name (fallthrough).
var blackLieTypes = []uint16{
	dns.TypeA, dns.TypeHINFO, dns.TypePTR, dns.TypeTXT, dns.TypeAAAA, dns.TypeLOC, dns.TypeSRV,
	dns.TypeCERT, dns.TypeSSHFP, dns.TypeIPSECKEY, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeTLSA,
	dns.TypeHIP, dns.TypeOPENPGPKEY, dns.TypeSPF, TypeIPSECA,
}

// apexTypes are added at a zone apex: what the plugin serves there, and DNSKEY, which the
// dnssec plugin does.
var apexTypes = []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeDNSKEY}

// denialTypes is the NSEC type bitmap of a NODATA for qtype at a name holding n's records.
// Authoritative, it lists exactly what is there; in fallthrough mode, where another plugin
// may answer other types, it also claims the black-lie types, as dnssec would.
func denialTypes(n index.Node, qtype uint16, apex, through bool) []uint16 {
	types := []uint16{dns.TypeRRSIG, dns.TypeNSEC}
	if n.HasKeys() {
		types = append(types, dns.TypeIPSECKEY)
	}
	if n.HasIPSECA() {
		types = append(types, TypeIPSECA)
	}
	if apex {
		types = append(types, apexTypes...)
	}
	if through {
		types = append(types, blackLieTypes...)
		if apex {
			types = append(types, dns.TypeMX)
		}
	}
	slices.Sort(types)
	types = slices.Compact(types)
	if qtype == dns.TypeNSEC {
		return types
	}
	return slices.DeleteFunc(types, func(t uint16) bool { return t == qtype })
}

// signedDenial makes m, an empty answer from the plugin's own zone, a signed denial of
// existence: the name holds nothing of the type asked (or nothing at all, and is still
// given as NODATA, as dnssec's black lies do). A question for NSEC gets the NSEC itself.
func (p *IPSecOE) signedDenial(s *signer, m *dns.Msg, n index.Node, qname, lname, zone string, serial uint32, server string) {
	qtype := m.Question[0].Qtype
	nsec := p.signedNSEC(s, n, qname, lname, p.negTTL(), denialTypes(n, qtype, lname == zone, false), false, server)
	soa := p.signedSOA(s, zone, serial, server)
	if countType(nsec, dns.TypeRRSIG) == 0 || countType(soa, dns.TypeRRSIG) == 0 {
		// Never for a zone dnssec signs at its apex, short of a failure to sign: then the
		// plain denial, rather than an NSEC no validator could check.
		m.Ns = soa[:1]
		return
	}
	m.Rcode = dns.RcodeSuccess
	if qtype == dns.TypeNSEC {
		m.Answer = nsec
		return
	}
	m.Ns = append(soa, nsec...)
}

// denialWriter is handed to the next plugin in fallthrough mode at a name that exists in
// the plugin's tree. A denial it writes becomes NODATA (the name exists, whatever the next
// plugin knows), and at a name holding records, with DO, gets the plugin's NSEC in place
// of dnssec's black lie.
type denialWriter struct {
	dns.ResponseWriter
	p      *IPSecOE
	s      *signer
	state  request.Request
	n      index.Node
	apex   bool
	sign   bool
	server string
}

// WriteMsg implements dns.ResponseWriter.
func (w *denialWriter) WriteMsg(m *dns.Msg) error {
	if len(m.Answer) != 0 || m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return w.ResponseWriter.WriteMsg(m)
	}
	m.Rcode = dns.RcodeSuccess
	if !w.sign || countType(m.Ns, dns.TypeSOA) != 1 || countType(m.Ns, dns.TypeNSEC) == 0 {
		return w.ResponseWriter.WriteMsg(m) // not a denial dnssec signed
	}
	ns := make([]dns.RR, 0, len(m.Ns))
	var ttl uint32
	for _, rr := range m.Ns {
		switch x := rr.(type) {
		case *dns.SOA:
			ttl = min(x.Hdr.Ttl, x.Minttl) // RFC 9077: the negative TTL
			ns = append(ns, rr)
		case *dns.RRSIG:
			if x.TypeCovered == dns.TypeSOA {
				ns = append(ns, rr)
			}
		}
	}
	qtype := w.state.QType()
	types := denialTypes(w.n, qtype, w.apex, true)
	if nsec := w.p.signedNSEC(w.s, w.n, w.state.QName(), w.state.Name(), ttl, types, true, w.server); countType(nsec, dns.TypeRRSIG) > 0 {
		m.Ns = append(ns, nsec...)
	} // else dnssec's own denial stands
	return w.ResponseWriter.WriteMsg(m)
}

func countType(rrs []dns.RR, t uint16) int {
	n := 0
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			n++
		}
	}
	return n
}
