package test

// TestLibreswanOE is the end-to-end test with real IPsec peers: two Libreswan hosts that
// authenticate each other, in opportunistic encryption, with RSA keys they can only have
// learned from ipsecoe, signed by the dnssec plugin and validated by pluto's libunbound.
//
// Every run builds its own little network from three network namespaces, named after the
// test's PID: host A (198.18.0.2), host B (198.18.0.3) and the DNS side (198.18.0.53), which
// holds a bridge that the hosts' veth pairs are plugged into. Nothing else is on it. The
// addresses are in 198.18.0.0/15 (RFC 2544 benchmarking space) because libunbound answers the
// reverse names of the private ranges, 100.64/10 and the TEST-NETs from its own empty local
// zones and would never ask for them.
//
// The DNS side runs the project's CoreDNS binary for 0.18.198.in-addr.arpa with dnssec (a KSK
// made by dnssec-keygen) and ipsecoe, whose key directory holds the two hosts' public keys
// (198.18.0.2.pem, 198.18.0.3.pem) exported from their NSS databases with
// "ipsec showhostkey --pem": the fixtures of testdata/libreswan (see its README.md).
//
// Each host runs its own pluto (Libreswan 4.10) in the foreground, with its own run, NSS,
// ipsec.d (policy groups), config and secrets. Its resolver is libunbound, which reads the
// fixed paths /etc/resolv.conf and /etc/hosts: pluto is started inside a mount namespace of
// its own (ip netns exec, then unshare --mount --propagation private) where private copies
// are bind-mounted over those two files, so the machine's own files are never touched (the
// test checks that they did not change). The policy is private-or-clear for 198.18.0.0/24
// (and clear for the DNS server, which is inside it), authby RSA signatures, the host's own
// key chosen by its CKAID, the peer's key rightrsasigkey=%dnsondemand: no peer key is
// configured anywhere. DNSSEC is on, with the zone's KSK (its DNSKEY line) as the only trust
// anchor. Both pluto instances log with plutodebug=base, which also turns on libunbound's log.
//
// A UDP packet from A to B triggers OE. Runs:
//
//   - secure: on both peers pluto asked for the peer's IPSECKEY at its reverse name, got a
//     DNSSEC-secure answer carrying exactly the peer's key, added it as the peer's public key,
//     verified the peer's signature with it and established the IKE SA (whack --showstates
//     agrees, and whack --listpubkeys shows that key as the only one).
//   - wrong trust anchor: the hosts trust another KSK; libunbound says BOGUS ("signature
//     missing ... for trust anchor"), pluto ignores the answer, B refuses A with
//     AUTHENTICATION_FAILED, no IKE SA.
//   - no dnssec: dnssec is removed from the Corefile. The answer is not insecure but bogus:
//     the zone has a trust anchor, so unsigned data under it is bogus ("no DNSKEY rrset ...
//     for trust anchor"); then as above.
//   - swapped keys: the key directory publishes each host's key at the other's name. The
//     answers are secure, but B's check of A's signature fails ("authentication failed ...
//     tried preloaded: *<B's own key ID>") and A is told AUTHENTICATION_FAILED.
//
// The Child SA (ESP) needs ESP in the kernel. The test probes for it with "ip xfrm state add
// ... proto esp ... rfc4106(gcm(aes))" (pluto's first proposal) in A's namespace: where it
// works both peers must log "established Child SA"; where it does not, the Child SA lines are
// logged for information only (pluto gets ENOSYS from the kernel and A is told
// TS_UNACCEPTABLE).
//
// It needs root (namespaces, XFRM, bind mounts) and Debian's iproute2, libreswan,
// bind9-dnsutils (dig, also used to trigger OE), bind9-utils (dnssec-keygen), util-linux
// (unshare) and mount, found as NeedTool finds every program (PATH, then /usr/sbin and
// /sbin); like every other tool here, their absence or a user other than root fails the
// test where IPSECOE_REQUIRE_TOOLS or CI is set and skips it elsewhere. The programs it
// starts get that same search path as their PATH, so that pluto's scripts find ipsec. Every process it starts is
// stopped by its own PID, the namespaces are deleted and the files removed when a run ends,
// failed or not; every wait is bounded.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const (
	lsoeZone    = "0.18.198.in-addr.arpa."
	lsoeSubnet  = "198.18.0.0/24"
	lsoeDNSAddr = "198.18.0.53"
	lsoeConn    = `"private-or-clear#198.18.0.0/24"`
)

// lsoeSeq numbers the runs of this process, for unique namespace names.
var lsoeSeq atomic.Int64

// lsoeTools are the programs the test drives.
type lsoeTools struct {
	ip, pluto, whack, dig, keygen, unshare, mount string
}

