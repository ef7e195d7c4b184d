package ipsecoe

import (
	"bytes"
	"encoding/base64"
	"net"
	"strconv"
	"strings"

	"github.com/ipsecoe/ipsecoe/internal/index"

	"github.com/miekg/dns"
)

// An answer's IPSECKEY record is a dns.PrivateRR of type IPSECKEY whose rdata holds the
// public key as the index does, in wire form: it is packed by a copy. A dns.IPSECKEY holds
// the key in base64, so every answer would encode the key (about 350 characters for
// RSA-2048) only for the packing to decode it again. The wire is the same either way; in
// presentation form it reads as dns.IPSECKEY does.
//
// A PrivateRR can be copied (dns.Copy, which the cache plugin uses) only if it was made by
// a generator registered with dns.PrivateHandle. Registering one for type 45 would change
// how every plugin of the binary reads IPSECKEY, so the generator is registered for a
// moment under a free private-use type, one record is made with it, and the registration
// is taken back: the record carries its generator, and each answer starts from a copy of
// it.
var ipseckeyProto = func() dns.PrivateRR {
	gen := func() dns.PrivateRdata { return new(ipseckeyRdata) }
	for code := uint16(0xfffe); code >= 0xff00; code-- {
		if _, taken := dns.TypeToRR[code]; taken {
			continue
		}
		if _, named := dns.TypeToString[code]; named {
			continue
		}
		name := "IPSECOE-IPSECKEY-" + strconv.Itoa(int(code))
		if _, named := dns.StringToType[name]; named {
			continue
		}
		dns.PrivateHandle(name, code, gen)
		rr := dns.TypeToRR[code]().(*dns.PrivateRR)
		dns.PrivateHandleRemove(code)
		return *rr
	}
	panic("ipsecoe: no free private-use type to make IPSECKEY records with")
}()

// ipseckeyRdata is the rdata of an IPSECKEY record (RFC 4025) with its key field raw.
type ipseckeyRdata struct {
	index.Record
}

// newIPSECKEY returns an IPSECKEY record at owner with d's rdata, its key copied: a
// record outlives the index it came from when a cache keeps it.
func newIPSECKEY(owner string, ttl uint32, d *index.Record) dns.RR {
	x := &ipseckeyRR{rr: ipseckeyProto, data: ipseckeyRdata{Record: *d}}
	x.rr.Hdr = dns.RR_Header{Name: owner, Rrtype: dns.TypeIPSECKEY, Class: dns.ClassINET, Ttl: ttl}
	x.data.Key = bytes.Clone(d.Key)
	x.rr.Data = &x.data
	return &x.rr
}

// ipseckeyRR is an answer's record and its rdata, allocated as one.
type ipseckeyRR struct {
	rr   dns.PrivateRR
	data ipseckeyRdata
}

// gateway returns the gateway field in presentation form.
func (r *ipseckeyRdata) gateway() string {
	switch r.GatewayType {
	case index.GatewayIPv4, index.GatewayIPv6:
		return r.GatewayAddr.String()
	case index.GatewayHost:
		return r.GatewayHost
	}
	return "."
}

// String implements dns.PrivateRdata, as dns.IPSECKEY prints its rdata.
func (r *ipseckeyRdata) String() string {
	return strconv.Itoa(int(r.Precedence)) + " " + strconv.Itoa(int(r.GatewayType)) + " " +
		strconv.Itoa(int(r.Algorithm)) + " " + r.gateway() + " " + base64.StdEncoding.EncodeToString(r.Key)
}

