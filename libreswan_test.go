package ipsecoe

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
// (unshare) and mount; like every other tool here, their absence fails the test where
// IPSECOE_REQUIRE_TOOLS or CI is set and skips it elsewhere. Every process it starts is
// stopped by its own PID, the namespaces are deleted and the files removed when a run ends,
// failed or not; every wait is bounded.

import (
	"context"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
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
	proc  *lsoeProc
}

func (h *lsoeHost) ctl() string { return filepath.Join(h.dir, "run", "pluto.ctl") }

// lsoeScenario is one run.
type lsoeScenario struct {
	name        string
	wrongAnchor bool // the hosts trust a KSK the server does not sign with
	noDNSSEC    bool // no dnssec in the Corefile
	swapKeys    bool // A's key published at B's name and B's at A's
}

func TestLibreswanOE(t *testing.T) {
	if os.Geteuid() != 0 {
		msg := "needs root: network namespaces, XFRM policies and bind mounts"
		if os.Getenv("IPSECOE_REQUIRE_TOOLS") != "" || os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	tools := lsoeNeedTools(t)
	bin := integCoreDNS(t)

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

	lsoeNetwork(t, tools, dnsNS, a, b)
	esp, probe := lsoeKernelESP(t, tools, a.netns)

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
	lsoeWrite(t, filepath.Join(keys, a.addr+".pem"), pubA, 0o644)
	lsoeWrite(t, filepath.Join(keys, b.addr+".pem"), pubB, 0o644)
	dnssec := ""
	if !sc.noDNSSEC {
		dnssec = fmt.Sprintf("    dnssec {\n        key file %s\n    }\n", zoneKey)
	}
	corefile := filepath.Join(dnsDir, "Corefile")
	lsoeWrite(t, corefile, []byte(fmt.Sprintf("%s:53 {\n    bind %s\n%s    ipsecoe {\n        keys %s\n    }\n    log\n    errors\n}\n",
		strings.TrimSuffix(lsoeZone, "."), lsoeDNSAddr, dnssec, keys)), 0o644)
	dnsLog := filepath.Join(dnsDir, "coredns.log")
	dns := lsoeStart(t, "coredns", dnsLog, tools.ip, "netns", "exec", dnsNS, bin, "-conf", corefile)
	lsoeWaitDNS(t, tools, dnsNS, dns, dnsLog)

	// What the server publishes, asked from its own namespace (so that every query the
	// server logs from A or B is pluto's): each host's name carries the key the scenario put
	// there, signed unless dnssec is gone.
	for _, h := range hosts {
		want := h
		if sc.swapKeys {
			want = peerOf[h]
		}
		key, signed := lsoeServed(t, tools, dnsNS, h.rev)
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
		h.proc = lsoeStart(t, "pluto "+h.name, h.log, tools.ip, "netns", "exec", h.netns,
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
			t.Logf("coredns:\n%s", lsoeRead(dnsLog))
		}
	})

	// What each peer must have done, whatever the scenario: ask the server for the other's
	// IPSECKEY at its reverse name, in upper case, and get an answer.
	var want, never []lsoeCheck
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

	missing := lsoeWait(logs, want, 20*time.Second)
	for _, c := range missing {
		t.Errorf("%s's log lacks /%s/", c.where, c.re)
	}
	for _, c := range never {
		if m := regexp.MustCompile(c.re).FindString(lsoeRead(logs[c.where])); m != "" {
			t.Errorf("%s's log has %q, which must not happen here", c.where, m)
		}
	}
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
				lsoeOr(strings.TrimSpace(states), "no states"), h.name, n, strings.TrimSpace(pubkeys))
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
		t.Logf("checked in pluto's logs:\n%s", lsoeGrepChecks(logs, want))
	}
	t.Logf("timing: setup %v, OE %v, total %v (without teardown)", ready.Sub(start).Round(time.Millisecond),
		done.Sub(ready).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// lsoeNeedTools finds the programs; Debian installs ip and ipsec in /usr/sbin and pluto in
// ipsec's libexec directory.
func lsoeNeedTools(t *testing.T) lsoeTools {
	t.Helper()
	ipsec := lsoeTool(t, "ipsec", "libreswan")
	var tools lsoeTools
	tools.ip = lsoeTool(t, "ip", "iproute2")
	tools.dig = lsoeTool(t, "dig", "bind9-dnsutils")
	tools.keygen = lsoeTool(t, "dnssec-keygen", "bind9-utils")
	tools.unshare = lsoeTool(t, "unshare", "util-linux")
	tools.mount = lsoeTool(t, "mount", "mount")
	libexec := "/usr/libexec/ipsec"
	if out, _, err := lsoeCmd(t, 10*time.Second, ipsec, "--directory"); err == nil && strings.HasPrefix(strings.TrimSpace(out), "/") {
		libexec = strings.TrimSpace(out)
	}
	tools.pluto = filepath.Join(libexec, "pluto")
	tools.whack = filepath.Join(libexec, "whack")
	for _, p := range []string{tools.pluto, tools.whack} {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("%s not found (Debian package libreswan): %v", p, err)
		}
	}
	return tools
}

