package test

// What TestLibreswanOE looks for in the logs of pluto and CoreDNS, and how it quotes them.

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// lsoeExpect returns what the logs of a run must show, and what they must not: each peer
// asks the server for the other's IPSECKEY at its reverse name, in upper case, and gets an
// answer; then, by scenario, a secure answer that authenticates the peer, a bogus one that
// pluto ignores, or a secure one with the wrong key that fails the peer's signature.
func lsoeExpect(sc lsoeScenario, a, b *lsoeHost, esp bool) (want, never []lsoeCheck) {
	hosts := []*lsoeHost{a, b}
	peerOf := map[*lsoeHost]*lsoeHost{a: b, b: a}
	// What each peer must have done, whatever the scenario: ask the server for the other's
	// IPSECKEY at its reverse name, in upper case, and get an answer.
	for _, h := range hosts {
		peer := peerOf[h]
		want = append(want,
			lsoeCheck{h.name, `\| start IKEv2 DNS query -- ` + regexp.QuoteMeta(peer.rev) + ` IN IPSECKEY --`},
			lsoeCheck{h.name, `\| IKEv2 DNS query -- ` + regexp.QuoteMeta(peer.rev) + ` IN IPSECKEY -- returned NOERROR `},
			lsoeCheck{"DNS", `\[INFO\] ` + regexp.QuoteMeta(h.addr) + `:\d+ - \d+ "IPSECKEY IN ` +
				regexp.QuoteMeta(strings.ToLower(peer.rev)) + ` udp \d+ true \d+" NOERROR qr,aa`},
		)
	}
	want = append(want, lsoeCheck{"A", `initiate on-demand for packet 198\.18\.0\.2:\d+-UDP->198\.18\.0\.3:53`})

	switch {
	case sc.wrongAnchor || sc.noDNSSEC:
		reason := "signature missing from " + lsoeDNSAddr
		if sc.noDNSSEC {
			reason = "no DNSKEY rrset from " + lsoeDNSAddr
		}
		for _, h := range hosts {
			peer := peerOf[h]
			want = append(want,
				lsoeCheck{h.name, `\| DNSSEC=BOGUS validation failure <` + regexp.QuoteMeta(peer.rev) + ` IPSECKEY IN>: ` +
					regexp.QuoteMeta(reason+" for trust anchor "+lsoeZone+" while building chain of trust")},
				lsoeCheck{h.name, regexp.QuoteMeta(lsoeConn) + `\[\d+\] \.\.\.` + regexp.QuoteMeta(peer.addr) + ` #\d+: IKEv2 DNS query -- ` +
					regexp.QuoteMeta(peer.rev) + ` IN IPSECKEY -- returned NOERROR rr parse error unbound returned BOGUS response - ignored`},
			)
			never = append(never,
				lsoeCheck{h.name, `DNSSEC=SECURE`},
				lsoeCheck{h.name, `add IPSECKEY pluto as publickey`},
				lsoeCheck{h.name, `#\d+: (initiator|responder) established IKE SA`},
			)
		}
		want = append(want,
			lsoeCheck{"B", `#1: responding to IKE_AUTH message \(ID 1\) from 198\.18\.0\.2:500 with encrypted notification AUTHENTICATION_FAILED`},
			lsoeCheck{"A", `#1: IKE SA authentication request rejected by peer: AUTHENTICATION_FAILED`},
		)
	case sc.swapKeys:
		for _, h := range hosts {
			peer := peerOf[h]
			want = append(want,
				lsoeCheck{h.name, `\| DNSSEC=SECURE `},
				// The key the server published at the peer's name is this host's own.
				lsoeCheck{h.name, `\| ` + regexp.QuoteMeta(peer.rev) + ` \d+ IN IPSECKEY 10 0 2 \. ` + regexp.QuoteMeta(h.key) + `\n`},
				lsoeCheck{h.name, `\| add IPSECKEY pluto as publickey ` + regexp.QuoteMeta(peer.addr) + ` dns query is ` +
					regexp.QuoteMeta(peer.rev) + ` ttl \d+ DNSSEC_SECURE`},
			)
			never = append(never, lsoeCheck{h.name, `#\d+: (initiator|responder) established IKE SA`})
		}
		want = append(want,
			lsoeCheck{"B", `#1: authentication failed: using RSASSA-PSS with SHA2_\d+ for '198\.18\.0\.2' tried preloaded: \*` + regexp.QuoteMeta(b.keyID)},
			lsoeCheck{"B", `#1: responding to IKE_AUTH message \(ID 1\) from 198\.18\.0\.2:500 with encrypted notification AUTHENTICATION_FAILED`},
			lsoeCheck{"A", `#1: IKE SA authentication request rejected by peer: AUTHENTICATION_FAILED`},
		)
	default:
		for _, h := range hosts {
			peer := peerOf[h]
			role := map[string]string{"A": "initiator", "B": "responder"}[h.name]
			want = append(want,
				lsoeCheck{h.name, `\| DNSSEC=SECURE `},
				lsoeCheck{h.name, `\| ` + regexp.QuoteMeta(peer.rev) + ` \d+ IN IPSECKEY 10 0 2 \. ` + regexp.QuoteMeta(peer.key) + `\n`},
				lsoeCheck{h.name, `\| add IPSECKEY pluto as publickey ` + regexp.QuoteMeta(peer.addr) + ` dns query is ` +
					regexp.QuoteMeta(peer.rev) + ` ttl \d+ DNSSEC_SECURE`},
				lsoeCheck{h.name, `\| trying all 'preloaded's for RSA key using RSASSA-PSS signature that matches ID: ` + regexp.QuoteMeta(peer.addr) + `\n`},
				lsoeCheck{h.name, regexp.QuoteMeta(lsoeConn) + `\[\d+\] \.\.\.` + regexp.QuoteMeta(peer.addr) + ` #1: ` + role +
					` established IKE SA; authenticated peer '\d+-bit RSASSA-PSS with SHA2_\d+' digital signature using preloaded certificate '` +
					regexp.QuoteMeta(peer.addr) + `'`},
			)
			never = append(never, lsoeCheck{h.name, `BOGUS|INSECURE|authentication failed`})
		}
		if esp {
			want = append(want,
				lsoeCheck{"A", `#2: initiator established Child SA using #1`},
				lsoeCheck{"B", `#2: responder established Child SA using #1`},
			)
		}
	}

	return want, never
}