// lsoeHost is one IPsec peer.
type lsoeHost struct {
	name    string // "A" or "B"
	fixture string // its directory in testdata/libreswan
	addr    string
	rev     string // its reverse name as pluto asks for it: upper case
	key     string // its public key in RFC 3110 form, base64: the IPSECKEY key field
	keyID   string // pluto's ID of that key: its first 9 characters
	ckaid   string // NSS's CKA_ID of the key pair: SHA-1 of the modulus
	pem     []byte // its public key, for the key directory

	netns string
	dir   string
	log   string // pluto's output
	proc  *Proc
}

func (h *lsoeHost) ctl() string { return filepath.Join(h.dir, "run", "pluto.ctl") }

// bridged is the host as an end of the test's network.
func (h *lsoeHost) bridged() Host { return Host{Name: h.name, Netns: h.netns, Addr: h.addr} }

// lsoeScenario is one run.
type lsoeScenario struct {
	name        string
	wrongAnchor bool // the hosts trust a KSK the server does not sign with
	noDNSSEC    bool // no dnssec in the Corefile
	swapKeys    bool // A's key published at B's name and B's at A's
}

func TestLibreswanOE(t *testing.T) {
	NeedRoot(t, "network namespaces, XFRM policies and bind mounts")
	tools := lsoeNeedTools(t)
	bin := CoreDNS(t)

	// The machine's resolver files must be exactly as they were, whatever happens.
	before := lsoeHostFiles(t)
	t.Cleanup(func() {
		if after := lsoeHostFiles(t); after != before {
			t.Errorf("the machine's /etc/resolv.conf or /etc/hosts changed during the test:\nbefore %q\nafter  %q", before, after)
		}
	})

	for _, sc := range []lsoeScenario{
		{name: "secure"},
		{name: "wrong trust anchor", wrongAnchor: true},
		{name: "no dnssec", noDNSSEC: true},
		{name: "swapped keys", swapKeys: true},
	} {
		t.Run(sc.name, func(t *testing.T) { lsoeRun(t, tools, bin, sc) })
	}
}

