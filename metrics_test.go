package ipsecoe

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetricsPerBlock gives each block its own gauges: two blocks on one server, with key
// sets of different sizes, each report their own, and a reload of one leaves the other's.
func TestMetricsPerBlock(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dirA, "192.0.2.1.pem"), e2e.Vector(t, "keys/rsa2048.pub.pem"))
	writeFile(t, filepath.Join(dirB, "gw.example.com.pem"), e2e.Vector(t, "keys/ed25519.pub.pem"))
	writeFile(t, filepath.Join(dirB, "ns1.example.com.pem"), e2e.Vector(t, "keys/ecp256.pub.pem"))
	block := func(zone, dir string) *IPSecOE {
		p, err := parse(caddy.NewTestController("dns", "ipsecoe "+zone+" {\n keys "+dir+"\n}"))
		if err != nil {
			t.Fatal(err)
		}
		p.servers = []string{"dns://127.0.0.1:1053"}
		p.load()
		return p
	}
	a, b := block("2.0.192.in-addr.arpa", dirA), block("example.com", dirB)
	for i, tc := range []struct {
		p    *IPSecOE
		keys float64
	}{
		{a, 1},
		{b, 2},
	} {
		l := tc.p.labels()[0]
		if got := testutil.ToFloat64(recordsGauge.With(with(l, "type", "IPSECKEY"))); got != tc.keys {
			t.Errorf("Test %d: %v: %v IPSECKEY records, want %v", i, l, got, tc.keys)
		}
		if got := testutil.ToFloat64(reloadCount.With(with(l, "result", "success"))); got != 1 {
			t.Errorf("Test %d: %v: %v successful reloads, want 1", i, l, got)
		}
	}
	if a.labels()[0]["zones"] == b.labels()[0]["zones"] {
		t.Fatalf("two blocks with one label set %v", a.labels())
	}
	// A reload of b with fewer keys leaves a's gauge alone.
	writeFile(t, filepath.Join(dirB, "ns1.example.com.pem"), []byte("junk"))
	b.load()
	if got := testutil.ToFloat64(recordsGauge.With(with(a.labels()[0], "type", "IPSECKEY"))); got != 1 {
		t.Errorf("block a: %v IPSECKEY records after b's reload, want 1", got)
	}
	if got := testutil.ToFloat64(loadErrorCount.With(with(b.labels()[0], "reason", "parse"))); got != 1 {
		t.Errorf("block b: %v parse errors, want 1", got)
	}
}

// TestLoadStops ends a load at once when the server shuts down: the first load leaves no
// index, a reload leaves the index it would have replaced.
func TestLoadStops(t *testing.T) {
	dir := t.TempDir()
	for i := range 200 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("h%d.example.com.pem", i)), e2e.Vector(t, "keys/ed25519.pub.pem"))
	}
	p, err := parse(caddy.NewTestController("dns", "ipsecoe example.com {\n keys "+dir+"\n}"))
	if err != nil {
		t.Fatal(err)
	}
	p.stop = make(chan struct{})
	close(p.stop)
	p.load()
	if p.Ready() {
		t.Fatal("a stopped first load swapped an index in")
	}
	p.stop = nil
	p.load()
	old := p.idx.Load()
	if old == nil || old.Records()["IPSECKEY"] != 200 {
		t.Fatalf("first load: %v", old)
	}
	writeFile(t, filepath.Join(dir, "new.example.com.pem"), e2e.Vector(t, "keys/ecp256.pub.pem"))
	p.stop = make(chan struct{})
	close(p.stop)
	p.load()
	if p.idx.Load() != old {
		t.Error("a stopped reload swapped a new index in")
	}
}

// TestStartInBackground returns from start before the first load when the process starts,
// and after it when a new Corefile is read; shutdown waits for the poller either way.
func TestStartInBackground(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "gw.example.com.pem"), e2e.Vector(t, "keys/ed25519.pub.pem"))
	for i, background := range []bool{true, false} {
		p, err := parse(caddy.NewTestController("dns", "ipsecoe example.com {\n keys "+dir+"\n reload 1h\n}"))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.start(background); err != nil {
			t.Fatal(err)
		}
		if !background && !p.Ready() {
			t.Errorf("Test %d: not ready when start returned", i)
		}
		for !p.Ready() {
			runtime.Gosched()
		}
		p.shutdown()
		select {
		case <-p.done:
		default:
			t.Errorf("Test %d: the poller runs on after shutdown", i)
		}
	}
}

// TestCountResponse counts through the kept counters into the same series the vector's
// own lookup gives, the first time and every time after, with the type label folded.
func TestCountResponse(t *testing.T) {
	const server = "dns://127.0.0.1:1"
	tests := []struct {
		qtype        uint16
		rcode        int
		typ, rcodeLb string
	}{
		{dns.TypeIPSECKEY, dns.RcodeSuccess, "IPSECKEY", "NOERROR"},
		{TypeIPSECA, dns.RcodeNameError, "IPSECA", "NXDOMAIN"},
		{dns.TypeA, dns.RcodeSuccess, "other", "NOERROR"},
		{dns.TypeMX, dns.RcodeSuccess, "other", "NOERROR"}, // the same series as A's
		{TypeIPSECA, dns.RcodeRefused, "IPSECA", "REFUSED"},
	}
	for _, tc := range tests {
		c := responseCount.WithLabelValues(server, tc.typ, tc.rcodeLb)
		before := testutil.ToFloat64(c)
		for range 3 {
			countResponse(server, tc.qtype, tc.rcode)
		}
		if got := testutil.ToFloat64(c) - before; got != 3 {
			t.Errorf("type %d rcode %d: %v counted under %s/%s, want 3", tc.qtype, tc.rcode, got, tc.typ, tc.rcodeLb)
		}
	}
}