func lsoeTool(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return needTool(t, name, pkg)
}

// lsoeHostFiles is the content of the machine's resolver files, to compare after the test.
func lsoeHostFiles(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		data, err := os.ReadFile(f)
		fmt.Fprintf(&b, "%s: %q %v\n", f, data, err)
	}
	return b.String()
}

// lsoeNewHost reads a host's public key fixture and derives what pluto will show of it.
func lsoeNewHost(t *testing.T, name, fixture, addr, prefix, dir string) *lsoeHost {
	t.Helper()
	h := &lsoeHost{
		name:    name,
		fixture: filepath.Join("testdata", "libreswan", fixture),
		addr:    addr,
		netns:   prefix + "-" + fixture,
		dir:     filepath.Join(dir, fixture),
	}
	h.log = filepath.Join(h.dir, "pluto.log")
	h.rev = strings.ToUpper(lsoeReverse(addr))
	var err error
	h.pem, err = os.ReadFile(filepath.Join(h.fixture, "pubkey.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(h.pem)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("%s/pubkey.pem: not a PEM public key", h.fixture)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatalf("%s/pubkey.pem: %v", h.fixture, err)
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("%s/pubkey.pem: %T, want an RSA key (pluto takes only RSA from IPSECKEY)", h.fixture, pub)
	}
	e := big.NewInt(int64(rsaPub.E)).Bytes()
	rfc3110 := append(append([]byte{byte(len(e))}, e...), rsaPub.N.Bytes()...)
	h.key = base64.StdEncoding.EncodeToString(rfc3110)
	h.keyID = h.key[:9]
	sum := sha1.Sum(rsaPub.N.Bytes())
	h.ckaid = hex.EncodeToString(sum[:])
	return h
}

// lsoeReverse is the reverse name of an IPv4 address.
func lsoeReverse(addr string) string {
	f := strings.Split(addr, ".")
	return f[3] + "." + f[2] + "." + f[1] + "." + f[0] + ".in-addr.arpa."
}

// lsoeCmd runs a program with a deadline. A timeout fails the test; an exit status is
// returned as an error, with stdout and stderr.
func lsoeCmd(t *testing.T, timeout time.Duration, prog string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v\n%s%s", prog, strings.Join(args, " "), timeout, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String(), err
}

// lsoeMust runs a program that must succeed.
func lsoeMust(t *testing.T, prog string, args ...string) string {
	t.Helper()
	out, errOut, err := lsoeCmd(t, 30*time.Second, prog, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", prog, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func lsoeWrite(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// lsoeNetwork makes the namespaces: the DNS side holds a bridge with 198.18.0.53, and each
// host a veth pair with one end in the bridge, its address and a default route (pluto's
// %defaultroute needs one) through the DNS side. IPv6 is off, so nothing else talks.
func lsoeNetwork(t *testing.T, tools lsoeTools, dnsNS string, hosts ...*lsoeHost) {
	t.Helper()
	names := []string{dnsNS}
	for _, h := range hosts {
		names = append(names, h.netns)
	}
	for _, ns := range names {
		lsoeMust(t, tools.ip, "netns", "add", ns)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if out, err := exec.CommandContext(ctx, tools.ip, "netns", "delete", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns delete %s: %v\n%s", ns, err, out)
			}
		})
		if _, errOut, err := lsoeCmd(t, 30*time.Second, tools.ip, "netns", "exec", ns, "/bin/sh", "-c",
			"echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"); err != nil {
			t.Logf("%s: IPv6 stays on: %v %s", ns, err, errOut)
		}
		lsoeMust(t, tools.ip, "-n", ns, "link", "set", "lo", "up")
	}
	lsoeMust(t, tools.ip, "-n", dnsNS, "link", "add", "br0", "type", "bridge")
	lsoeMust(t, tools.ip, "-n", dnsNS, "addr", "add", lsoeDNSAddr+"/24", "dev", "br0")
	lsoeMust(t, tools.ip, "-n", dnsNS, "link", "set", "br0", "up")
	for _, h := range hosts {
		port := "to" + h.name
		lsoeMust(t, tools.ip, "-n", dnsNS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.netns)
		lsoeMust(t, tools.ip, "-n", dnsNS, "link", "set", port, "master", "br0", "up")
		lsoeMust(t, tools.ip, "-n", h.netns, "addr", "add", h.addr+"/24", "dev", "eth0")
		lsoeMust(t, tools.ip, "-n", h.netns, "link", "set", "eth0", "up")
		lsoeMust(t, tools.ip, "-n", h.netns, "route", "add", "default", "via", lsoeDNSAddr)
	}
}

// lsoeKernelESP tells whether the kernel can install the ESP SA pluto negotiates first
// (AES-GCM-16 with a 256-bit key), by adding one by hand in netns and deleting it.
func lsoeKernelESP(t *testing.T, tools lsoeTools, netns string) (bool, string) {
	t.Helper()
	sa := []string{"-n", netns, "xfrm", "state"}
	id := []string{"src", "198.18.0.2", "dst", "198.18.0.3", "proto", "esp", "spi", "0x00000100"}
	args := append(append(append([]string{}, sa...), "add"), id...)
	args = append(args, "mode", "tunnel", "aead", "rfc4106(gcm(aes))", "0x"+strings.Repeat("00", 36), "128")
	out, errOut, err := lsoeCmd(t, 30*time.Second, tools.ip, args...)
	if err != nil {
		return false, strings.TrimSpace("ip xfrm state add ... proto esp ... rfc4106(gcm(aes)): " + out + errOut)
	}
	lsoeMust(t, tools.ip, append(append(sa, "delete"), id...)...)
	return true, "ip xfrm state add of an ESP SA works"
}

// lsoeKeygen makes a KSK for the zone and returns its base path and its DNSKEY line.
func lsoeKeygen(t *testing.T, keygen, dir string) (string, string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := lsoeCmd(t, 60*time.Second, keygen, "-q", "-K", dir, "-a", "ECDSAP256SHA256", "-f", "KSK", lsoeZone)
	name := strings.TrimSpace(out)
	if err != nil || !strings.HasPrefix(name, "K") || strings.ContainsAny(name, " \n/") {
		t.Fatalf("dnssec-keygen: %v %q %s", err, out, errOut)
	}
	base := filepath.Join(dir, name)
	data, err := os.ReadFile(base + ".key")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if !strings.HasPrefix(line, ";") && strings.Contains(line, " DNSKEY 257 ") {
			return base, line
		}
	}
	t.Fatalf("%s.key: no KSK DNSKEY line:\n%s", base, data)
	return "", ""
}

