package ipsecoe

import (
	"encoding/base64"
	"encoding/binary"
	"hash/maphash"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/coredns/coredns/plugin/dnssec"
	"github.com/coredns/coredns/request"
	"github.com/ipsecoe/ipsecoe/internal/index"

	"github.com/miekg/dns"
)

// The plugin runs before dnssec in the chain and signs its own answers with the dnssec
// plugin of its server block: the same keys, the same policy (inception 3 hours back,
// expiration 8 days ahead, original TTL 3600, ZSK or CSK), made through the exported
// Dnssec.Sign. What dnssec does per query (hash the text of every RRset, look it up in its
// cache, sign on a miss) the plugin does once per RRset: the signatures are kept with the
// owner name and served from there (see sigStore), and renewed in the background before
// they come within renewBefore of expiring.

const (
	// renewBefore: a signature this close to its expiration is made again in the
	// background. dnssec's own cache gives up a signature 2 days before it expires.
	renewBefore = 3 * 24 * time.Hour
	// dueBefore: a signature this close to its expiration is made again when asked, if the
	// background renewal has not come to it.
	dueBefore = 2 * 24 * time.Hour
	// renewEvery is how often the renewal pass runs.
	renewEvery = time.Hour
	// otherSigs bounds the signatures kept for names the index does not list (addresses
	// inside a gateway prefix, denials at names that do not exist): this many, or as many
	// as the index has names, whichever is more, so that a deployment's peers fit in it
	// about as its keys do.
	otherSigs = 100_000
)

// signer signs the plugin's answers for the zones its dnssec plugin signs.
type signer struct {
	d      dnssec.Dnssec
	zones  map[string]bool // the plugin's zones whose apex the dnssec plugin signs
	names  *sigStore       // signatures at names the index lists
	others *sigStore       // and elsewhere, bounded
	now    func() time.Time
	pass   atomic.Uint32 // the renewal pass under way

	mu   sync.Mutex
	keys atomic.Pointer[[]sigKey] // what the signatures' fields other than times and bytes are, by index
}

// sigKey is what every signature of one key has in common.
type sigKey struct {
	alg     uint8
	tag     uint16
	origTTL uint32
	signer  string
}

// newSigner returns a signer for d, or nil when d signs none of zones.
func newSigner(d *dnssec.Dnssec, zones []string, a map[string]*apex) *signer {
	if d == nil {
		return nil
	}
	s := &signer{d: *d, zones: map[string]bool{}, names: newSigStore(0), others: newSigStore(otherSigs), now: time.Now}
	s.keys.Store(&[]sigKey{})
	for _, z := range zones {
		probe := []dns.RR{soa(a[z], 0, 0)}
		if len(s.sign(probe, z, "", s.now(), false)) > 0 {
			s.zones[z] = true
		}
	}
	if len(s.zones) == 0 {
		return nil
	}
	return s
}

// sign signs rrs, owned by lname, with the dnssec plugin and returns the signatures
// packed (see packSigs); nil if it made none (lname outside its zones). With fresh, the
// signatures are made now, not taken from the dnssec plugin's cache, which would give back
// one it made earlier for as long as it is more than 2 days from expiring. Its cache key is
// the text of the RRset, TTL included, and a signature covers the RRset with the original
// TTL in place of each TTL, so signing a copy with another TTL gives a new signature over
// the same data.
func (s *signer) sign(rrs []dns.RR, lname, server string, now time.Time, fresh bool) []byte {
	m := new(dns.Msg)
	m.SetQuestion(lname, rrs[0].Header().Rrtype)
	m.Answer = make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		rr = dns.Copy(rr)
		rr.Header().Name = lname
		if fresh {
			rr.Header().Ttl = uint32(now.Unix()) | 1<<31 // apart from any TTL the plugin serves
		}
		m.Answer[i] = rr
	}
	m = s.d.Sign(request.Request{Req: m}, now, server)
	var out []byte
	for _, rr := range m.Answer {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(sig.Signature)
		if err != nil || len(raw) > 0xffff {
			continue
		}
		out = append(out, s.keyIndex(sig))
		out = binary.BigEndian.AppendUint32(out, sig.Inception)
		out = binary.BigEndian.AppendUint32(out, sig.Expiration)
		out = binary.BigEndian.AppendUint16(out, uint16(len(raw)))
		out = append(out, raw...)
	}
	return out
}

