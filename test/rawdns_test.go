package test

// A client that writes raw DNS messages to a server over UDP and TCP sockets, whole, cut or
// in pieces, and checks the replies: the hostile and size tests' tool.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const (
	algEdDSA   = 4     // RFC 9373: the IPSECKEY algorithm of EdDSA keys
	typeIPSECA = 65347 // the type the draft gives IPSECA
)

// longName is a name of exactly 255 octets on the wire: labels of x in front of suffix.
func longName(suffix string) string {
	name := suffix
	for wire := len(suffix) + 1; wire < 255; {
		n := min(63, 255-wire-1)
		if rest := 255 - wire - (n + 1); rest == 1 { // a label cannot be empty
			n--
		}
		name = strings.Repeat("x", n) + "." + name
		wire += n + 1
	}
	return name
}

type hostileTarget struct {
	addr   string
	key    string // base64 of the Ed25519 key published at gw.example.com.
	good   int    // good queries asked
	retrys int    // UDP good queries that needed a second try
}

func hostileQuery(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	return m
}

func hostilePack(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatalf("packing %v: %v", m.Question, err)
	}
	return b
}

// checkGood checks a reply to IPSECKEY gw.example.com.: exactly the one Ed25519 record.
func (h *hostileTarget) checkGood(req, r *dns.Msg) error {
	if r.Id != req.Id || !r.Response || r.Rcode != dns.RcodeSuccess || !r.Authoritative || r.Truncated {
		return fmt.Errorf("bad header: id %d (want %d) rcode %s aa %v tc %v", r.Id, req.Id, dns.RcodeToString[r.Rcode], r.Authoritative, r.Truncated)
	}
	if len(r.Question) != 1 || r.Question[0] != req.Question[0] {
		return fmt.Errorf("question %v, want %v", r.Question, req.Question)
	}
	if len(r.Answer) != 1 {
		return fmt.Errorf("%d answers, want 1:\n%v", len(r.Answer), r)
	}
	k, ok := r.Answer[0].(*dns.IPSECKEY)
	if !ok || k.Hdr.Name != "gw.example.com." || k.Precedence != 10 || k.GatewayType != 0 || k.Algorithm != algEdDSA || k.PublicKey != h.key {
		return fmt.Errorf("wrong answer %v, want the Ed25519 key %s", r.Answer[0], h.key)
	}
	return nil
}

// goodQuery asks IPSECKEY gw.example.com. with miekg's client, over UDP and TCP in turn.
// A UDP query gets up to three tries of 1.5 s (a burst may have filled the socket buffer);
// TCP gets one of 3 s.
func (h *hostileTarget) goodQuery(t *testing.T, when string) {
	t.Helper()
	h.good++
	proto := "udp"
	if h.good%2 == 0 {
		proto = "tcp"
	}
	req := hostileQuery("gw.example.com.", dns.TypeIPSECKEY)
	c := &dns.Client{Net: proto, Timeout: 1500 * time.Millisecond}
	tries := 3
	if proto == "tcp" {
		c.Timeout, tries = 3*time.Second, 1
	}
	var err error
	for try := 1; try <= tries; try++ {
		var r *dns.Msg
		r, _, err = c.Exchange(req, h.addr)
		if err == nil {
			if try > 1 {
				h.retrys++
			}
			if cerr := h.checkGood(req, r); cerr != nil {
				t.Fatalf("%s: good query over %s: %v", when, proto, cerr)
			}
			return
		}
	}
	t.Fatalf("%s: good query over %s not answered: %v", when, proto, err)
}

// send sends msg whole over proto ("udp" or "tcp", framed) and waits up to wait for one
// reply (nil if none).
func (h *hostileTarget) send(t *testing.T, proto string, msg []byte, wait time.Duration) []byte {
	t.Helper()
	if proto == "udp" {
		return h.udpSend(t, msg, wait)
	}
	return h.tcpSend(t, [][]byte{tcpFrame(msg)}, 0, wait)
}

// udpSend sends payload in one datagram and waits up to wait for one reply (nil if none).
func (h *hostileTarget) udpSend(t *testing.T, payload []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("udp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(payload); err != nil {
		t.Fatalf("udp write: %v", err)
	}
	if wait == 0 {
		return nil
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		t.Fatalf("udp read: %v (is the server still there?)", err)
	}
	return buf[:n]
}

func (h *hostileTarget) tcpDial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", h.addr, 3*time.Second)
	if err != nil {
		t.Fatalf("tcp dial: %v", err)
	}
	return c
}

// tcpRead reads one length-prefixed message; nil with the error on timeout or close.
func tcpRead(c net.Conn, wait time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(wait))
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

func tcpFrame(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
}

// tcpSend sends the chunks with a pause between them and waits up to wait for one reply.
func (h *hostileTarget) tcpSend(t *testing.T, chunks [][]byte, pause, wait time.Duration) []byte {
	t.Helper()
	c := h.tcpDial(t)
	defer c.Close()
	for i, ch := range chunks {
		if i > 0 && pause > 0 {
			time.Sleep(pause)
		}
		if _, err := c.Write(ch); err != nil {
			// The server may close a connection it has given up on; only log it.
			t.Logf("tcp write of chunk %d: %v", i, err)
			return nil
		}
	}
	if wait == 0 {
		return nil
	}
	b, _ := tcpRead(c, wait)
	return b
}

// expectFormErr checks that raw is a FORMERR reply to the query with id.
func expectFormErr(t *testing.T, what string, id uint16, raw []byte) {
	t.Helper()
	if raw == nil {
		t.Errorf("%s: no reply, want FORMERR", what)
		return
	}
	if len(raw) < 12 {
		t.Errorf("%s: reply of %d bytes", what, len(raw))
		return
	}
	gotID, flags := binary.BigEndian.Uint16(raw), binary.BigEndian.Uint16(raw[2:])
	if gotID != id || flags&0x8000 == 0 || int(flags&0xf) != dns.RcodeFormatError {
		t.Errorf("%s: reply id %d flags %04x, want id %d, QR and FORMERR", what, gotID, flags, id)
	}
}

// expectGood unpacks a reply to req and checks it is the good answer.
func (h *hostileTarget) expectGood(t *testing.T, what string, req *dns.Msg, raw []byte) {
	t.Helper()
	if raw == nil {
		t.Errorf("%s: no reply", what)
		return
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		t.Errorf("%s: reply does not unpack: %v", what, err)
		return
	}
	if err := h.checkGood(req, r); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}