// lsoeProc is a process the test started and stops.
type lsoeProc struct {
	what string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *lsoeProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// lsoeStart starts a program with its output in logPath, stopped by its PID when the test
// ends: SIGTERM, then SIGKILL. ip netns exec, unshare and sh all exec what follows, so the
// PID is the server's own.
func lsoeStart(t *testing.T, what, logPath, prog string, args ...string) *lsoeProc {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", what, err)
	}
	p := &lsoeProc{what: what, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			if p.exited() {
				return
			}
			cmd.Process.Signal(sig)
			select {
			case <-p.done:
				return
			case <-time.After(5 * time.Second):
			}
		}
		t.Errorf("%s (pid %d) did not exit after SIGKILL", what, cmd.Process.Pid)
	})
	return p
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

// lsoeWaitDNS waits until the server answers for the zone, asked from its own namespace.
func lsoeWaitDNS(t *testing.T, tools lsoeTools, dnsNS string, dns *lsoeProc, logPath string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if dns.exited() {
			t.Fatalf("coredns exited:\n%s", lsoeRead(logPath))
		}
		out, _, _ := lsoeCmd(t, 5*time.Second, tools.ip, "netns", "exec", dnsNS, tools.dig, "@"+lsoeDNSAddr,
			"+norec", "+time=1", "+tries=1", lsoeZone, "SOA")
		if strings.Contains(out, "status: NOERROR") && strings.Contains(out, "ANSWER: 1") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("coredns does not answer for %s:\n%s", lsoeZone, lsoeRead(logPath))
}

