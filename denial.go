package ipsecoe

import (
	"slices"
	"time"

	"github.com/coredns/coredns/plugin/dnssec"
	"github.com/coredns/coredns/request"
	"github.com/ipsecoe/ipsecoe/internal/index"

	"github.com/miekg/dns"
)

// The dnssec plugin answers a denial with an NSEC "black lie" whose type bitmap is a fixed
// list without IPSECKEY and TYPE65347. A validating resolver doing aggressive NSEC (RFC 8198)
// would, after a signed NODATA for, say, TXT at a name holding keys, deny the keys from its
// cache. So at names where the plugin has records it writes the signed denial itself: the
// SOA, an NSEC listing the types served there (never the type asked), and their RRSIGs,
// signed by the dnssec plugin of the same server block with its keys and its signature
// cache. The dnssec plugin signs a denial only when the authority section is exactly one
// SOA, so it passes this one through untouched.

// blackLieTypes are the types dnssec's black lies claim below the apex, plus PTR and the
// plugin's own: the bitmap when other plugins may hold other types at the name (fallthrough).
var blackLieTypes = []uint16{
	dns.TypeA, dns.TypeHINFO, dns.TypePTR, dns.TypeTXT, dns.TypeAAAA, dns.TypeLOC, dns.TypeSRV,
	dns.TypeCERT, dns.TypeSSHFP, dns.TypeIPSECKEY, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeTLSA,
	dns.TypeHIP, dns.TypeOPENPGPKEY, dns.TypeSPF, TypeIPSECA,
}

// apexTypes are added at a zone apex.
var apexTypes = []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeMX, dns.TypeDNSKEY}

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
	}
	slices.Sort(types)
	types = slices.Compact(types)
	return slices.DeleteFunc(types, func(t uint16) bool { return t == qtype })
}

// signedDenial returns the authority section of a signed NODATA for state's question: soa,
// an NSEC with types, and the RRSIGs over both. It returns nil when there is no dnssec
// plugin to sign with, or when it did not sign both (the name is outside its zones).
func (p *IPSecOE) signedDenial(state request.Request, soa dns.RR, types []uint16, server string) []dns.RR {
	d := p.signer.Load()
	if d == nil {
		return nil
	}
	ttl := soa.Header().Ttl
	if s, ok := soa.(*dns.SOA); ok {
		ttl = min(ttl, s.Minttl) // RFC 9077: the negative TTL
	}
	qname := state.QName()
	nsec := &dns.NSEC{
		Hdr:        dns.RR_Header{Name: qname, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: `\000.` + qname, // covers qname alone, as dnssec's own black lies do
		TypeBitMap: types,
	}
	// Shaped as a positive answer, dnssec.Sign signs every RRset in it.
	m := new(dns.Msg)
	m.SetQuestion(qname, state.QType())
	m.Answer = []dns.RR{nsec}
	m.Ns = []dns.RR{soa}
	m = d.Sign(request.Request{W: state.W, Req: m}, time.Now().UTC(), server)
	if countType(m.Answer, dns.TypeRRSIG) == 0 || countType(m.Ns, dns.TypeRRSIG) == 0 {
		return nil
	}
	return append(m.Ns, m.Answer...)
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

// findSigner looks up the dnssec plugin of the server block; it runs at startup, once the
// plugin chain is built.
func findSigner(h any) *dnssec.Dnssec {
	if d, ok := h.(dnssec.Dnssec); ok {
		return &d
	}
	return nil
}

// denialWriter is handed to the next plugin in fallthrough mode at a name that exists in
// the plugin's tree. A denial it writes becomes NODATA (the name exists, whatever the next
// plugin knows), and at a name holding records, with DO, gets the plugin's signed NSEC
// instead of dnssec's black lie.
type denialWriter struct {
	dns.ResponseWriter
	p      *IPSecOE
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
	if w.sign && w.n.HoldsRecords() && len(m.Ns) == 1 && m.Ns[0].Header().Rrtype == dns.TypeSOA {
		types := denialTypes(w.n, w.state.QType(), w.apex, true)
		if ns := w.p.signedDenial(w.state, m.Ns[0], types, w.server); ns != nil {
			m.Ns = ns
		}
	}
	return w.ResponseWriter.WriteMsg(m)
}
