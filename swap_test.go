package ipsecoe

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
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
	dig := needTool(t, "dig", "bind9-dnsutils")
	bin := integCoreDNS(t)
	const (
		reload   = 200 * time.Millisecond
		interval = 1200 * time.Millisecond
		swaps    = 10
		workers  = 4
	)
	sets := [2][]byte{
		bytes.Join([][]byte{readVector(t, "keys/rsa2048.pub.pem"), readVector(t, "keys/ecp256.pub.pem")}, nil),
		bytes.Join([][]byte{readVector(t, "keys/ed25519.pub.pem"), readVector(t, "keys/lsw_rsa_122269ea.pub.pem"), readVector(t, "keys/ecp256.pub.pem")}, nil),
	}
	want := [2]string{}
	for i, data := range sets {
		keys, err := parseKeyFile(data)
		if err != nil {
			t.Fatal(err)
		}
		var recs []string
		for _, k := range keys {
			recs = append(recs, ipseckey("gw.example.com.", 0, &ipseckeyData{precedence: 10, algorithm: k.algorithm, publicKey: base64.StdEncoding.EncodeToString(k.field())}).String())
		}
		want[i] = canonical(recs)
	}

	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	must(t, os.MkdirAll(keys, 0o755))
	stamp := 0
	swap := func(set int) {
		stamp++
		ts := fmt.Sprintf("..2026_11_22_%06d", stamp)
		writeFile(t, filepath.Join(keys, ts, "gw.example.com.pem"), sets[set])
		writeFile(t, filepath.Join(keys, ts, "192.0.2.1.pem"), readVector(t, "keys/rsa2048.pub.pem"))
		for _, name := range []string{"gw.example.com.pem", "192.0.2.1.pem"} {
			if _, err := os.Lstat(filepath.Join(keys, name)); err != nil {
				must(t, os.Symlink(filepath.Join("..data", name), filepath.Join(keys, name)))
			}
		}
		old, _ := os.Readlink(filepath.Join(keys, "..data"))
		must(t, os.Symlink(ts, filepath.Join(keys, "..data_tmp")))
		must(t, os.Rename(filepath.Join(keys, "..data_tmp"), filepath.Join(keys, "..data")))
		if old != "" {
			must(t, os.RemoveAll(filepath.Join(keys, old))) // the kubelet removes the old folder
		}
	}
	swap(0)

	s := integStart(t, bin, dig, dir, func(port string) string {
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n ipsecoe example.com {\n  keys %s\n  reload %s\n }\n}\n", port, keys, reload)
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
				resp, _, err := c.Exchange(m, "127.0.0.1:"+s.port)
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
		swap(i % 2)
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

func canonical(recs []string) string {
	sort.Strings(recs)
	return strings.Join(recs, "\n")
}