// lsoeServed asks the server for the IPSECKEY at name and returns the key of the
// "10 0 2 ." record (the host's own: precedence 10, no gateway, RSA) and whether an RRSIG
// came with it.
func lsoeServed(t *testing.T, tools lsoeTools, dnsNS, name string) (string, bool) {
	t.Helper()
	out := lsoeMust(t, tools.ip, "netns", "exec", dnsNS, tools.dig, "@"+lsoeDNSAddr, "+norec", "+dnssec",
		"+time=2", "+tries=2", "+short", name, "IPSECKEY")
	key, signed := "", false
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		switch {
		case len(f) > 4 && strings.Join(f[:4], " ") == "10 0 2 .":
			if key != "" {
				t.Fatalf("more than one IPSECKEY at %s:\n%s", name, out)
			}
			key = strings.Join(f[4:], "")
		case len(f) > 0 && f[0] == "IPSECKEY":
			signed = true
		}
	}
	if key == "" {
		t.Fatalf("no IPSECKEY 10 0 2 at %s:\n%s", name, out)
	}
	return key, signed
}

// lsoeHostConfig writes a host's directories: a copy of its NSS database (pluto opens it
// read-write), the policy groups, an empty secrets file, the config, the trust anchor, an
// empty root key file (dnssec-rootkey-file must name a file that exists; the zone's anchor
// is the only one), and the resolv.conf and hosts that are bind-mounted for pluto.
func lsoeHostConfig(t *testing.T, h *lsoeHost, anchor string) {
	t.Helper()
	for _, f := range []string{"cert9.db", "key4.db"} {
		data, err := os.ReadFile(filepath.Join(h.fixture, "nss", f))
		if err != nil {
			t.Fatal(err)
		}
		lsoeWrite(t, filepath.Join(h.dir, "nss", f), data, 0o600)
	}
	if err := os.MkdirAll(filepath.Join(h.dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	lsoeWrite(t, filepath.Join(h.dir, "ipsec.d", "policies", "private-or-clear"), []byte(lsoeSubnet+"\n"), 0o644)
	lsoeWrite(t, filepath.Join(h.dir, "ipsec.d", "policies", "clear"), []byte(lsoeDNSAddr+"/32\n"), 0o644)
	lsoeWrite(t, filepath.Join(h.dir, "ipsec.secrets"), nil, 0o600)
	lsoeWrite(t, filepath.Join(h.dir, "anchor"), []byte(anchor), 0o644)
	lsoeWrite(t, filepath.Join(h.dir, "rootkey"), nil, 0o644)
	lsoeWrite(t, filepath.Join(h.dir, "resolv.conf"), []byte("nameserver "+lsoeDNSAddr+"\n"), 0o644)
	lsoeWrite(t, filepath.Join(h.dir, "hosts"), []byte("127.0.0.1 localhost\n"), 0o644)
	conf := fmt.Sprintf(`config setup
	plutodebug=base
	dumpdir=%[1]s/run
	dnssec-enable=yes
	dnssec-rootkey-file=%[1]s/rootkey
	dnssec-anchors=%[1]s/anchor

# The DNS server is inside the OE subnet: talk to it in the clear.
conn clear
	type=passthrough
	authby=never
	left=%%defaultroute
	right=%%group
	auto=route

# OE by IPSECKEY: the IDs are the addresses (the defaults), so the peer's key is looked up at
# the reverse name of its address, on demand, and nowhere else.
conn private-or-clear
	type=tunnel
	ikev2=insist
	left=%%defaultroute
	leftauth=rsasig
	leftckaid=%[2]s
	right=%%opportunisticgroup
	rightauth=rsasig
	rightrsasigkey=%%dnsondemand
	negotiationshunt=hold
	failureshunt=passthrough
	keyingtries=1
	retransmit-timeout=5s
	auto=ondemand
`, h.dir, h.ckaid)
	lsoeWrite(t, filepath.Join(h.dir, "ipsec.conf"), []byte(conf), 0o644)
}

// lsoeWaitPluto waits until pluto has loaded its key and put both policies in the kernel:
// the OE trap for the subnet and the passthrough for the DNS server.
func lsoeWaitPluto(t *testing.T, tools lsoeTools, h *lsoeHost) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if h.proc.exited() {
			t.Fatalf("pluto %s exited:\n%s", h.name, lsoeExcerpt(h.log))
		}
		out, _, _ := lsoeCmd(t, 10*time.Second, tools.ip, "-n", h.netns, "xfrm", "policy")
		if strings.Contains(out, "src "+h.addr+"/32 dst "+lsoeSubnet) && strings.Contains(out, "src "+h.addr+"/32 dst "+lsoeDNSAddr+"/32") {
			if log := lsoeRead(h.log); !strings.Contains(log, "loaded private key matching left CKAID "+h.ckaid) {
				t.Fatalf("pluto %s did not load its private key (CKAID %s) from the NSS fixture:\n%s", h.name, h.ckaid, lsoeExcerpt(h.log))
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("pluto %s did not install its policies:\n%s", h.name, lsoeExcerpt(h.log))
}

// lsoeTrigger sends a packet from A to B, again every 2 seconds, until A's pluto starts OE.
func lsoeTrigger(t *testing.T, tools lsoeTools, a, b *lsoeHost) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		lsoeCmd(t, 10*time.Second, tools.ip, "netns", "exec", a.netns, tools.dig, "@"+b.addr, "+time=1", "+tries=1",
			"+norec", "oe-trigger.invalid", "A")
		for range 10 {
			if strings.Contains(lsoeRead(a.log), "initiate on-demand for packet") {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Fatalf("traffic from A to B did not trigger OE in A's pluto:\n%s", lsoeExcerpt(a.log))
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

// lsoeWhack asks a host's pluto through its control socket (a file: any namespace will do).
func lsoeWhack(t *testing.T, tools lsoeTools, h *lsoeHost, args ...string) string {
	t.Helper()
	out, errOut, err := lsoeCmd(t, 10*time.Second, tools.whack, append([]string{"--ctlsocket", h.ctl()}, args...)...)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("whack %s: %v", strings.Join(args, " "), err)
	}
	return out + errOut
}
