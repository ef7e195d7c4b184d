package test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSwapUnderLoad runs the real binary under a bounded query loop while the key directory
// is swapped kubelet-style again and again. Every answer must be the complete old or the
// complete new RRset, with no SERVFAIL and no timeout, and each new set must be served
// within the reload interval plus one second of its swap.
func TestSwapUnderLoad(t *testing.T) {
	const (
		reload   = 200 * time.Millisecond
		interval = 1200 * time.Millisecond
		swaps    = 10
		workers  = 4
	)
	// The two sets of keys gw.example.com has in turn, and the RRset each must give, made
	// from the key fields of the vectors.
	vf := LoadVectors(t)
	files := [2][]string{
		{"keys/rsa2048.pub.pem", "keys/ecp256.pub.pem"},
		{"keys/ed25519.pub.pem", "keys/lsw_rsa_122269ea.pub.pem", "keys/ecp256.pub.pem"},
	}
	var sets [2][]byte
	var want [2]string
	for i, list := range files {
		var recs []string
		for _, f := range list {
			sets[i] = append(sets[i], Vector(t, f)...)
			alg, key := vf.Key(t, f)
			recs = append(recs, (&dns.IPSECKEY{
				Hdr:        dns.RR_Header{Name: "gw.example.com.", Rrtype: dns.TypeIPSECKEY, Class: dns.ClassINET},
				Precedence: 10, GatewayType: 0, Algorithm: alg, GatewayHost: ".", PublicKey: key,
			}).String())
		}
		want[i] = canonical(recs)
	}
	content := func(set int) map[string][]byte {
		return map[string][]byte{"gw.example.com.pem": sets[set], "192.0.2.1.pem": Vector(t, "keys/rsa2048.pub.pem")}
	}

	dir := t.TempDir()
	keys := NewKeyDir(t, filepath.Join(dir, "keys"), content(0))
	s := StartCoreDNS(t, dir, func(port string) string {
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n ipsecoe example.com {\n  keys %s\n  reload %s\n }\n}\n", port, keys.Path, reload)
	})

	type result struct {
		sent, got time.Time
		set       int // 0 or 1; -1 for anything else
		err       string
	}
	var (
		mu      sync.Mutex
		results []result
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			m := new(dns.Msg)
			m.SetQuestion("gw.example.com.", dns.TypeIPSECKEY)
			m.SetEdns0(4096, false)
			for n := 0; n < 1_000_000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				r := result{sent: time.Now(), set: -1}
				resp, _, err := c.Exchange(m, s.Addr())
				r.got = time.Now()
				switch {
				case err != nil:
					r.err = err.Error()
				case resp.Rcode != dns.RcodeSuccess || resp.Truncated:
					r.err = fmt.Sprintf("rcode %s tc %v", dns.RcodeToString[resp.Rcode], resp.Truncated)
				default:
					var recs []string
					for _, rr := range resp.Answer {
						rr.Header().Ttl = 0
						recs = append(recs, rr.String())
					}
					for i := range want {
						if canonical(recs) == want[i] {
							r.set = i
						}
					}
					if r.set < 0 {
						r.err = "a mixed or partial RRset: " + strings.Join(recs, " | ")
					}
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}()
	}

	swapTimes := []time.Time{}
	for i := 1; i <= swaps; i++ {
		time.Sleep(interval)
		keys.Swap(content(i % 2))
		swapTimes = append(swapTimes, time.Now())
	}
	time.Sleep(interval)
	close(stop)
	wg.Wait()

	sort.Slice(results, func(i, j int) bool { return results[i].sent.Before(results[j].sent) })
	errs := 0
	for _, r := range results {
		if r.err != "" {
			if errs < 5 {
				t.Errorf("query at %s: %s", r.sent.Format("15:04:05.000"), r.err)
			}
			errs++
		}
	}
	if errs > 0 {
		t.Errorf("%d of %d queries failed", errs, len(results))
	}
	// Each swap is served within reload + 1 s.
	for i, at := range swapTimes {
		set := (i + 1) % 2
		seen := time.Time{}
		for _, r := range results {
			if r.sent.After(at) && r.set == set {
				seen = r.got
				break
			}
		}
		if seen.IsZero() || seen.Sub(at) > reload+time.Second {
			t.Errorf("swap %d to set %d: first served %v after the swap, want within %v", i+1, set, seen.Sub(at), reload+time.Second)
		}
	}
	t.Logf("%d queries in %v, %d swaps, %.0f qps", len(results), results[len(results)-1].got.Sub(results[0].sent).Round(time.Millisecond), swaps,
		float64(len(results))/results[len(results)-1].got.Sub(results[0].sent).Seconds())
	if len(results) < 1000 {
		t.Errorf("only %d queries: the loop did not run", len(results))
	}
}

// canonical joins records in a fixed order, so that RRsets compare as strings.
func canonical(recs []string) string {
	sort.Strings(recs)
	return strings.Join(recs, "\n")
}