func lsoeRun(t *testing.T, tools lsoeTools, bin string, sc lsoeScenario) {
	start := time.Now()
	dir := t.TempDir()
	prefix := fmt.Sprintf("ipsecoe-%d-%d", os.Getpid(), lsoeSeq.Add(1))
	a := lsoeNewHost(t, "A", "a", "198.18.0.2", prefix, dir)
	b := lsoeNewHost(t, "B", "b", "198.18.0.3", prefix, dir)
	dnsNS := prefix + "-dns"
	hosts := []*lsoeHost{a, b}
	peerOf := map[*lsoeHost]*lsoeHost{a: b, b: a}

	Bridge(t, tools.ip, dnsNS, lsoeDNSAddr, true, a.bridged(), b.bridged())
	esp, probe := KernelESP(t, tools.ip, a.netns, a.addr, b.addr, 256)

	// The DNS side: a KSK for the zone, the key directory, CoreDNS.
	dnsDir := filepath.Join(dir, "dns")
	zoneKey, anchor := lsoeKeygen(t, tools.keygen, filepath.Join(dnsDir, "ksk"))
	if sc.wrongAnchor {
		_, anchor = lsoeKeygen(t, tools.keygen, filepath.Join(dir, "other"))
	}
	keys := filepath.Join(dnsDir, "keys")
	pubA, pubB := a.pem, b.pem
	if sc.swapKeys {
		pubA, pubB = pubB, pubA
	}
	WriteFile(t, filepath.Join(keys, a.addr+".pem"), pubA)
	WriteFile(t, filepath.Join(keys, b.addr+".pem"), pubB)
	dnssec := ""
	if !sc.noDNSSEC {
		dnssec = fmt.Sprintf("    dnssec {\n        key file %s\n    }\n", zoneKey)
	}
	corefile := filepath.Join(dnsDir, "Corefile")
	WriteFile(t, corefile, []byte(fmt.Sprintf("%s:53 {\n    bind %s\n%s    ipsecoe {\n        keys %s\n    }\n    log\n    errors\n}\n",
		strings.TrimSuffix(lsoeZone, "."), lsoeDNSAddr, dnssec, keys)))
	dnsLog := filepath.Join(dnsDir, "coredns.log")
	dns := Spawn(t, "coredns", dnsLog, nil, tools.ip, "netns", "exec", dnsNS, bin, "-conf", corefile)
	WaitZone(t, tools.ip, tools.dig, dnsNS, lsoeDNSAddr, lsoeZone, dns)

	// What the server publishes, asked from its own namespace (so that every query the
	// server logs from A or B is pluto's): each host's name carries the key the scenario put
	// there, signed unless dnssec is gone.
	for _, h := range hosts {
		want := h
		if sc.swapKeys {
			want = peerOf[h]
		}
		key, signed := ServedHostKey(t, tools.ip, tools.dig, dnsNS, lsoeDNSAddr, h.rev)
		if key != want.key {
			t.Fatalf("the server publishes at %s the key %.20s…, want %s's %.20s…", h.rev, key, want.name, want.key)
		}
		if signed == sc.noDNSSEC {
			t.Fatalf("the IPSECKEY at %s signed: %v, want %v", h.rev, signed, !sc.noDNSSEC)
		}
	}

	// The hosts.
	for _, h := range hosts {
		lsoeHostConfig(t, h, anchor)
		script := `"$3" --bind "$1/resolv.conf" /etc/resolv.conf && "$3" --bind "$1/hosts" /etc/hosts && ` +
			`exec "$2" --nofork --stderrlog --config "$1/ipsec.conf" --rundir "$1/run" --nssdir "$1/nss" ` +
			`--ipsecdir "$1/ipsec.d" --secretsfile "$1/ipsec.secrets"`
		h.proc = Spawn(t, "pluto "+h.name, h.log, nil, tools.ip, "netns", "exec", h.netns,
			tools.unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh", h.dir, tools.pluto, tools.mount)
	}
	for _, h := range hosts {
		lsoeWaitPluto(t, tools, h)
	}
	ready := time.Now()

	// Traffic from A to B: a DNS query to B's address, which nobody answers.
	lsoeTrigger(t, tools, a, b)

	logs := map[string]string{"A": a.log, "B": b.log, "DNS": dnsLog}
	t.Cleanup(func() {
		if t.Failed() {
			for _, w := range []string{"A", "B"} {
				t.Logf("pluto %s, pluto's own lines and its DNS lines:\n%s", w, lsoeExcerpt(logs[w]))
			}
			t.Logf("coredns:\n%s", ReadLog(dnsLog))
		}
	})

	want, never := lsoeExpect(sc, a, b, esp)
	CheckLogs(t, logs, want, never, 20*time.Second)
	done := time.Now()

	// pluto's own view, through each host's control socket.
	for _, h := range hosts {
		peer := peerOf[h]
		states := lsoeWhack(t, tools, h, "--showstates")
		established := regexp.MustCompile(`#1: ` + regexp.QuoteMeta(lsoeConn) + `\[\d+\] \.\.\.` + regexp.QuoteMeta(peer.addr) +
			`:500 STATE_V2_ESTABLISHED_IKE_SA \(established IKE SA\)`).MatchString(states)
		pubkeys := lsoeWhack(t, tools, h, "--listpubkeys")
		n := strings.Count(pubkeys, " RSA Key ")
		switch {
		case sc.wrongAnchor || sc.noDNSSEC:
			if established || n != 0 {
				t.Errorf("%s: an IKE SA (%v) or public keys (%d) after a bogus answer:\n%s\n%s", h.name, established, n, states, pubkeys)
			}
		default:
			// The only public key pluto holds is the one the server published at the peer's
			// name: the peer's own, or with swapped keys this host's.
			from := peer
			if sc.swapKeys {
				from = h
			}
			re := regexp.MustCompile(`RSA Key ` + regexp.QuoteMeta(from.keyID) + `[^\n]*\n000\s+ID_IPV4_ADDR '` + regexp.QuoteMeta(peer.addr) + `'`)
			if n != 1 || !re.MatchString(pubkeys) {
				t.Errorf("%s: want exactly one public key, %s's (%s) for ID %s; whack --listpubkeys:\n%s", h.name, from.name, from.keyID, peer.addr, pubkeys)
			}
			if established != !sc.swapKeys {
				t.Errorf("%s: IKE SA with %s established: %v, want %v; whack --showstates:\n%s", h.name, peer.addr, established, !sc.swapKeys, states)
			}
		}
		if !t.Failed() {
			t.Logf("%s: whack --showstates: %s\n%s: whack --listpubkeys: %d RSA keys\n%s", h.name,
				Or(strings.TrimSpace(states), "no states"), h.name, n, strings.TrimSpace(pubkeys))
		}
	}

	if !sc.wrongAnchor && !sc.noDNSSEC && !sc.swapKeys {
		note := "for information: the kernel has no ESP (" + probe + "), so no Child SA can be installed"
		if esp {
			note = "the kernel has ESP, so the Child SA was required"
		}
		t.Logf("Child SA, %s:\n%s", note, lsoeGrep(a.log, b.log, regexp.MustCompile(`#2: `)))
	}
	if !t.Failed() {
		t.Logf("checked in pluto's logs:\n%s", QuoteChecks(logs, want))
	}
	t.Logf("timing: setup %v, OE %v, total %v (without teardown)", ready.Sub(start).Round(time.Millisecond),
		done.Sub(ready).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