// Parse implements dns.PrivateRdata: PRECEDENCE GATEWAY-TYPE ALGORITHM GATEWAY KEY.
func (r *ipseckeyRdata) Parse(txt []string) error {
	rr, err := dns.NewRR(". IPSECKEY " + strings.Join(txt, " "))
	if err != nil {
		return err
	}
	k, ok := rr.(*dns.IPSECKEY)
	if !ok {
		return dns.ErrRdata
	}
	key, err := base64.StdEncoding.DecodeString(k.PublicKey)
	if err != nil {
		return err
	}
	r.Record = index.Record{Precedence: k.Precedence, GatewayType: k.GatewayType, Algorithm: k.Algorithm, Key: key}
	switch k.GatewayType {
	case index.GatewayIPv4, index.GatewayIPv6:
		r.GatewayAddr = k.GatewayAddr
	case index.GatewayHost:
		r.GatewayHost = k.GatewayHost
	}
	return nil
}

// addr is the gateway address in its wire size.
func (r *ipseckeyRdata) addr() net.IP {
	if r.GatewayType == index.GatewayIPv4 {
		return r.GatewayAddr.To4()
	}
	return r.GatewayAddr.To16()
}

// Pack implements dns.PrivateRdata.
func (r *ipseckeyRdata) Pack(buf []byte) (int, error) {
	if len(buf) < 3 {
		return 0, dns.ErrBuf
	}
	buf[0], buf[1], buf[2] = r.Precedence, r.GatewayType, r.Algorithm
	off := 3
	switch r.GatewayType {
	case index.GatewayIPv4, index.GatewayIPv6:
		a := r.addr()
		if a == nil {
			return 0, dns.ErrRdata
		}
		if len(buf) < off+len(a) {
			return 0, dns.ErrBuf
		}
		off += copy(buf[off:], a)
	case index.GatewayHost:
		var err error
		if off, err = dns.PackDomainName(r.GatewayHost, buf, off, nil, false); err != nil {
			return 0, err
		}
	}
	if len(buf) < off+len(r.Key) {
		return 0, dns.ErrBuf
	}
	return off + copy(buf[off:], r.Key), nil
}

// Unpack implements dns.PrivateRdata.
func (r *ipseckeyRdata) Unpack(buf []byte) (int, error) {
	if len(buf) < 3 {
		return 0, dns.ErrBuf
	}
	r.Record = index.Record{Precedence: buf[0], GatewayType: buf[1], Algorithm: buf[2]}
	off := 3
	switch r.GatewayType {
	case index.GatewayIPv4, index.GatewayIPv6:
		n := net.IPv4len
		if r.GatewayType == index.GatewayIPv6 {
			n = net.IPv6len
		}
		if len(buf) < off+n {
			return 0, dns.ErrBuf
		}
		r.GatewayAddr = net.IP(bytes.Clone(buf[off : off+n]))
		off += n
	case index.GatewayHost:
		host, end, err := dns.UnpackDomainName(buf, off)
		if err != nil {
			return 0, err
		}
		r.GatewayHost, off = host, end
	}
	r.Key = bytes.Clone(buf[off:])
	return len(buf), nil
}

// Copy implements dns.PrivateRdata.
func (r *ipseckeyRdata) Copy(dest dns.PrivateRdata) error {
	d, ok := dest.(*ipseckeyRdata)
	if !ok {
		return dns.ErrRdata
	}
	d.Record = r.Record
	d.GatewayAddr = bytes.Clone(r.GatewayAddr)
	d.Key = bytes.Clone(r.Key)
	return nil
}

// Len implements dns.PrivateRdata.
func (r *ipseckeyRdata) Len() int {
	n := 3 + len(r.Key)
	switch r.GatewayType {
	case index.GatewayIPv4, index.GatewayIPv6:
		n += len(r.addr())
	case index.GatewayHost:
		n += nameWireLen(r.GatewayHost)
	}
	return n
}

// nameWireLen is the length of a fully qualified domain name in uncompressed wire form.
func nameWireLen(name string) int {
	if name == "." {
		return 1
	}
	if strings.IndexByte(name, '\\') < 0 {
		return len(name) + 1
	}
	var buf [256]byte
	n, _ := dns.PackDomainName(name, buf[:], 0, nil, false)
	return n
}