// keyIndex returns the index of sig's key in s.keys, adding it if new.
func (s *signer) keyIndex(sig *dns.RRSIG) byte {
	k := sigKey{alg: sig.Algorithm, tag: sig.KeyTag, origTTL: sig.OrigTtl, signer: sig.SignerName}
	for i, e := range *s.keys.Load() {
		if e == k {
			return byte(i)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := *s.keys.Load()
	for i, e := range keys {
		if e == k {
			return byte(i)
		}
	}
	if len(keys) == 255 {
		return 255 // never: a block has a handful of keys
	}
	next := append(append([]sigKey(nil), keys...), k)
	s.keys.Store(&next)
	return byte(len(next) - 1)
}

// earliest is the earliest expiration among packed signatures.
func earliest(sigs []byte) uint32 {
	e := ^uint32(0)
	for len(sigs) >= 11 {
		e = min(e, binary.BigEndian.Uint32(sigs[5:]))
		sigs = sigs[11+int(binary.BigEndian.Uint16(sigs[9:])):]
	}
	return e
}

// within reports whether a signature expiring at expir is within d of it at now, in
// RFC 1982 serial arithmetic as RRSIG times are.
func within(expir uint32, now time.Time, d time.Duration) bool {
	return int32(expir-uint32(now.Add(d).Unix())) <= 0
}

// appendSigs appends to dst the RRSIGs over rrs, an RRset at owner (lname in lower case)
// with TTL ttl, from store, where they are kept under (lname, type, rdata): kept ones, or
// made now when there are none or they are due. Where they were found is kept as a hint
// at at, the index's node of lname, when it has one (see sigStore.getHinted).
func (s *signer) appendSigs(dst []dns.RR, store *sigStore, at index.Node, owner, lname string, rrs []dns.RR, ttl uint32, server string) []dns.RR {
	if len(rrs) == 0 {
		return dst
	}
	t := rrs[0].Header().Rrtype
	k := store.key(lname, t, rdataSum(store.seed, rrs))
	hint := at.Hint()
	sigs, found, ok := store.getHinted(k, hint)
	now := s.now()
	if !ok || within(earliest(sigs), now, dueBefore) {
		reason := "first"
		if ok {
			reason = "due"
		}
		sigs = s.sign(rrs, lname, server, now, ok)
		found = store.put(k, sigs, s.pass.Load())
		signCount.WithLabelValues(server, reason).Inc()
	}
	if found != hint {
		at.SetHint(found)
	}
	return s.unpack(dst, sigs, owner, t, ttl)
}

// unpack appends the RRSIGs of packed sigs for an RRset of type t at owner with TTL ttl.
func (s *signer) unpack(dst []dns.RR, sigs []byte, owner string, t uint16, ttl uint32) []dns.RR {
	keys := *s.keys.Load()
	labels := uint8(dns.CountLabel(owner))
	for len(sigs) >= 11 {
		n := int(binary.BigEndian.Uint16(sigs[9:]))
		if int(sigs[0]) >= len(keys) || len(sigs) < 11+n {
			break
		}
		k := keys[sigs[0]]
		dst = append(dst, &dns.RRSIG{
			Hdr:         dns.RR_Header{Name: owner, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: ttl},
			TypeCovered: t,
			Algorithm:   k.alg,
			Labels:      labels,
			OrigTtl:     k.origTTL,
			Expiration:  binary.BigEndian.Uint32(sigs[5:]),
			Inception:   binary.BigEndian.Uint32(sigs[1:]),
			KeyTag:      k.tag,
			SignerName:  k.signer,
			Signature:   encodeSig(sigs[11 : 11+n]),
		})
		sigs = sigs[11+n:]
	}
	return dst
}

// encodeSig is raw in base64, made with one allocation where EncodeToString makes two.
func encodeSig(raw []byte) string {
	b := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(b, raw)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// rdataSum is a hash of the rdata of rrs: what their signatures were made over, apart
// from the owner and type the store's key holds and the TTL, which the signatures do not
// cover.
func rdataSum(seed maphash.Seed, rrs []dns.RR) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var b [8]byte
	for _, rr := range rrs {
		switch x := rr.(type) {
		case *dns.PrivateRR:
			if d, ok := x.Data.(*ipseckeyRdata); ok {
				h.Write([]byte{d.Precedence, d.GatewayType, d.Algorithm})
				h.Write(gatewayBytes(d.GatewayAddr))
				h.WriteString(d.GatewayHost)
				h.WriteByte(0)
				h.Write(binary.BigEndian.AppendUint32(b[:0], uint32(len(d.Key))))
				h.Write(d.Key)
				continue
			}
			if d, ok := x.Data.(*IPSECA); ok {
				h.Write([]byte{d.Usage, d.Selector, d.MatchingType})
				h.Write(binary.BigEndian.AppendUint32(b[:0], uint32(len(d.Data))))
				h.Write(d.Data)
				continue
			}
			h.WriteString(rr.String())
		case *dns.NSEC:
			h.WriteString(x.NextDomain)
			for _, t := range x.TypeBitMap {
				h.Write(binary.BigEndian.AppendUint16(b[:0], t))
			}
		case *dns.SOA:
			h.WriteString(x.Ns)
			h.WriteByte(0)
			h.WriteString(x.Mbox)
			for _, v := range []uint32{x.Serial, x.Refresh, x.Retry, x.Expire, x.Minttl} {
				h.Write(binary.BigEndian.AppendUint32(b[:0], v))
			}
		case *dns.NS:
			h.WriteString(x.Ns)
		default:
			h.WriteString(rr.String()) // not a type the plugin serves
		}
		h.WriteByte(0xff)
	}
	return h.Sum64()
}

func gatewayBytes(ip net.IP) []byte {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}