// lsoeCheck is a regular expression one log must (or must not) match.
type lsoeCheck struct {
	where string // A, B or DNS
	re    string
}

// lsoeWait polls the logs until every check matches, or the timeout; it returns the
// checks that never matched.
func lsoeWait(logs map[string]string, checks []lsoeCheck, timeout time.Duration) []lsoeCheck {
	res := make([]*regexp.Regexp, len(checks))
	for i, c := range checks {
		res[i] = regexp.MustCompile(c.re)
	}
	deadline := time.Now().Add(timeout)
	for {
		var missing []lsoeCheck
		text := map[string]string{}
		for w, p := range logs {
			text[w] = lsoeRead(p)
		}
		for i, c := range checks {
			if !res[i].MatchString(text[c.where]) {
				missing = append(missing, c)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lsoeGrepChecks quotes the first line each check matched.
func lsoeGrepChecks(logs map[string]string, checks []lsoeCheck) string {
	var b strings.Builder
	for _, c := range checks {
		loc := regexp.MustCompile(c.re).FindStringIndex(lsoeRead(logs[c.where]))
		if loc == nil {
			continue
		}
		text := lsoeRead(logs[c.where])
		start := strings.LastIndexByte(text[:loc[0]], '\n') + 1
		end := strings.IndexByte(text[loc[0]:], '\n')
		line := text[start:]
		if end >= 0 {
			line = text[start : loc[0]+end]
		}
		if len(line) > 300 {
			line = line[:300] + "…"
		}
		fmt.Fprintf(&b, "%s: %s\n", c.where, line)
	}
	return b.String()
}

// lsoeGrep returns the lines of pluto's own (not debug) output that match re.
func lsoeGrep(logA, logB string, re *regexp.Regexp) string {
	var b strings.Builder
	for _, l := range []struct{ name, path string }{{"A", logA}, {"B", logB}} {
		for line := range strings.Lines(lsoeRead(l.path)) {
			if lsoePlutoLine.MatchString(line) && !strings.Contains(line, ": | ") && re.MatchString(line) {
				fmt.Fprintf(&b, "%s: %s", l.name, line)
			}
		}
	}
	return b.String()
}

// lsoePlutoLine is a line pluto logged itself (not libunbound), with its time stamp.
var lsoePlutoLine = regexp.MustCompile(`^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d\.\d+: `)

// lsoeExcerpt keeps what matters of a pluto log (plutodebug=base and libunbound's log make
// hundreds of kilobytes): pluto's own lines, its DNS and authentication debug lines, and
// libunbound's verdicts.
func lsoeExcerpt(path string) string {
	debug := regexp.MustCompile(`DNS query|DNSSEC=|IN IPSECKEY|add IPSECKEY|trying all|NSS RSA|dnssec root key|trusted key file`)
	unbound := regexp.MustCompile(`validation failure|validation success|sec_status|error`)
	var b strings.Builder
	n := 0
	for line := range strings.Lines(lsoeRead(path)) {
		keep := false
		switch {
		case strings.Contains(line, "libunbound["):
			keep = unbound.MatchString(line)
		case !lsoePlutoLine.MatchString(line):
			keep = strings.Contains(line, "pluto")
		case strings.Contains(line, ": | "), strings.Contains(line, ": |] "):
			keep = debug.MatchString(line)
		default:
			keep = !strings.HasPrefix(line[strings.Index(line, ": ")+2:], "  ")
		}
		if !keep {
			continue
		}
		if n++; n > 400 {
			b.WriteString("[…]\n")
			break
		}
		if len(line) > 400 {
			line = line[:400] + "…\n"
		}
		b.WriteString(line)
	}
	return b.String()
}

func lsoeOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func lsoeRead(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}
