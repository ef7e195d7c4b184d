package ipsecoe

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/coredns/coredns/plugin/pkg/dnsutil"
	"github.com/ipsecoe/ipsecoe/internal/index"
	"github.com/ipsecoe/ipsecoe/internal/keyfile"

	"github.com/miekg/dns"
)

// TypeIPSECA is the type code draft-osterweil-dane-ipsec gives IPSECA (in the private-use range).
const TypeIPSECA uint16 = 65347

func init() {
	dns.PrivateHandle("IPSECA", TypeIPSECA, func() dns.PrivateRdata { return new(IPSECA) })
}

// IPSECA is the rdata of an IPSECA record: the fields and meaning of TLSA (RFC 6698).
type IPSECA struct {
	Usage        uint8
	Selector     uint8
	MatchingType uint8
	Data         []byte
}

// String implements dns.PrivateRdata, giving "USAGE SELECTOR MATCHING HEX".
func (r *IPSECA) String() string {
	return strconv.Itoa(int(r.Usage)) + " " + strconv.Itoa(int(r.Selector)) + " " +
		strconv.Itoa(int(r.MatchingType)) + " " + hex.EncodeToString(r.Data)
}

// Parse implements dns.PrivateRdata.
func (r *IPSECA) Parse(txt []string) error {
	if len(txt) < 4 {
		return fmt.Errorf("ipseca: need usage, selector, matching type and data")
	}
	var f [3]uint8
	for i := range f {
		n, err := strconv.ParseUint(txt[i], 10, 8)
		if err != nil {
			return fmt.Errorf("ipseca: bad field %q: %w", txt[i], err)
		}
		f[i] = uint8(n)
	}
	data, err := hex.DecodeString(strings.Join(txt[3:], ""))
	if err != nil {
		return fmt.Errorf("ipseca: bad certificate association data: %w", err)
	}
	r.Usage, r.Selector, r.MatchingType, r.Data = f[0], f[1], f[2], data
	return nil
}

// Pack implements dns.PrivateRdata.
func (r *IPSECA) Pack(buf []byte) (int, error) {
	if len(buf) < r.Len() {
		return 0, dns.ErrBuf
	}
	buf[0], buf[1], buf[2] = r.Usage, r.Selector, r.MatchingType
	return 3 + copy(buf[3:], r.Data), nil
}

// Unpack implements dns.PrivateRdata.
func (r *IPSECA) Unpack(buf []byte) (int, error) {
	if len(buf) < 3 {
		return 0, dns.ErrBuf
	}
	r.Usage, r.Selector, r.MatchingType = buf[0], buf[1], buf[2]
	r.Data = append([]byte(nil), buf[3:]...)
	return len(buf), nil
}

// Copy implements dns.PrivateRdata.
func (r *IPSECA) Copy(dest dns.PrivateRdata) error {
	d, ok := dest.(*IPSECA)
	if !ok {
		return dns.ErrRdata
	}
	*d = IPSECA{r.Usage, r.Selector, r.MatchingType, append([]byte(nil), r.Data...)}
	return nil
}

// Len implements dns.PrivateRdata.
func (r *IPSECA) Len() int { return 3 + len(r.Data) }

// ipseca returns a new IPSECA record for owner, with d's fields (its data is shared, not
// copied). It is a dns.PrivateRR made through dns.TypeToRR so that dns.Copy (used by the
// cache plugin) works on it.
func ipseca(owner string, ttl uint32, d keyfile.Association) dns.RR {
	rr := dns.TypeToRR[TypeIPSECA]().(*dns.PrivateRR)
	rr.Hdr = dns.RR_Header{Name: owner, Rrtype: TypeIPSECA, Class: dns.ClassINET, Ttl: ttl}
	*rr.Data.(*IPSECA) = IPSECA{Usage: d.Usage, Selector: d.Selector, MatchingType: d.Matching, Data: d.Data}
	return rr
}

// appendIPSECKEY appends n's IPSECKEY records, at owner, to rrs.
func appendIPSECKEY(rrs []dns.RR, n index.Node, owner string, ttl uint32) []dns.RR {
	var buf [1]index.Record // most names hold one key; more go to the heap
	recs := n.IPSECKEYs(buf[:0])
	for i := range recs {
		rrs = append(rrs, newIPSECKEY(owner, ttl, &recs[i]))
	}
	return rrs
}

// appendIPSECA appends n's IPSECA records, at owner, to rrs.
func appendIPSECA(rrs []dns.RR, n index.Node, owner string, ttl uint32) []dns.RR {
	var buf [1]keyfile.Association
	for _, d := range n.IPSECAs(buf[:0]) {
		rrs = append(rrs, ipseca(owner, ttl, d))
	}
	return rrs
}

// SOA timers; the serial comes from the key set, the negative TTL from negTTL.
const (
	soaRefresh = 7200
	soaRetry   = 1800
	soaExpire  = 1209600
)

// apex holds the names of a zone's synthesized SOA and NS, made once at setup.
type apex struct {
	zone, ns, mbox string
}

// newApex returns the apex names of zone: its name server nsName, or ns1.ZONE when empty.
func newApex(zone, nsName string) *apex {
	if nsName == "" {
		nsName = dnsutil.Join("ns1", zone)
	}
	return &apex{zone: zone, ns: nsName, mbox: dnsutil.Join("hostmaster", zone)}
}

// soa returns the synthesized SOA of a zone. Its TTL and MINIMUM are the negative TTL.
func soa(a *apex, negTTL, serial uint32) *dns.SOA {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: a.zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: negTTL},
		Ns:      a.ns,
		Mbox:    a.mbox,
		Serial:  serial,
		Refresh: soaRefresh,
		Retry:   soaRetry,
		Expire:  soaExpire,
		Minttl:  negTTL,
	}
}

// ns returns the synthesized NS record of a zone.
func ns(a *apex, ttl uint32) *dns.NS {
	return &dns.NS{
		Hdr: dns.RR_Header{Name: a.zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: ttl},
		Ns:  a.ns,
	}
}
