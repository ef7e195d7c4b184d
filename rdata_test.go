package ipsecoe

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/ipsecoe/ipsecoe/internal/index"

	"github.com/miekg/dns"
)

// TestIPSECKEYRdata holds the answers' IPSECKEY records to dns.IPSECKEY: the same wire
// form, the same length, the same text, and a copy that packs the same and shares nothing.
func TestIPSECKEYRdata(t *testing.T) {
	key := bytes.Repeat([]byte{0x01, 0x03, 0xff, 0x00}, 65)
	tests := []struct {
		name string
		rec  index.Record
		host string // the dns.IPSECKEY gateway host: "." when there is none
	}{
		{"no gateway", index.Record{Precedence: 10, GatewayType: index.GatewayNone, Algorithm: 2, Key: key}, "."},
		{"IPv4", index.Record{Precedence: 10, GatewayType: index.GatewayIPv4, Algorithm: 2, GatewayAddr: net.ParseIP("192.0.2.38"), Key: key}, "."},
		{"IPv4 in 16 octets", index.Record{Precedence: 1, GatewayType: index.GatewayIPv4, Algorithm: 3, GatewayAddr: net.ParseIP("::ffff:192.0.2.3"), Key: key[:64]}, "."},
		{"IPv6", index.Record{Precedence: 255, GatewayType: index.GatewayIPv6, Algorithm: 4, GatewayAddr: net.ParseIP("2001:db8::1"), Key: key[:32]}, "."},
		{"host", index.Record{Precedence: 10, GatewayType: index.GatewayHost, Algorithm: 2, GatewayHost: "gw.example.com.", Key: key}, "gw.example.com."},
		{"host with an escaped dot", index.Record{Precedence: 0, GatewayType: index.GatewayHost, Algorithm: 5, GatewayHost: `a\.b.example.`, Key: key[:57]}, `a\.b.example.`},
		{"root host", index.Record{Precedence: 0, GatewayType: index.GatewayHost, Algorithm: 2, GatewayHost: ".", Key: key[:8]}, "."},
		{"empty key", index.Record{Precedence: 7, GatewayType: index.GatewayNone, Algorithm: 0}, "."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr := newIPSECKEY("gw.example.com.", 3600, &tc.rec)
			want := &dns.IPSECKEY{
				Hdr:        dns.RR_Header{Name: "gw.example.com.", Rrtype: dns.TypeIPSECKEY, Class: dns.ClassINET, Ttl: 3600},
				Precedence: tc.rec.Precedence, GatewayType: tc.rec.GatewayType, Algorithm: tc.rec.Algorithm,
				GatewayAddr: tc.rec.GatewayAddr, GatewayHost: tc.host, PublicKey: base64.StdEncoding.EncodeToString(tc.rec.Key),
			}
			got, wantWire := packRR(t, rr), packRR(t, want)
			if !bytes.Equal(got, wantWire) {
				t.Fatalf("wire\n got %x\nwant %x", got, wantWire)
			}
			if dns.Len(rr) != len(got) { // exact, where dns.IPSECKEY's may be over by an octet or two
				t.Errorf("Len %d, packed %d", dns.Len(rr), len(got))
			}
			if rr.String() != want.String() {
				t.Errorf("text\n got %s\nwant %s", rr, want)
			}
			// What a client reads back is an IPSECKEY like the one made by hand.
			back, _, err := dns.UnpackRR(got, 0)
			if err != nil {
				t.Fatalf("unpacking: %v", err)
			}
			if k, ok := back.(*dns.IPSECKEY); !ok || k.String() != want.String() {
				t.Errorf("read back as %T %s", back, back)
			}

			// The cache plugin copies records: the copy packs the same, and owns its key.
			cp := dns.Copy(rr)
			if !bytes.Equal(packRR(t, cp), got) {
				t.Errorf("copy packs differently: %x", packRR(t, cp))
			}
			if d := cp.(*dns.PrivateRR).Data.(*ipseckeyRdata); len(d.Key) > 0 && &d.Key[0] == &rr.(*dns.PrivateRR).Data.(*ipseckeyRdata).Key[0] {
				t.Error("the copy shares the key's octets")
			}
			if len(tc.rec.Key) > 0 && &rr.(*dns.PrivateRR).Data.(*ipseckeyRdata).Key[0] == &tc.rec.Key[0] {
				t.Error("the record shares the index's octets")
			}

			// Unpack and Parse, through the rdata alone, give back the same rdata.
			var un ipseckeyRdata
			if _, err := un.Unpack(rdata(t, rr)); err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			if un.String() != rr.(*dns.PrivateRR).Data.String() {
				t.Errorf("Unpack gave %s", un.String())
			}
			if tc.rec.Key != nil {
				var parsed ipseckeyRdata
				if err := parsed.Parse(strings.Fields(rr.(*dns.PrivateRR).Data.String())); err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if parsed.String() != rr.(*dns.PrivateRR).Data.String() {
					t.Errorf("Parse gave %s", parsed.String())
				}
			}
		})
	}
}

