package test

// TestSizeRSA4096RRset serves one RRset of eight RSA-4096 keys (testdata/keys/rsa4096x8.pem,
// public keys made with openssl) from the real binary and checks how it travels: whole over
// TCP; over UDP whole or truncated exactly as the advertised size allows.

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestSizeRSA4096RRset(t *testing.T) {
	const owner = "big.example.com."

	// The eight keys and the RDATA each must have: IPSECKEY 10 0 2 . KEY.
	pemData := Testdata(t, "keys/rsa4096x8.pem")
	var spkis [][]byte
	for rest := pemData; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		spkis = append(spkis, b.Bytes)
	}
	if len(spkis) != 8 {
		t.Fatalf("rsa4096x8.pem: %d keys, want 8", len(spkis))
	}
	var want []string
	for i, spki := range spkis {
		pub, err := x509.ParsePKIXPublicKey(spki)
		rk, ok := pub.(*rsa.PublicKey)
		if err != nil || !ok || rk.N.BitLen() != 4096 {
			t.Fatalf("rsa4096x8.pem: key %d is not RSA-4096", i)
		}
		want = append(want, RSAHostKey(t, rk))
	}
	slices.Sort(want)
	if len(slices.Compact(slices.Clone(want))) != 8 {
		t.Fatal("rsa4096x8.pem: the keys are not distinct")
	}

	dir := t.TempDir()
	WriteFile(t, filepath.Join(dir, "keys", "big.example.com.pem"), pemData)
	s := StartCoreDNS(t, dir, func(port string) string {
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n ipsecoe example.com {\n  keys %s\n  reload 0\n }\n}\n", port, filepath.Join(dir, "keys"))
	})
	addr := s.Addr()
	raw := &hostileTarget{addr: addr}

	// query asks over proto; bufsize 0 means no EDNS. The client's UDPSize is large, so a
	// reply over the advertised size would arrive whole and be caught, not cut by the client.
	query := func(proto string, bufsize uint16) (*dns.Msg, *dns.Msg) {
		t.Helper()
		req := hostileQuery(owner, dns.TypeIPSECKEY)
		if bufsize != 0 {
			req.SetEdns0(bufsize, false)
		}
		c := &dns.Client{Net: proto, UDPSize: dns.MaxMsgSize, Timeout: 3 * time.Second}
		r, _, err := c.Exchange(req, addr)
		if err != nil {
			t.Fatalf("%s bufsize %d: %v", proto, bufsize, err)
		}
		if r.Id != req.Id || r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Question) != 1 || r.Question[0] != req.Question[0] {
			t.Fatalf("%s bufsize %d: bad reply header or question:\n%v", proto, bufsize, r)
		}
		return req, r
	}
	// rdatas checks every answer is an IPSECKEY at the owner and returns their RDATA hex.
	rdatas := func(what string, r *dns.Msg) []string {
		t.Helper()
		var out []string
		for _, rr := range r.Answer {
			if rr.Header().Rrtype != dns.TypeIPSECKEY || rr.Header().Name != owner || rr.Header().Class != dns.ClassINET {
				t.Errorf("%s: unexpected answer %v", what, rr)
				continue
			}
			out = append(out, hex.EncodeToString(RDATA(t, rr)))
		}
		slices.Sort(out)
		return out
	}

	// TCP: the whole RRset, every key once.
	_, r := query("tcp", 0)
	if r.Truncated || !slices.Equal(rdatas("tcp", r), want) {
		t.Fatalf("over TCP: TC %v, %d answers; want the 8 keys whole", r.Truncated, len(r.Answer))
	}

	for _, bufsize := range []uint16{0, 512, 1232, 4096, 8192, 65535} {
		what := fmt.Sprintf("EDNS bufsize %d", bufsize)
		if bufsize == 0 {
			what = "no EDNS"
		}
		advertised := max(int(bufsize), dns.MinMsgSize)

		// The full answer's size: the TCP reply to the same query, compressed as a UDP
		// reply that has to be cut is (miekg's Truncate compresses before cutting).
		_, full := query("tcp", bufsize)
		if full.Truncated || len(full.Answer) != 8 {
			t.Fatalf("%s over TCP: TC %v, %d answers; want all 8", what, full.Truncated, len(full.Answer))
		}
		full.Compress = true
		packed, err := full.Pack()
		if err != nil {
			t.Fatal(err)
		}
		size := len(packed)

		req, u := query("udp", bufsize)
		got := rdatas(what+" over UDP", u)
		for _, g := range got {
			if _, ok := slices.BinarySearch(want, g); !ok {
				t.Errorf("%s over UDP: an answer that is none of the keys: %s", what, g)
			}
		}
		// The exact datagram the server sends for the same query.
		wire := raw.udpSend(t, hostilePack(t, req), 3*time.Second)
		if wire == nil {
			t.Fatalf("%s: no raw UDP reply", what)
		}
		if len(wire) > advertised {
			t.Errorf("%s: %d-byte UDP reply, over the %d bytes advertised", what, len(wire), advertised)
		}
		if size > advertised {
			if !u.Truncated || len(u.Answer) >= 8 {
				t.Errorf("%s: the answer is %d bytes, over %d, yet TC %v with %d answers", what, size, advertised, u.Truncated, len(u.Answer))
			}
		} else if u.Truncated || !slices.Equal(got, want) {
			t.Errorf("%s: the answer is %d bytes and fits %d, yet TC %v with %d answers", what, size, advertised, u.Truncated, len(u.Answer))
		}
		if bufsize != 0 && u.IsEdns0() == nil {
			t.Errorf("%s over UDP: reply without OPT", what)
		}
		t.Logf("%s: full answer %d bytes, advertised %d: UDP reply %d bytes, TC %v, %d of 8 records", what, size, advertised, len(wire), u.Truncated, len(u.Answer))
	}
}
