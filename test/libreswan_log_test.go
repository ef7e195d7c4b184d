package test

// What TestLibreswanOE looks for in the logs of pluto and CoreDNS, and how it quotes them.

import (
	"fmt"
	"regexp"
	"strings"
)

// lsoeExpect returns what the logs of a run must show, and what they must not: each peer
// asks the server for the other's IPSECKEY at its reverse name, in upper case, and gets an
// answer; then, by scenario, a secure answer that authenticates the peer, a bogus one that
// pluto ignores, or a secure one with the wrong key that fails the peer's signature.
func lsoeExpect(sc lsoeScenario, a, b *lsoeHost, esp bool) (want, never []LogCheck) {
	hosts := []*lsoeHost{a, b}
	peerOf := map[*lsoeHost]*lsoeHost{a: b, b: a}
	// What each peer must have done, whatever the scenario: ask the server for the other's
	// IPSECKEY at its reverse name, in upper case, and get an answer.
	for _, h := range hosts {
		peer := peerOf[h]
		want = append(want,
			LogCheck{h.name, `\| start IKEv2 DNS query -- ` + regexp.QuoteMeta(peer.rev) + ` IN IPSECKEY --`},
			LogCheck{h.name, `\| IKEv2 DNS query -- ` + regexp.QuoteMeta(peer.rev) + ` IN IPSECKEY -- returned NOERROR `},
			LogCheck{"DNS", `\[INFO\] ` + regexp.QuoteMeta(h.addr) + `:\d+ - \d+ "IPSECKEY IN ` +
				regexp.QuoteMeta(strings.ToLower(peer.rev)) + ` udp \d+ true \d+" NOERROR qr,aa`},
		)
	}
	want = append(want, LogCheck{"A", `initiate on-demand for packet 198\.18\.0\.2:\d+-UDP->198\.18\.0\.3:53`})

	switch {
	case sc.wrongAnchor || sc.noDNSSEC:
		reason := "signature missing from " + lsoeDNSAddr
		if sc.noDNSSEC {
			reason = "no DNSKEY rrset from " + lsoeDNSAddr
		}
		for _, h := range hosts {
			peer := peerOf[h]
			want = append(want,
				LogCheck{h.name, `\| DNSSEC=BOGUS validation failure <` + regexp.QuoteMeta(peer.rev) + ` IPSECKEY IN>: ` +
					regexp.QuoteMeta(reason+" for trust anchor "+lsoeZone+" while building chain of trust")},
				LogCheck{h.name, regexp.QuoteMeta(lsoeConn) + `\[\d+\] \.\.\.` + regexp.QuoteMeta(peer.addr) + ` #\d+: IKEv2 DNS query -- ` +
					regexp.QuoteMeta(peer.rev) + ` IN IPSECKEY -- returned NOERROR rr parse error unbound returned BOGUS response - ignored`},
			)
			never = append(never,
				LogCheck{h.name, `DNSSEC=SECURE`},
				LogCheck{h.name, `add IPSECKEY pluto as publickey`},
				LogCheck{h.name, `#\d+: (initiator|responder) established IKE SA`},
			)
		}
		want = append(want,
			LogCheck{"B", `#1: responding to IKE_AUTH message \(ID 1\) from 198\.18\.0\.2:500 with encrypted notification AUTHENTICATION_FAILED`},
			LogCheck{"A", `#1: IKE SA authentication request rejected by peer: AUTHENTICATION_FAILED`},
		)
	case sc.swapKeys:
		for _, h := range hosts {
			peer := peerOf[h]
			want = append(want,
				LogCheck{h.name, `\| DNSSEC=SECURE `},
				// The key the server published at the peer's name is this host's own.
				LogCheck{h.name, `\| ` + regexp.QuoteMeta(peer.rev) + ` \d+ IN IPSECKEY 10 0 2 \. ` + regexp.QuoteMeta(h.key) + `\n`},
				LogCheck{h.name, `\| add IPSECKEY pluto as publickey ` + regexp.QuoteMeta(peer.addr) + ` dns query is ` +
					regexp.QuoteMeta(peer.rev) + ` ttl \d+ DNSSEC_SECURE`},
			)
			never = append(never, LogCheck{h.name, `#\d+: (initiator|responder) established IKE SA`})
		}
		want = append(want,
			LogCheck{"B", `#1: authentication failed: using RSASSA-PSS with SHA2_\d+ for '198\.18\.0\.2' tried preloaded: \*` + regexp.QuoteMeta(b.keyID)},
			LogCheck{"B", `#1: responding to IKE_AUTH message \(ID 1\) from 198\.18\.0\.2:500 with encrypted notification AUTHENTICATION_FAILED`},
			LogCheck{"A", `#1: IKE SA authentication request rejected by peer: AUTHENTICATION_FAILED`},
		)
	default:
		for _, h := range hosts {
			peer := peerOf[h]
			role := map[string]string{"A": "initiator", "B": "responder"}[h.name]
			want = append(want,
				LogCheck{h.name, `\| DNSSEC=SECURE `},
				LogCheck{h.name, `\| ` + regexp.QuoteMeta(peer.rev) + ` \d+ IN IPSECKEY 10 0 2 \. ` + regexp.QuoteMeta(peer.key) + `\n`},
				LogCheck{h.name, `\| add IPSECKEY pluto as publickey ` + regexp.QuoteMeta(peer.addr) + ` dns query is ` +
					regexp.QuoteMeta(peer.rev) + ` ttl \d+ DNSSEC_SECURE`},
				LogCheck{h.name, `\| trying all 'preloaded's for RSA key using RSASSA-PSS signature that matches ID: ` + regexp.QuoteMeta(peer.addr) + `\n`},
				LogCheck{h.name, regexp.QuoteMeta(lsoeConn) + `\[\d+\] \.\.\.` + regexp.QuoteMeta(peer.addr) + ` #1: ` + role +
					` established IKE SA; authenticated peer '\d+-bit RSASSA-PSS with SHA2_\d+' digital signature using preloaded certificate '` +
					regexp.QuoteMeta(peer.addr) + `'`},
			)
			never = append(never, LogCheck{h.name, `BOGUS|INSECURE|authentication failed`})
		}
		if esp {
			want = append(want,
				LogCheck{"A", `#2: initiator established Child SA using #1`},
				LogCheck{"B", `#2: responder established Child SA using #1`},
			)
		}
	}

	return want, never
}

// lsoeGrep returns the lines of pluto's own (not debug) output that match re.
func lsoeGrep(logA, logB string, re *regexp.Regexp) string {
	var b strings.Builder
	for _, l := range []struct{ name, path string }{{"A", logA}, {"B", logB}} {
		for line := range strings.Lines(ReadLog(l.path)) {
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
	return Excerpt(path, func(line string) bool {
		switch {
		case strings.Contains(line, "libunbound["):
			return unbound.MatchString(line)
		case !lsoePlutoLine.MatchString(line):
			return strings.Contains(line, "pluto")
		case strings.Contains(line, ": | "), strings.Contains(line, ": |] "):
			return debug.MatchString(line)
		default:
			return !strings.HasPrefix(line[strings.Index(line, ": ")+2:], "  ")
		}
	})
}