// TestIPSECKEYRdataShortBuffer: a buffer too short for the record is an error, at every
// length, never a panic.
func TestIPSECKEYRdataShortBuffer(t *testing.T) {
	for _, rec := range []index.Record{
		{GatewayType: index.GatewayIPv6, GatewayAddr: net.ParseIP("2001:db8::1"), Key: make([]byte, 40)},
		{GatewayType: index.GatewayHost, GatewayHost: "gw.example.com.", Key: make([]byte, 40)},
	} {
		d := &ipseckeyRdata{Record: rec}
		for n := range d.Len() {
			if _, err := d.Pack(make([]byte, n)); err == nil {
				t.Errorf("%s: packed into %d octets of %d", d, n, d.Len())
			}
		}
		if m, err := d.Pack(make([]byte, d.Len())); err != nil || m != d.Len() {
			t.Errorf("%s: %d, %v into %d octets", d, m, err, d.Len())
		}
	}
}

func packRR(t *testing.T, rr dns.RR) []byte {
	t.Helper()
	buf := make([]byte, 4096)
	off, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("packing %s: %v", rr, err)
	}
	return buf[:off]
}

// TestIPSECKEYRdataSigned: a signature made over the record as the plugin holds it
// verifies over the record a client unpacks from the wire, a dns.IPSECKEY.
func TestIPSECKEYRdataSigned(t *testing.T) {
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := key.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []index.Record{
		{Precedence: 10, GatewayType: index.GatewayNone, Algorithm: 2, Key: bytes.Repeat([]byte{3}, 260)},
		{Precedence: 10, GatewayType: index.GatewayHost, Algorithm: 2, GatewayHost: "gw.example.com.", Key: bytes.Repeat([]byte{5}, 64)},
		{Precedence: 10, GatewayType: index.GatewayIPv6, Algorithm: 2, GatewayAddr: net.ParseIP("2001:db8::7"), Key: bytes.Repeat([]byte{9}, 32)},
	} {
		rr := newIPSECKEY("Host.Example.com.", 300, &rec)
		sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: "Host.Example.com.", Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 300},
			Algorithm: key.Algorithm, SignerName: "example.com.", KeyTag: key.KeyTag(), OrigTtl: 3600,
			Inception: 1_700_000_000, Expiration: 2_000_000_000}
		if err := sig.Sign(priv.(crypto.Signer), []dns.RR{rr}); err != nil {
			t.Fatalf("%s: signing: %v", rr, err)
		}
		m := new(dns.Msg)
		m.SetQuestion("host.example.com.", dns.TypeIPSECKEY)
		m.Answer = []dns.RR{rr, sig}
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		back := new(dns.Msg)
		if err := back.Unpack(wire); err != nil {
			t.Fatal(err)
		}
		k, ok := back.Answer[0].(*dns.IPSECKEY)
		if !ok {
			t.Fatalf("unpacked as %T", back.Answer[0])
		}
		if err := back.Answer[1].(*dns.RRSIG).Verify(key, []dns.RR{k}); err != nil {
			t.Errorf("%s: the signature does not verify over the unpacked record: %v", k, err)
		}
	}
}
