package test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// soakDuration is how long TestSoak runs: IPSECOE_SOAK (e.g. "60s") or 15 seconds.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("IPSECOE_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("IPSECOE_SOAK: %v", err)
		}
		return d
	}
	return 15 * time.Second
}

// TestSoak keeps the real binary under bounded load while the key directory is swapped every
// second, and checks that no query fails and that the goroutine count and resident memory
// stay flat from the first sixth of the run to the end. Full length:
// IPSECOE_SOAK=60s go test -run TestSoak -v ./test
func TestSoak(t *testing.T) {
	total := soakDuration(t)
	dir := t.TempDir()
	sets := [][]byte{Vector(t, "keys/rsa2048.pub.pem"), Vector(t, "keys/ed25519.pub.pem")}
	stamp := 1
	content := func() map[string][]byte {
		return map[string][]byte{"gw.example.com.pem": sets[stamp%2], "2001-db8--4.pem": Vector(t, "keys/ecp256.pub.pem")}
	}
	keys := NewKeyDir(t, filepath.Join(dir, "keys"), content())
	swap := func() {
		stamp++
		keys.Swap(content())
	}
	var metricsPort string
	s := StartCoreDNS(t, dir, func(port string) string {
		metricsPort = FreePort(t)
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n prometheus 127.0.0.1:%s\n ipsecoe example.com 8.b.d.0.1.0.0.2.ip6.arpa {\n  keys %s\n  reload 250ms\n  gateway 2001:db8:1::/64 2001:db8::4\n }\n}\n", port, metricsPort, keys.Path)
	})
	sample := func() (goroutines, rss float64) {
		m := Fetch(t, "http://127.0.0.1:"+metricsPort+"/metrics")
		return MetricValue(t, m, "go_goroutines"), MetricValue(t, m, "process_resident_memory_bytes")
	}

	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	names := []string{"gw.example.com.", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "nope.example.com."}
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: []string{"udp", "tcp", "udp"}[w], Timeout: 2 * time.Second}
			for n := 0; n < 10_000_000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				m := new(dns.Msg)
				m.SetQuestion(names[n%len(names)], dns.TypeIPSECKEY)
				m.SetEdns0(4096, false)
				resp, _, err := c.Exchange(m, s.Addr())
				sent.Add(1)
				if err != nil || resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
					failed.Add(1)
				}
			}
		}()
	}

	begin := time.Now()
	var g0, r0 float64
	baselineAt := total / 6
	for time.Since(begin) < total {
		time.Sleep(time.Second)
		swap()
		if g0 == 0 && time.Since(begin) >= baselineAt {
			g0, r0 = sample()
		}
	}
	g1, r1 := sample()
	close(stop)
	wg.Wait()

	t.Logf("%d queries in %v with %d swaps; goroutines %v -> %v, RSS %.1f -> %.1f MiB",
		sent.Load(), total, stamp, g0, g1, r0/(1<<20), r1/(1<<20))
	if failed.Load() != 0 {
		t.Errorf("%d of %d queries failed", failed.Load(), sent.Load())
	}
	// Margins: a few goroutines (the server's per-connection ones come and go) and a fifth
	// of the resident memory or 16 MiB, whichever is more.
	if g1 > g0+10 {
		t.Errorf("goroutines grew from %v to %v", g0, g1)
	}
	if r1 > r0+max(r0/5, 16<<20) {
		t.Errorf("resident memory grew from %.1f to %.1f MiB", r0/(1<<20), r1/(1<<20))
	}
	if sent.Load() < 1000 {
		t.Errorf("only %d queries sent", sent.Load())
	}
}
