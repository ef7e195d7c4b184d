package test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSignaturesKeptInBinary asks the binary the same signed questions again and again, in
// other letter cases too, and checks that every answer carries the signatures made on the
// first ask (an ECDSA signature made again would differ), that the plugin counted one
// signing per RRset, and that delv still validates what it serves.
func TestSignaturesKeptInBinary(t *testing.T) {
	t.Parallel()
	tools := NeedValidators(t)
	keys := VectorKeys(t, OperatorLayout())
	s := valNewSetup(t, tools, true)
	metrics := FreePort(t)
	srv := StartCoreDNS(t, t.TempDir(), func(port string) string {
		return valBlock(valFwd, port, s.keys[valFwd], "    prometheus 127.0.0.1:"+metrics+"\n"+valIpsecoe(valFwd, keys, ""))
	})
	questions := []struct {
		names []string
		qtype uint16
		sets  int // RRsets signed for it: the answer, or the denial's SOA and NSEC
	}{
		{[]string{"gw.example.com.", "GW.Example.COM."}, dns.TypeIPSECKEY, 1},
		{[]string{"_53.ns1.example.com.", "_53.NS1.example.com."}, 65347, 1},
		{[]string{"gw.example.com.", "gW.example.com."}, dns.TypeTXT, 2},
	}
	c := &dns.Client{Net: "tcp", Timeout: 3 * time.Second}
	want := 0
	for i, q := range questions {
		want += q.sets
		var first []string
		for round := range 3 {
			for _, name := range q.names {
				m := new(dns.Msg)
				m.SetQuestion(name, q.qtype)
				m.SetEdns0(4096, true)
				r, _, err := c.Exchange(m, srv.Addr())
				if err != nil {
					t.Fatalf("Test %d: %s: %v", i, name, err)
				}
				var sigs []string
				for _, rr := range append(r.Answer, r.Ns...) {
					if sig, ok := rr.(*dns.RRSIG); ok {
						sigs = append(sigs, sig.Signature)
					}
				}
				if len(sigs) != q.sets {
					t.Fatalf("Test %d: %s: %d RRSIGs, want %d:\n%s", i, name, len(sigs), q.sets, r)
				}
				if first == nil {
					first = sigs
				} else if strings.Join(sigs, " ") != strings.Join(first, " ") {
					t.Errorf("Test %d: %s, round %d: signed again", i, name, round)
				}
			}
		}
	}
	page := Fetch(t, "http://127.0.0.1:"+metrics+"/metrics")
	if got := signings(t, page, "first"); got != want {
		t.Errorf("%d RRsets signed on first ask, want %d:\n%s", got, want, page)
	}
	for _, reason := range []string{"changed", "due", "renewed"} {
		if got := signings(t, page, reason); got != 0 {
			t.Errorf("%d RRsets signed for reason %s, want 0", got, reason)
		}
	}
	for _, c := range []Case{
		{valFwd, "GW.Example.COM.", "IPSECKEY", []string{"0a0004"}},
		{valFwd, "gw.example.com.", "TXT", nil},
	} {
		out := Delv(t, tools.Delv, srv.Port, s.delvAnchors, c.Zone, c.Name, c.Qtype)
		if err := CheckDelv(t, c, out); err != nil {
			t.Errorf("delv %s: %v\n%s", c, err, out)
		}
	}
}

// signings sums coredns_ipsecoe_signatures_total for reason over every server.
func signings(t *testing.T, page, reason string) int {
	t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`(?m)^coredns_ipsecoe_signatures_total\{[^}]*reason="%s"[^}]*\} ([0-9.e+]+)$`, reason))
	n := 0
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		n += int(v)
	}
	return n
}
