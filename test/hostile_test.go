package test

// TestHostile throws malformed and awkward traffic at the real CoreDNS binary over UDP and TCP
// sockets on 127.0.0.1 — random datagrams, mutated queries, truncated headers, bad question
// counts, names at and over the 255-octet limit, compression loops, odd EDNS, TCP messages
// dribbled in pieces and stalled TCP connections — and after every burst, and interleaved
// with them, asks IPSECKEY gw.example.com with miekg's client: it must always come back
// whole and correct, and the server must not panic or die.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// hostileSeed makes the random traffic the same on every run.
const hostileSeed = 20261122

func TestHostile(t *testing.T) {
	start := time.Now()

	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	WriteFile(t, filepath.Join(keys, "gw.example.com.pem"), Vector(t, "keys/ed25519.pub.pem"))
	WriteFile(t, filepath.Join(keys, "192.0.2.1.pem"), Vector(t, "keys/rsa2048.pub.pem"))
	WriteFile(t, filepath.Join(keys, "ns1-ecp256.crt"), Vector(t, "certs/ns1-ecp256.crt"))
	alg, edKey := LoadVectors(t).Key(t, "keys/ed25519.pub.pem")
	if alg != algEdDSA {
		t.Fatalf("the Ed25519 vector has algorithm %d, want %d", alg, algEdDSA)
	}
	s := StartCoreDNS(t, dir, func(port string) string {
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n ipsecoe example.com 2.0.192.in-addr.arpa {\n  keys %s\n  reload 0\n  ipseca 500\n }\n}\n", port, keys)
	})
	h := &hostileTarget{addr: s.Addr(), key: edKey}
	rng := rand.New(rand.NewPCG(hostileSeed, hostileSeed))
	h.goodQuery(t, "before anything")

	t.Run("garbage datagrams", func(t *testing.T) {
		c, err := net.Dial("udp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		base := hostilePack(t, hostileQuery("gw.example.com.", dns.TypeIPSECKEY).SetEdns0(1232, true))
		for i := range 2000 {
			var b []byte
			if i < 1000 { // random bytes
				b = make([]byte, rng.IntN(600))
				for j := range b {
					b[j] = byte(rng.Uint32())
				}
			} else { // a good query with a few bytes changed, cut or grown
				b = append([]byte(nil), base...)
				for range 1 + rng.IntN(4) {
					b[rng.IntN(len(b))] = byte(rng.Uint32())
				}
				switch rng.IntN(4) {
				case 0:
					b = b[:rng.IntN(len(b))]
				case 1:
					b = append(b, make([]byte, rng.IntN(64))...)
				}
			}
			if _, err := c.Write(b); err != nil {
				t.Fatalf("datagram %d: %v (is the server still there?)", i, err)
			}
			if i%250 == 249 {
				time.Sleep(20 * time.Millisecond)
				h.goodQuery(t, fmt.Sprintf("after garbage datagram %d", i+1))
			}
		}
		// Random bytes over TCP too: a length and junk, junk of another length, closed early.
		for i := range 60 {
			junk := make([]byte, 1+rng.IntN(300))
			for j := range junk {
				junk[j] = byte(rng.Uint32())
			}
			frame := tcpFrame(junk)
			if i%3 == 1 {
				frame = frame[:1+rng.IntN(len(frame)-1)] // the connection closes mid-message
			}
			h.tcpSend(t, [][]byte{frame}, 0, 0)
			if i%20 == 19 {
				h.goodQuery(t, fmt.Sprintf("after TCP junk %d", i+1))
			}
		}
		h.goodQuery(t, "after the garbage")
	})

	t.Run("truncated headers", func(t *testing.T) {
		req := hostileQuery("gw.example.com.", dns.TypeIPSECKEY)
		full := hostilePack(t, req)
		for n := 0; n < 12; n++ {
			// Under a header: the server lets the client hang, over UDP and TCP alike.
			if r := h.udpSend(t, full[:n], 100*time.Millisecond); r != nil {
				t.Errorf("UDP header of %d bytes: got a %d-byte reply, want none", n, len(r))
			}
			if r := h.tcpSend(t, [][]byte{tcpFrame(full[:n])}, 0, 100*time.Millisecond); r != nil {
				t.Errorf("TCP header of %d bytes: got a %d-byte reply, want none", n, len(r))
			}
			// A TCP length that promises the whole query, and a connection closed after n bytes.
			h.tcpSend(t, [][]byte{tcpFrame(full)[:2+n]}, 0, 0)
		}
		// A whole header and a cut question: FORMERR.
		expectFormErr(t, "UDP query cut in the question", req.Id, h.udpSend(t, full[:len(full)-3], time.Second))
		h.goodQuery(t, "after truncated headers")
		h.goodQuery(t, "after truncated headers")
	})

	t.Run("question counts", func(t *testing.T) {
		none := hostilePack(t, &dns.Msg{MsgHdr: dns.MsgHdr{Id: 4242}})
		expectFormErr(t, "UDP QDCOUNT 0", 4242, h.udpSend(t, none, time.Second))
		expectFormErr(t, "TCP QDCOUNT 0", 4242, h.tcpSend(t, [][]byte{tcpFrame(none)}, 0, time.Second))
		two := hostileQuery("gw.example.com.", dns.TypeIPSECKEY)
		two.Question = append(two.Question, dns.Question{Name: "example.com.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET})
		raw := hostilePack(t, two)
		expectFormErr(t, "UDP QDCOUNT 2", two.Id, h.udpSend(t, raw, time.Second))
		expectFormErr(t, "TCP QDCOUNT 2", two.Id, h.tcpSend(t, [][]byte{tcpFrame(raw)}, 0, time.Second))
		// QDCOUNT 2 in the header over a single question: the second does not unpack.
		one := hostilePack(t, hostileQuery("gw.example.com.", dns.TypeIPSECKEY))
		binary.BigEndian.PutUint16(one[4:], 2)
		expectFormErr(t, "QDCOUNT 2 with one question", binary.BigEndian.Uint16(one), h.udpSend(t, one, time.Second))
		// QDCOUNT 65535.
		binary.BigEndian.PutUint16(one[4:], 0xffff)
		expectFormErr(t, "QDCOUNT 65535", binary.BigEndian.Uint16(one), h.udpSend(t, one, time.Second))
		h.goodQuery(t, "after bad question counts")
		h.goodQuery(t, "after bad question counts")
	})

	t.Run("long names", func(t *testing.T) {
		for _, suffix := range []string{"example.com.", "2.0.192.in-addr.arpa."} {
			name := longName(suffix)
			for _, proto := range []string{"udp", "tcp"} {
				for _, qt := range []uint16{dns.TypeIPSECKEY, typeIPSECA, dns.TypeANY} {
					req := hostileQuery(name, qt)
					r, _, err := (&dns.Client{Net: proto, Timeout: 3 * time.Second}).Exchange(req, h.addr)
					if err != nil {
						t.Errorf("255-octet name in %s, type %d over %s: %v", suffix, qt, proto, err)
						continue
					}
					if r.Rcode != dns.RcodeNameError || len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA ||
						r.Ns[0].Header().Name != suffix || len(r.Question) != 1 || r.Question[0] != req.Question[0] {
						t.Errorf("255-octet name in %s, type %d over %s: want NXDOMAIN with the zone's SOA, got\n%v", suffix, qt, proto, r)
					}
				}
			}
		}
		// 256 octets: one more byte in the first label shorter than 63. It does not unpack: FORMERR.
		req := hostileQuery(longName("example.com."), dns.TypeIPSECKEY)
		raw := hostilePack(t, req)
		off := 12
		for raw[off] == 63 {
			off += 64
		}
		long := append([]byte(nil), raw[:off]...)
		long = append(long, raw[off]+1, 'y')
		long = append(long, raw[off+1:]...)
		if len(long) != len(raw)+1 || long[off] > 63 {
			t.Fatalf("building the 256-octet name went wrong")
		}
		expectFormErr(t, "256-octet name over UDP", req.Id, h.udpSend(t, long, time.Second))
		expectFormErr(t, "256-octet name over TCP", req.Id, h.tcpSend(t, [][]byte{tcpFrame(long)}, 0, time.Second))
		h.goodQuery(t, "after long names")
		h.goodQuery(t, "after long names")
	})

	t.Run("compression loops", func(t *testing.T) {
		hdr := []byte{0x13, 0x37, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}
		tail := []byte{0x00, 0x2d, 0x00, 0x01} // IPSECKEY IN
		for _, name := range [][]byte{
			{0xc0, 0x0c},                         // points at itself
			{0xc0, 0x0e, 0xc0, 0x0c},             // two pointers pointing at each other
			{0x02, 'g', 'w', 0xc0, 0x0c},         // a label, then back to the start
			{0x02, 'g', 'w', 0xc0, 0x0f},         // a pointer at the pointer's own second byte
			{0xc0, 0xff},                         // a pointer past the end
			{0x80, 0x0c},                         // the reserved label type 10
			{0x41, 0x0c},                         // the extended label type 01
			{0x3f, 'a', 'b', 0x00},               // a label longer than the message
			{0x02, 'g', 'w', 0xc0, 0x00},         // a pointer into the header
			{0xc0, 0x0c, 0x00, 0x00, 0x00, 0x00}, // a loop followed by more
		} {
			msg := append(append(append([]byte(nil), hdr...), name...), tail...)
			what := fmt.Sprintf("question name % x", name)
			expectFormErr(t, what+" over UDP", 0x1337, h.udpSend(t, msg, time.Second))
			expectFormErr(t, what+" over TCP", 0x1337, h.tcpSend(t, [][]byte{tcpFrame(msg)}, 0, time.Second))
		}
		// A pointer loop in a record of the additional section, behind a good question.
		good := hostilePack(t, hostileQuery("gw.example.com.", dns.TypeIPSECKEY))
		binary.BigEndian.PutUint16(good[10:], 1)
		loop := append(good, 0xc0, byte(len(good)), 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x00)
		expectFormErr(t, "additional record with a loop", binary.BigEndian.Uint16(good), h.udpSend(t, loop, time.Second))
		h.goodQuery(t, "after compression loops")
		h.goodQuery(t, "after compression loops")
	})

	t.Run("odd EDNS", func(t *testing.T) {
		for _, size := range []uint16{0, 1, 511, 512, 65535} {
			for _, do := range []bool{false, true} {
				req := hostileQuery("gw.example.com.", dns.TypeIPSECKEY)
				opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
				opt.SetUDPSize(size)
				if do {
					opt.SetDo()
				}
				req.Extra = append(req.Extra, opt)
				raw := hostilePack(t, req)
				what := fmt.Sprintf("EDNS size %d do %v", size, do)
				for _, proto := range []string{"udp", "tcp"} {
					reply := h.send(t, proto, raw, 2*time.Second)
					h.expectGood(t, what+" over "+proto, req, reply)
					if reply == nil {
						continue
					}
					if proto == "udp" && len(reply) > max(512, int(size)) {
						t.Errorf("%s: %d-byte UDP reply", what, len(reply))
					}
					r := new(dns.Msg)
					if r.Unpack(reply) == nil && r.IsEdns0() == nil {
						t.Errorf("%s over %s: reply without OPT", what, proto)
					}
				}
			}
		}
		// Two OPT records (RFC 6891 6.1.1 says FORMERR); either that or a correct answer.
		req := hostileQuery("gw.example.com.", dns.TypeIPSECKEY)
		req.SetEdns0(1232, false)
		req.Extra = append(req.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 512}})
		raw := hostilePack(t, req)
		for _, proto := range []string{"udp", "tcp"} {
			reply := h.send(t, proto, raw, 2*time.Second)
			r := new(dns.Msg)
			switch {
			case reply == nil:
				t.Errorf("two OPT records over %s: no reply", proto)
			case r.Unpack(reply) != nil:
				t.Errorf("two OPT records over %s: reply does not unpack", proto)
			case r.Rcode == dns.RcodeFormatError:
				t.Logf("two OPT records over %s: FORMERR", proto)
			default:
				if err := h.checkGood(req, r); err != nil {
					t.Errorf("two OPT records over %s: %v", proto, err)
				} else {
					t.Logf("two OPT records over %s: answered (rcode %s), not FORMERR", proto, dns.RcodeToString[r.Rcode])
				}
			}
		}
		// An OPT record in the answer section, and EDNS version 1 (BADVERS).
		odd := hostileQuery("gw.example.com.", dns.TypeIPSECKEY)
		odd.Answer = []dns.RR{&dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}}}
		if reply := h.udpSend(t, hostilePack(t, odd), 2*time.Second); reply == nil {
			t.Errorf("OPT in the answer section: no reply")
		}
		v1 := hostileQuery("gw.example.com.", dns.TypeIPSECKEY)
		v1.SetEdns0(1232, false)
		v1.IsEdns0().SetVersion(1)
		if reply := h.udpSend(t, hostilePack(t, v1), 2*time.Second); reply == nil {
			t.Errorf("EDNS version 1: no reply")
		} else if r := new(dns.Msg); r.Unpack(reply) != nil || r.Rcode != dns.RcodeBadVers {
			t.Errorf("EDNS version 1: want BADVERS, got rcode %d", r.Rcode)
		}
		h.goodQuery(t, "after odd EDNS")
		h.goodQuery(t, "after odd EDNS")
	})

	t.Run("TCP in pieces", func(t *testing.T) {
		req := hostileQuery("gw.example.com.", dns.TypeIPSECKEY)
		msg := hostilePack(t, req)
		frame := tcpFrame(msg)
		third := len(msg) / 3
		// The length alone, then the message in three writes.
		h.expectGood(t, "length, then three pieces", req, h.tcpSend(t, [][]byte{frame[:2], msg[:third], msg[third : 2*third], msg[2*third:]}, 30*time.Millisecond, 3*time.Second))
		// The length split in two.
		h.expectGood(t, "length split", req, h.tcpSend(t, [][]byte{frame[:1], frame[1:]}, 50*time.Millisecond, 3*time.Second))
		// One byte a write.
		var bytes1 [][]byte
		for i := range frame {
			bytes1 = append(bytes1, frame[i:i+1])
		}
		h.expectGood(t, "a byte a write", req, h.tcpSend(t, bytes1, 3*time.Millisecond, 3*time.Second))
		// Two queries on one connection, the second split inside its length.
		req2 := hostileQuery("gw.example.com.", dns.TypeIPSECKEY)
		both := append(append([]byte(nil), frame...), tcpFrame(hostilePack(t, req2))...)
		c := h.tcpDial(t)
		for _, ch := range [][]byte{both[:len(frame)+1], both[len(frame)+1 : len(frame)+9], both[len(frame)+9:]} {
			if _, err := c.Write(ch); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, r := range []*dns.Msg{req, req2} {
			raw, err := tcpRead(c, 3*time.Second)
			if err != nil {
				t.Errorf("pipelined query %d: %v", r.Id, err)
				break
			}
			h.expectGood(t, "pipelined", r, raw)
		}
		c.Close()
		h.goodQuery(t, "after TCP in pieces")
		h.goodQuery(t, "after TCP in pieces")
	})

	t.Run("stalled TCP connections", func(t *testing.T) {
		// Connections that send part of a message and then nothing: the server must go on
		// answering others meanwhile, and drop the stalled ones after its read timeout (3 s).
		frame := tcpFrame(hostilePack(t, hostileQuery("gw.example.com.", dns.TypeIPSECKEY)))
		var stalled []net.Conn
		defer func() {
			for _, c := range stalled {
				c.Close()
			}
		}()
		for i := range 20 {
			c := h.tcpDial(t)
			stalled = append(stalled, c)
			if _, err := c.Write(frame[:i%(len(frame)-1)+1]); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 6 {
			h.goodQuery(t, fmt.Sprintf("with 20 stalled connections (%d)", i))
		}
		began := time.Now()
		if _, err := tcpRead(stalled[5], 10*time.Second); err == nil {
			t.Errorf("a stalled connection got a reply")
		} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "reset") {
			t.Logf("the server closed a stalled connection after %v", time.Since(began).Round(10*time.Millisecond))
		} else {
			t.Errorf("a stalled connection still open after 10 s: %v", err)
		}
		h.goodQuery(t, "after stalled connections")
	})

	// Still alive and well: one more of each, and nothing in the log about a panic.
	h.goodQuery(t, "at the end")
	h.goodQuery(t, "at the end")
	if l := s.Log.String(); strings.Contains(strings.ToLower(l), "panic") {
		t.Errorf("the server logged a panic:\n%s", l)
	}
	t.Logf("%d good queries answered (%d UDP ones on a second try) in %v", h.good, h.retrys, time.Since(start).Round(time.Millisecond))
}
