package ipsecoe

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/dnssec"
	"github.com/coredns/coredns/plugin/pkg/cache"
	"github.com/coredns/coredns/plugin/whoami"

	"github.com/miekg/dns"
)

// packWriter is a dns.ResponseWriter that packs each reply, as the server would, and
// throws it away: benchmarks then count the packing too.
type packWriter struct {
	buf []byte
	msg *dns.Msg // the last reply
}

func (w *packWriter) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *packWriter) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (w *packWriter) WriteMsg(m *dns.Msg) error {
	var err error
	w.msg = m
	w.buf, err = m.PackBuffer(w.buf[:cap(w.buf)])
	return err
}
func (w *packWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *packWriter) Close() error                { return nil }
func (w *packWriter) TsigStatus() error           { return nil }
func (w *packWriter) TsigTimersOnly(bool)         {}
func (w *packWriter) Hijack()                     {}

func benchPlugin(tb testing.TB, dir string) *IPSecOE {
	c := caddy.NewTestController("dns", `ipsecoe 10.in-addr.arpa 8.b.d.0.1.0.0.2.ip6.arpa example.com {
		keys `+dir+`
		ipseca 500
		gateway 2001:db8:1::/64 10.0.0.1
	}`)
	p, err := parse(c)
	if err != nil {
		tb.Fatal(err)
	}
	p.load()
	if !p.Ready() {
		tb.Fatal("no keys loaded")
	}
	return p
}

func BenchmarkServeDNS(b *testing.B) {
	p := benchPlugin(b, e2e.HostKeyDir(b, 1000))
	cases := []struct {
		name    string
		qname   string
		qtype   uint16
		rcode   int
		answers int
	}{
		{"host", "7.3.0.10.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeSuccess, 1},
		{"gateway6", "1.0.0.0.0.0.0.0.d.c.b.a.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", dns.TypeIPSECKEY, dns.RcodeSuccess, 1},
		{"ipseca", "_500.7.3.0.10.in-addr.arpa.", TypeIPSECA, dns.RcodeSuccess, 1},
		{"nodata", "7.3.0.10.in-addr.arpa.", dns.TypeTXT, dns.RcodeSuccess, 0},
		{"nxdomain", "7.3.200.10.in-addr.arpa.", dns.TypeIPSECKEY, dns.RcodeNameError, 0},
	}
	whoamiHandler := whoami.Whoami{}
	b.Run("whoami", func(b *testing.B) {
		runServe(b, whoamiHandler, "7.3.0.10.in-addr.arpa.", dns.TypeA)
	})
	// unsigned: the plugin alone; signed: before dnssec, as the binary chains them, serving
	// the signatures it keeps; dnssec: after dnssec, which signs every answer as it passes.
	signed := benchPlugin(b, e2e.HostKeyDir(b, 1000))
	signWith(b, signed, "10.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.")
	after := benchPlugin(b, e2e.HostKeyDir(b, 1000))
	dk, _ := zoneKey(b, "10.in-addr.arpa.")
	d := dnssec.New([]string{"10.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."}, []*dnssec.DNSKEY{dk}, false, after, cache.New[[]dns.RR](10000))
	for _, setup := range []struct {
		name string
		h    plugin.Handler
	}{{"unsigned", p}, {"signed", signed}, {"dnssec", d}} {
		for _, tc := range cases {
			b.Run(setup.name+"/"+tc.name, func(b *testing.B) {
				w := runServe(b, setup.h, tc.qname, tc.qtype)
				rcode := tc.rcode
				if setup.name != "unsigned" && strings.HasSuffix(tc.qname, ".arpa.") {
					rcode = dns.RcodeSuccess // a signed NXDOMAIN is a NODATA
				}
				if w.msg.Rcode != rcode || len(w.msg.Answer)-countType(w.msg.Answer, dns.TypeRRSIG) != tc.answers {
					b.Fatalf("%s: rcode %s, %d answers; want %s, %d", tc.qname, dns.RcodeToString[w.msg.Rcode],
						len(w.msg.Answer), dns.RcodeToString[rcode], tc.answers)
				}
			})
		}
	}
}

// BenchmarkServeRandom asks IPSECKEY at every name of a key directory, in random order,
// with the plugin alone (unsigned) and chained before dnssec (signed); every name is asked
// once before the signed run is timed, as bench/run.sh warms the server up. unsigned-hot
// and signed-hot ask the first 100 names over and over, which stay in the processor's
// caches: random less hot is what the reads of the index (unsigned), and of the index and
// the kept signatures (signed), cost once they no longer fit:
//
//	IPSECOE_BENCH_DIR=bench/.work/n1000000/keys taskset -c 0 go test -run XXX -bench ServeRandom -benchtime 1000000x .
//
// Each query's name is made anew from one buffer read in order, as the server unpacks
// it from the wire: only the plugin's own memory is read out of order. Without
// IPSECOE_BENCH_DIR it makes 1000 keys.
func BenchmarkServeRandom(b *testing.B) {
	dir := os.Getenv("IPSECOE_BENCH_DIR")
	if dir == "" {
		dir = e2e.HostKeyDir(b, 1000)
	}
	unsigned, signed := benchPlugin(b, dir), benchPlugin(b, dir)
	signWith(b, signed, "10.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.")
	ix := unsigned.idx.Load()
	var names []string
	for id := range ix.Names() {
		name := ix.Name(id)
		if n, _ := ix.Lookup(name); strings.HasSuffix(name, ".in-addr.arpa.") && len(n.IPSECKEYs(nil)) > 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		b.Fatalf("no IPSECKEY at a reverse IPv4 name in %s", dir)
	}
	rand.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	var text []byte
	ends := make([]int, len(names))
	for i, name := range names {
		text = append(text, name...)
		ends[i] = len(text)
	}
	names = nil
	m := new(dns.Msg)
	m.SetQuestion(".", dns.TypeIPSECKEY)
	m.SetEdns0(4096, true)
	ask := func(p *IPSecOE, w dns.ResponseWriter, i int) error {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		m.Question[0].Name = string(text[start:ends[i]])
		_, err := p.ServeDNS(context.Background(), w, m)
		return err
	}
	w := &packWriter{buf: make([]byte, 0, 4096)}
	for i := range ends {
		if err := ask(signed, w, i); err != nil {
			b.Fatal(err)
		}
	}
	for _, h := range []struct {
		name  string
		p     *IPSecOE
		names int // asked in turn: all of them, or the first few over and over
	}{
		{"unsigned", unsigned, len(ends)}, {"unsigned-hot", unsigned, min(100, len(ends))},
		{"signed", signed, len(ends)}, {"signed-hot", signed, min(100, len(ends))},
	} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := range b.N {
				if err := ask(h.p, w, i%h.names); err != nil {
					b.Fatal(err)
				}
			}
			sigs := countType(w.msg.Answer, dns.TypeRRSIG)
			if len(w.msg.Answer)-sigs != 1 || (sigs == 1) != (h.p == signed) {
				b.Fatalf("%s: %d records and %d RRSIGs in the answer", h.name, len(w.msg.Answer)-sigs, sigs)
			}
		})
	}
}

func runServe(b *testing.B, h interface {
	ServeDNS(context.Context, dns.ResponseWriter, *dns.Msg) (int, error)
}, qname string, qtype uint16) *packWriter {
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.SetEdns0(4096, true)
	w := &packWriter{buf: make([]byte, 0, 4096)}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := h.ServeDNS(ctx, w, m); err != nil {
			b.Fatal(err)
		}
	}
	return w
}
