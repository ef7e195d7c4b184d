package test

// TestStrongSwanOE is the end-to-end test with strongSwan: two charon peers, moon.oe.example
// and sun.oe.example, authenticate each other with RSA keys that each learns only from DNS,
// served by the project's CoreDNS binary (ipsecoe + dnssec) and validated by charon's
// unbound plugin before its ipseckey plugin uses them.
//
// Debian's strongSwan is built without the ipseckey and unbound plugins, so the test runs the
// charon, swanctl and pki that scripts/strongswan.sh builds from Debian's strongSwan source
// into a private prefix: $IPSECOE_STRONGSWAN, or /var/cache/ipsecoe/strongswan.
//
// Every run builds its own network from three network namespaces named after the test's PID:
// moon (198.18.0.2), sun (198.18.0.3) and the DNS side (198.18.0.53), whose bridge the peers'
// veth pairs are plugged into. Nothing else is on it. The zone is oe.example: libunbound's
// default local zones answer test., the private reverse ranges and the like itself.
//
// The DNS side runs CoreDNS for oe.example with dnssec (a KSK made by dnssec-keygen) and
// ipsecoe, whose key directory holds the peers' public keys as moon.oe.example.pem and
// sun.oe.example.pem: the file names give the owners, where strongSwan looks (the peer's FQDN
// identity).
//
// Each peer runs its own charon in the foreground with its own strongswan.conf
// (STRONGSWAN_CONF), swanctl directory (SWANCTL_DIR), vici socket and log. charon's PID file
// directory is fixed at build time: each charon runs in a mount namespace of its own where a
// private directory is bind-mounted over it. Each peer has its own private key (made with
// pki) and its own public key, and no other: the remote's authentication is "pubkey" with no
// pubkeys, so the only key charon can find for the peer's identity is the IPSECKEY its
// ipseckey plugin asks for, and the plugin takes only secure answers. The unbound plugin
// resolves through the DNS side (its own resolv.conf), with the zone's KSK as the only trust
// anchor: the DNSKEY line that "ipsecoe anchor" prints for strongSwan. moon initiates to sun by address, expecting sun.oe.example; sun accepts any
// *.oe.example. Runs:
//
//   - secure: sun looks moon's key up, moon sun's; both authenticate the other with it and
//     establish the IKE SA (swanctl --list-sas agrees).
//   - certificate SAN: as secure, with sun's key published as a self-signed certificate
//     (sun.crt, made by pki) whose DNS SAN, not its file name, gives the owner.
//   - wrong trust anchor: the peers trust another KSK. The answer does not validate, the
//     ipseckey plugin refuses it ("not secure"), sun has no key for moon and answers
//     AUTHENTICATION_FAILED; no IKE SA.
//   - no dnssec: dnssec is removed from the Corefile; the unsigned answer under a trust anchor
//     is not secure either; then as above.
//   - replaced key: the key directory publishes another key as moon.oe.example.pem. The answer
//     is secure, but moon's signature does not verify with it: sun answers
//     AUTHENTICATION_FAILED; no IKE SA.
//
// The Child SA needs ESP in the kernel. The test probes for it by adding an AES-GCM ESP SA by
// hand in moon's namespace: where that works both peers must establish the Child SA; where it
// does not, the Child SA lines are logged for information only.
//
// It needs root (namespaces, XFRM, bind mounts), the strongSwan build, and Debian's iproute2,
// util-linux (unshare), mount, bind9-utils (dnssec-keygen) and bind9-dnsutils (dig); a
// missing one skips the test with one line, or fails it where CI or IPSECOE_REQUIRE_TOOLS is
// set. Every process it starts is stopped by its own PID, the namespaces are deleted and the
// files removed when a run ends, failed or not; every wait is bounded.

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
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

	"github.com/miekg/dns"
)

const (
	ssZone    = "oe.example."
	ssDNSAddr = "198.18.0.53"
	// ssDefaultPrefix is where scripts/strongswan.sh installs, when IPSECOE_STRONGSWAN is unset.
	ssDefaultPrefix = "/var/cache/ipsecoe/strongswan"
)

// ssSeq numbers the runs of this process, for unique namespace names.
var ssSeq atomic.Int64

// ssTools are the programs the test drives.
type ssTools struct {
	prefix                        string // the strongSwan build
	charon, swanctl, pki          string
	ip, unshare, mount, dig, keyg string
}

// ssKey is an RSA key pair made by pki.
type ssKey struct {
	priv []byte // PKCS#1 PEM, as pki writes it
	pub  []byte // SubjectPublicKeyInfo PEM, for the key directory and swanctl's pubkey
	rr   string // the public key in RFC 3110 form, base64: the IPSECKEY key field
}

// ssPeer is one charon.
type ssPeer struct {
	name string // moon or sun
	fqdn string // its identity, the owner of its IPSECKEY
	addr string
	key  *ssKey
	conn string // the name of its swanctl connection (and of its child)

	netns string
	dir   string
	log   string // charon's own log (filelog)
	out   string // charon's standard output and error
	proc  *ssProc
}

func (p *ssPeer) conf() string  { return filepath.Join(p.dir, "strongswan.conf") }
func (p *ssPeer) vici() string  { return "unix://" + filepath.Join(p.dir, "charon.vici") }
func (p *ssPeer) swDir() string { return filepath.Join(p.dir, "swanctl") }

// ssScenario is one run.
type ssScenario struct {
	name        string
	wrongAnchor bool // the peers trust a KSK the server does not sign with
	noDNSSEC    bool // no dnssec in the Corefile
	otherKey    bool // another key published as moon.oe.example.pem
	certSAN     bool // sun's key published as a certificate whose DNS SAN names sun
}

func TestStrongSwanOE(t *testing.T) {
	if os.Geteuid() != 0 {
		ssMissing(t, "needs root: network namespaces, XFRM and bind mounts")
	}
	tools := ssNeedTools(t)
	bin := CoreDNS(t)
	dir := t.TempDir()

	// The keys, made once: each peer's, and one that belongs to neither.
	keys := map[string]*ssKey{}
	for _, n := range []string{"moon", "sun", "other"} {
		keys[n] = ssGenKey(t, tools, filepath.Join(dir, "keys", n))
	}
	// sun's key in a self-signed certificate whose only DNS SAN is sun's name.
	sunCert, err := ssExec(t, tools.pki, nil, "--self", "--in", filepath.Join(dir, "keys", "sun.key"),
		"--dn", "CN=sun", "--san", "sun."+strings.TrimSuffix(ssZone, "."), "--outform", "pem")
	if err != nil {
		t.Fatalf("pki --self: %v", err)
	}
	// The zone's KSK, and another for the wrong trust anchor; the anchors are the lines
	// "ipsecoe anchor" prints for strongSwan.
	ksk, dnskey := Keygen(t, tools.keyg, ssMkdir(t, dir, "ksk"), ssZone, true)
	otherBase, otherKSK := Keygen(t, tools.keyg, ssMkdir(t, dir, "other-ksk"), ssZone, true)
	cmd := Command(t)
	anchors := map[*dns.DNSKEY]string{dnskey: ssAnchor(t, cmd, ksk, dnskey), otherKSK: ssAnchor(t, cmd, otherBase, otherKSK)}

	// The shared PID directory of the build must stay empty: each charon has its own.
	run := filepath.Join(tools.prefix, "run")
	t.Cleanup(func() {
		if entries, _ := os.ReadDir(run); len(entries) > 0 {
			t.Errorf("%s is not empty after the test: a charon wrote its PID file outside its own directory", run)
		}
	})

	for _, sc := range []ssScenario{
		{name: "secure"},
		{name: "certificate SAN", certSAN: true},
		{name: "wrong trust anchor", wrongAnchor: true},
		{name: "no dnssec", noDNSSEC: true},
		{name: "replaced key", otherKey: true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			anchor := dnskey
			if sc.wrongAnchor {
				anchor = otherKSK
			}
			ssRun(t, tools, bin, keys, sunCert, ksk, anchor, anchors[anchor], sc)
		})
	}
}

// ssRun is one scenario on a network of its own: the namespaces, CoreDNS with the scenario's
// Corefile and key directory, the two charons, moon's initiation, and the checks.
func ssRun(t *testing.T, tools ssTools, bin string, keys map[string]*ssKey, sunCert []byte, ksk string, anchor *dns.DNSKEY, anchorLine string, sc ssScenario) {
	start := time.Now()
	dir := t.TempDir()
	prefix := fmt.Sprintf("ipsecoe-ss-%d-%d", os.Getpid(), ssSeq.Add(1))
	moon := ssNewPeer("moon", "198.18.0.2", "sun", keys["moon"], prefix, dir)
	sun := ssNewPeer("sun", "198.18.0.3", "oe", keys["sun"], prefix, dir)
	peers := []*ssPeer{moon, sun}
	dnsNS := prefix + "-dns"

	ssNetwork(t, tools, dnsNS, peers...)
	esp, probe := ssKernelESP(t, tools, moon.netns, moon.addr, sun.addr)

	// The DNS side.
	dnsDir := ssMkdir(t, dir, "dns")
	keyDir := ssMkdir(t, dnsDir, "keys")
	published := map[*ssPeer]*ssKey{moon: moon.key, sun: sun.key}
	if sc.otherKey {
		published[moon] = keys["other"]
	}
	for _, p := range peers {
		if p == sun && sc.certSAN {
			// The file name gives no owner (one label): the SAN does.
			WriteFile(t, filepath.Join(keyDir, "sun.crt"), sunCert)
			continue
		}
		WriteFile(t, filepath.Join(keyDir, strings.TrimSuffix(p.fqdn, ".")+".pem"), published[p].pub)
	}
	signing := ""
	if !sc.noDNSSEC {
		signing = fmt.Sprintf("    dnssec {\n        key file %s\n    }\n", ksk)
	}
	corefile := filepath.Join(dnsDir, "Corefile")
	WriteFile(t, corefile, fmt.Appendf(nil, "%s:53 {\n    bind %s\n%s    ipsecoe {\n        keys %s\n    }\n    log\n    errors\n}\n",
		strings.TrimSuffix(ssZone, "."), ssDNSAddr, signing, keyDir))
	dnsLog := filepath.Join(dnsDir, "coredns.log")
	dnsProc := ssStart(t, "coredns", dnsLog, nil, tools.ip, "netns", "exec", dnsNS, bin, "-conf", corefile)
	ssWaitDNS(t, tools, dnsNS, dnsProc)

	// What the server publishes, asked from its own namespace (so that every query the server
	// logs from a peer is charon's): the scenario's key at each name, signed unless dnssec is
	// gone.
	for _, p := range peers {
		key, signed := ssServed(t, tools, dnsNS, p.fqdn)
		if key != published[p].rr {
			t.Fatalf("the server publishes at %s the key %.20s…, want %.20s…", p.fqdn, key, published[p].rr)
		}
		if signed == sc.noDNSSEC {
			t.Fatalf("the IPSECKEY at %s signed: %v, want %v", p.fqdn, signed, !sc.noDNSSEC)
		}
	}

	// The peers.
	for _, p := range peers {
		peer := moon
		if p == moon {
			peer = sun
		}
		ssPeerConfig(t, p, peer, anchorLine)
		script := `"$1" --bind "$2" "$3" && exec "$4"`
		p.proc = ssStart(t, "charon "+p.name, p.out, []string{"STRONGSWAN_CONF=" + p.conf()},
			tools.ip, "netns", "exec", p.netns, tools.unshare, "--mount", "--propagation", "private",
			"/bin/sh", "-c", script, "sh", tools.mount, filepath.Join(p.dir, "run"), filepath.Join(tools.prefix, "run"), tools.charon)
	}
	for _, p := range peers {
		ssLoad(t, tools, p)
	}
	logs := map[string]string{"moon": moon.log, "sun": sun.log, "DNS": dnsLog}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range peers {
				t.Logf("charon %s:\n%s%s", p.name, ssExcerpt(p.log), ssRead(p.out))
			}
			t.Logf("coredns:\n%s", ssRead(dnsLog))
		}
	})

	// Each peer holds its own public key and no other.
	for _, p := range peers {
		certs := ssSwanctl(t, tools, p, "--list-certs")
		if !strings.Contains(certs, `"`+strings.TrimSuffix(p.fqdn, ".")+`"`) || strings.Count(certs, "subject:") != 1 {
			t.Fatalf("%s: want its own public key as the only one; swanctl --list-certs:\n%s", p.name, certs)
		}
	}
	ready := time.Now()

	// moon initiates; swanctl returns when the exchange is over, one way or the other.
	initiate := ssSwanctl(t, tools, moon, "--initiate", "--child", moon.conn, "--timeout", "20")

	q := regexp.QuoteMeta
	idOf := func(p *ssPeer) string { return q(strings.TrimSuffix(p.fqdn, ".")) }
	var want, never []ssCheck
	for _, p := range peers {
		want = append(want, ssCheck{p.name, `\[CFG\] ipseckey plugin is enabled`})
	}
	// sun always has to look up moon's key, at moon's name, and get an answer.
	want = append(want,
		ssCheck{"sun", `\[CFG\] <oe\|1> performing a DNS query for IPSECKEY RRs of '` + idOf(moon) + `'`},
		ssCheck{"DNS", `\[INFO\] ` + q(sun.addr) + `:\d+ - \d+ "IPSECKEY IN ` + q(moon.fqdn) + ` udp \d+ true \d+" NOERROR qr,aa`},
	)
	switch {
	case sc.wrongAnchor || sc.noDNSSEC:
		want = append(want,
			ssCheck{"sun", `\[CFG\] <oe\|1>   DNSSEC state of IPSECKEY RRs is not secure`},
			ssCheck{"sun", `\[IKE\] <oe\|1> no trusted RSA public key found for '` + idOf(moon) + `'`},
			ssCheck{"sun", `\[ENC\] <oe\|1> generating IKE_AUTH response 1 \[ N\(AUTH_FAILED\) \]`},
			ssCheck{"moon", `\[IKE\] <sun\|1> received AUTHENTICATION_FAILED notify error`},
		)
		never = append(never,
			ssCheck{"sun", `using trusted certificate`},
			ssCheck{"moon", `performing a DNS query`},
		)
	case sc.otherKey:
		want = append(want,
			ssCheck{"sun", `\[CFG\] <oe\|1>   using trusted certificate "` + idOf(moon) + `"`},
			ssCheck{"sun", `\[IKE\] <oe\|1> signature validation failed, looking for another key`},
			ssCheck{"sun", `\[ENC\] <oe\|1> generating IKE_AUTH response 1 \[ N\(AUTH_FAILED\) \]`},
			ssCheck{"moon", `\[IKE\] <sun\|1> received AUTHENTICATION_FAILED notify error`},
		)
		never = append(never,
			// A key was found, and it was the wrong one.
			ssCheck{"sun", `not secure|no trusted RSA public key found`},
			ssCheck{"moon", `performing a DNS query`},
		)
	default:
		want = append(want,
			ssCheck{"moon", `\[CFG\] <sun\|1> performing a DNS query for IPSECKEY RRs of '` + idOf(sun) + `'`},
			ssCheck{"DNS", `\[INFO\] ` + q(moon.addr) + `:\d+ - \d+ "IPSECKEY IN ` + q(sun.fqdn) + ` udp \d+ true \d+" NOERROR qr,aa`},
			// libunbound's own questions: the zone's DNSKEY with CD set, and the trust
			// anchor signal (RFC 8145) of the key it trusts.
			ssCheck{"DNS", `"DNSKEY IN ` + q(ssZone) + ` udp \d+ true \d+" NOERROR qr,aa,rd,cd `},
			ssCheck{"DNS", `"NULL IN ` + q(fmt.Sprintf("_ta-%04x.%s", anchor.KeyTag(), ssZone)) + ` udp \d+ true \d+" NOERROR qr,aa`},
		)
		for _, p := range peers {
			peer, local, remote := sun, q(p.addr), q(sun.addr)
			if p == sun {
				peer, remote = moon, q(moon.addr)
			}
			want = append(want,
				ssCheck{p.name, `\[CFG\] <` + p.conn + `\|1>   using trusted certificate "` + idOf(peer) + `"`},
				ssCheck{p.name, `\[IKE\] <` + p.conn + `\|1> authentication of '` + idOf(peer) + `' with RSA\S* successful`},
				ssCheck{p.name, `\[IKE\] <` + p.conn + `\|1> IKE_SA ` + p.conn + `\[1\] established between ` +
					local + `\[` + idOf(p) + `\]\.\.\.` + remote + `\[` + idOf(peer) + `\]`},
			)
			never = append(never, ssCheck{p.name, `not secure|unable to retrieve|no trusted|validation failed|AUTHENTICATION_FAILED`})
		}
		if esp {
			want = append(want,
				ssCheck{"moon", `\[IKE\] <sun\|1> CHILD_SA sun\{1\} established`},
				ssCheck{"sun", `\[IKE\] <oe\|1> CHILD_SA oe\{1\} established`},
			)
		}
	}
	if sc.wrongAnchor || sc.noDNSSEC || sc.otherKey {
		for _, p := range peers {
			never = append(never, ssCheck{p.name, `IKE_SA \S+ established`})
		}
	}

	missing := ssWait(logs, want, 20*time.Second)
	for _, c := range missing {
		t.Errorf("%s's log lacks /%s/", c.where, c.re)
	}
	for _, c := range never {
		if m := regexp.MustCompile(c.re).FindString(ssRead(logs[c.where])); m != "" {
			t.Errorf("%s's log has %q, which must not happen here", c.where, m)
		}
	}
	done := time.Now()

	// charon's own view.
	for _, p := range peers {
		peer := sun
		if p == sun {
			peer = moon
		}
		sas := ssSwanctl(t, tools, p, "--list-sas")
		established := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(p.conn) + `: #1, ESTABLISHED, IKEv2, .*\n\s+local\s+'` +
			idOf(p) + `' @ ` + q(p.addr) + `\[\d+\]\n\s+remote\s+'` + idOf(peer) + `' @ ` + q(peer.addr) + `\[\d+\]`).MatchString(sas)
		if wantSA := !(sc.wrongAnchor || sc.noDNSSEC || sc.otherKey); established != wantSA {
			t.Errorf("%s: IKE SA with %s established: %v, want %v; swanctl --list-sas:\n%s", p.name, peer.fqdn, established, wantSA, sas)
		} else {
			t.Logf("%s: swanctl --list-sas:\n%s", p.name, ssOr(strings.TrimSpace(sas), "no SAs"))
		}
	}
	t.Logf("moon: swanctl --initiate: %s", ssLastLine(initiate))
	if !sc.wrongAnchor && !sc.noDNSSEC && !sc.otherKey {
		note := "for information: the kernel has no ESP (" + probe + "), so no Child SA can be installed"
		if esp {
			note = "the kernel has ESP, so the Child SA was required"
		}
		t.Logf("Child SA, %s:\n%s", note, ssGrepChild(moon, sun))
	}
	if !t.Failed() {
		t.Logf("checked in the logs:\n%s", ssGrepChecks(logs, want))
	}
	t.Logf("timing: setup %v, IKE %v, total %v (without teardown)", ready.Sub(start).Round(time.Millisecond),
		done.Sub(ready).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// ssMissing skips the test for what is missing, or fails it where tools are required.
func ssMissing(t *testing.T, msg string) {
	t.Helper()
	if RequireTools() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// ssNeedTools finds the strongSwan build and the Debian programs.
func ssNeedTools(t *testing.T) ssTools {
	t.Helper()
	tools := ssTools{prefix: os.Getenv("IPSECOE_STRONGSWAN")}
	if tools.prefix == "" {
		tools.prefix = ssDefaultPrefix
	}
	tools.charon = filepath.Join(tools.prefix, "libexec", "ipsec", "charon")
	tools.swanctl = filepath.Join(tools.prefix, "sbin", "swanctl")
	tools.pki = filepath.Join(tools.prefix, "bin", "pki")
	for _, p := range []string{tools.charon, tools.swanctl, tools.pki, filepath.Join(tools.prefix, "lib", "ipsec", "plugins", "libstrongswan-ipseckey.so"),
		filepath.Join(tools.prefix, "lib", "ipsec", "plugins", "libstrongswan-unbound.so"), filepath.Join(tools.prefix, "run")} {
		if _, err := os.Stat(p); err != nil {
			ssMissing(t, "strongSwan with the ipseckey and unbound plugins is not built ("+p+" missing): run scripts/strongswan.sh")
		}
	}
	tools.ip = ssTool(t, "ip", "iproute2")
	tools.unshare = ssTool(t, "unshare", "util-linux")
	tools.mount = ssTool(t, "mount", "mount")
	tools.dig = ssTool(t, "dig", "bind9-dnsutils")
	tools.keyg = ssTool(t, "dnssec-keygen", "bind9-utils")
	return tools
}

// ssTool finds a program on PATH or in the system directories, where Debian installs ip.
func ssTool(t *testing.T, name, pkg string) string {
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
	return NeedTool(t, name, pkg)
}

// ssGenKey makes an RSA key pair with pki, as the docs tell, and reads its public key.
func ssGenKey(t *testing.T, tools ssTools, base string) *ssKey {
	t.Helper()
	k := &ssKey{}
	var err error
	k.priv, err = ssExec(t, tools.pki, nil, "--gen", "--type", "rsa", "--size", "2048", "--outform", "pem")
	if err != nil {
		t.Fatalf("pki --gen: %v", err)
	}
	WriteFile(t, base+".key", k.priv)
	k.pub, err = ssExec(t, tools.pki, nil, "--pub", "--in", base+".key", "--outform", "pem")
	if err != nil {
		t.Fatalf("pki --pub: %v", err)
	}
	blk, _ := pem.Decode(k.pub)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("pki --pub wrote no PEM public key:\n%s", k.pub)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatalf("pki --pub: %v", err)
	}
	r, ok := pub.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("pki --pub: %T, want RSA", pub)
	}
	e := big.NewInt(int64(r.E)).Bytes()
	k.rr = base64.StdEncoding.EncodeToString(append(append([]byte{byte(len(e))}, e...), r.N.Bytes()...))
	return k
}

// ssAnchor returns the trust anchor line that "ipsecoe anchor" prints for strongSwan's unbound
// plugin, after checking that it is the KSK's DNSKEY.
func ssAnchor(t *testing.T, ipsecoe, base string, key *dns.DNSKEY) string {
	t.Helper()
	out, err := ssExec(t, ipsecoe, nil, "anchor", base+".key")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(out), "\n; strongSwan: ")
	if !ok {
		t.Fatalf("ipsecoe anchor prints no line for strongSwan:\n%s", out)
	}
	_, line, _ := strings.Cut(after, "\n")
	line, _, _ = strings.Cut(line, "\n")
	rr, err := dns.NewRR(line)
	if err != nil {
		t.Fatalf("ipsecoe anchor: strongSwan's line %q: %v", line, err)
	}
	if k, isKey := rr.(*dns.DNSKEY); !isKey || k.Flags != key.Flags || k.Algorithm != key.Algorithm || k.PublicKey != key.PublicKey ||
		!strings.EqualFold(k.Hdr.Name, key.Hdr.Name) {
		t.Fatalf("ipsecoe anchor: strongSwan's line %q is not the KSK %s", line, key)
	}
	return line
}

// ssExec runs a program to its end within 30 seconds and returns its standard output; an
// exit status is an error, with the output, and a timeout fails the test.
func ssExec(t *testing.T, prog string, env []string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out\n%s%s", prog, strings.Join(args, " "), out, stderr.String())
	}
	if err != nil {
		return out, fmt.Errorf("%s %s: %v\n%s%s", prog, strings.Join(args, " "), err, out, stderr.String())
	}
	return out, nil
}

// ssMust runs a program that must succeed, and returns its standard output.
func ssMust(t *testing.T, prog string, args ...string) string {
	t.Helper()
	out, err := ssExec(t, prog, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func ssMkdir(t *testing.T, elem ...string) string {
	t.Helper()
	d := filepath.Join(elem...)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func ssNewPeer(name, addr, conn string, key *ssKey, prefix, dir string) *ssPeer {
	p := &ssPeer{
		name:  name,
		fqdn:  name + "." + ssZone,
		addr:  addr,
		key:   key,
		conn:  conn,
		netns: prefix + "-" + name,
		dir:   filepath.Join(dir, name),
	}
	p.log = filepath.Join(p.dir, "charon.log")
	p.out = filepath.Join(p.dir, "charon.out")
	return p
}

// ssNetwork makes the namespaces: the DNS side holds a bridge with 198.18.0.53, each peer a
// veth pair with one end on the bridge and its address. IPv6 is off, so nothing else talks.
func ssNetwork(t *testing.T, tools ssTools, dnsNS string, peers ...*ssPeer) {
	t.Helper()
	names := []string{dnsNS}
	for _, p := range peers {
		names = append(names, p.netns)
	}
	for _, ns := range names {
		ssMust(t, tools.ip, "netns", "add", ns)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if out, err := exec.CommandContext(ctx, tools.ip, "netns", "delete", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns delete %s: %v\n%s", ns, err, out)
			}
		})
		if _, err := ssExec(t, tools.ip, nil, "netns", "exec", ns, "/bin/sh", "-c",
			"echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"); err != nil {
			t.Logf("%s: IPv6 stays on: %v", ns, err)
		}
		ssMust(t, tools.ip, "-n", ns, "link", "set", "lo", "up")
	}
	ssMust(t, tools.ip, "-n", dnsNS, "link", "add", "br0", "type", "bridge")
	ssMust(t, tools.ip, "-n", dnsNS, "addr", "add", ssDNSAddr+"/24", "dev", "br0")
	ssMust(t, tools.ip, "-n", dnsNS, "link", "set", "br0", "up")
	for _, p := range peers {
		port := "to" + p.name
		ssMust(t, tools.ip, "-n", dnsNS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", p.netns)
		ssMust(t, tools.ip, "-n", dnsNS, "link", "set", port, "master", "br0", "up")
		ssMust(t, tools.ip, "-n", p.netns, "addr", "add", p.addr+"/24", "dev", "eth0")
		ssMust(t, tools.ip, "-n", p.netns, "link", "set", "eth0", "up")
	}
}

// ssKernelESP tells whether the kernel can install an ESP SA of the kind charon negotiates
// first (AES-GCM-16 with a 128-bit key), by adding one by hand in netns and deleting it.
func ssKernelESP(t *testing.T, tools ssTools, netns, src, dst string) (bool, string) {
	t.Helper()
	sa := []string{"-n", netns, "xfrm", "state"}
	id := []string{"src", src, "dst", dst, "proto", "esp", "spi", "0x00000100"}
	args := append(append(append([]string{}, sa...), "add"), id...)
	args = append(args, "mode", "tunnel", "aead", "rfc4106(gcm(aes))", "0x"+strings.Repeat("00", 20), "128")
	if _, err := ssExec(t, tools.ip, nil, args...); err != nil {
		return false, strings.TrimSpace(strings.ReplaceAll(err.Error(), "\n", " "))
	}
	ssMust(t, tools.ip, append(append(sa, "delete"), id...)...)
	return true, "ip xfrm state add of an ESP SA works"
}

// ssProc is a process the test started and stops.
type ssProc struct {
	what string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *ssProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ssStart starts a program with its output in logPath, stopped by its PID when the test ends:
// SIGTERM, then SIGKILL. ip netns exec, unshare and sh all exec what follows, so the PID is
// the server's own.
func ssStart(t *testing.T, what, logPath string, env []string, prog string, args ...string) *ssProc {
	t.Helper()
	ssMkdir(t, filepath.Dir(logPath))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", what, err)
	}
	p := &ssProc{what: what, log: logPath, cmd: cmd, done: make(chan struct{})}
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

func ssRead(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

func ssOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func ssLastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// ssDig asks the server from its own namespace.
func ssDig(t *testing.T, tools ssTools, dnsNS string, args ...string) (string, error) {
	t.Helper()
	out, err := ssExec(t, tools.ip, nil, append([]string{"netns", "exec", dnsNS, tools.dig, "@" + ssDNSAddr, "+norec",
		"+time=1", "+tries=2"}, args...)...)
	return string(out), err
}

// ssWaitDNS waits until the server answers for the zone.
func ssWaitDNS(t *testing.T, tools ssTools, dnsNS string, dns *ssProc) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if dns.exited() {
			t.Fatalf("coredns exited:\n%s", ssRead(dns.log))
		}
		out, _ := ssDig(t, tools, dnsNS, ssZone, "SOA")
		if strings.Contains(out, "status: NOERROR") && strings.Contains(out, "ANSWER: 1") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("coredns does not answer for %s:\n%s", ssZone, ssRead(dns.log))
}

// ssServed asks the server for the IPSECKEY at name and returns the key of its
// "10 0 2 ." record (the host's own: precedence 10, no gateway, RSA) and whether an RRSIG
// came with it.
func ssServed(t *testing.T, tools ssTools, dnsNS, name string) (string, bool) {
	t.Helper()
	out, err := ssDig(t, tools, dnsNS, "+dnssec", "+short", name, "IPSECKEY")
	if err != nil {
		t.Fatal(err)
	}
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

// ssPeerConfig writes a peer's files: strongswan.conf, the resolver's resolv.conf and trust
// anchor, and the swanctl directory with the peer's own key pair and its connection.
func ssPeerConfig(t *testing.T, p, peer *ssPeer, anchor string) {
	t.Helper()
	ssMkdir(t, p.dir, "run")
	WriteFile(t, filepath.Join(p.dir, "resolv.conf"), []byte("nameserver "+ssDNSAddr+"\n"))
	WriteFile(t, filepath.Join(p.dir, "trust-anchor.key"), []byte(anchor+"\n"))
	WriteFile(t, filepath.Join(p.swDir(), "private", p.name+".key"), p.key.priv)
	WriteFile(t, filepath.Join(p.swDir(), "pubkey", p.name+".pub"), p.key.pub)
	WriteFile(t, p.conf(), fmt.Appendf(nil, `charon {
    load = random nonce openssl kdf pem pkcs1 pkcs8 pubkey x509 dnskey kernel-netlink socket-default vici unbound ipseckey
    install_routes = no
    filelog {
        charon {
            path = %[1]s
            time_format = %%b %%e %%T
            ike_name = yes
            append = no
            flush_line = yes
            default = 1
            cfg = 2
        }
    }
    plugins {
        ipseckey {
            enable = yes
        }
        unbound {
            resolv_conf = %[2]s/resolv.conf
            trust_anchors = %[2]s/trust-anchor.key
        }
        vici {
            socket = %[3]s
        }
    }
}
swanctl {
    load = random openssl pem pkcs1 pkcs8 pubkey x509
}
`, p.log, p.dir, p.vici()))

	id := strings.TrimSuffix(p.fqdn, ".")
	var conn string
	if p.name == "moon" {
		// The initiator: to sun's address, expecting sun's identity.
		conn = fmt.Sprintf(`connections {
    %[1]s {
        remote_addrs = %[2]s
        local {
            auth = pubkey
            id = %[3]s
            pubkeys = %[4]s.pub
        }
        remote {
            auth = pubkey
            id = %[5]s
        }
        children {
            %[1]s {
            }
        }
    }
}
`, p.conn, peer.addr, id, p.name, strings.TrimSuffix(peer.fqdn, "."))
	} else {
		// The responder: any peer of the zone.
		conn = fmt.Sprintf(`connections {
    %[1]s {
        local {
            auth = pubkey
            id = %[2]s
            pubkeys = %[3]s.pub
        }
        remote {
            auth = pubkey
            id = *.%[4]s
        }
        children {
            %[1]s {
            }
        }
    }
}
`, p.conn, id, p.name, strings.TrimSuffix(ssZone, "."))
	}
	WriteFile(t, filepath.Join(p.swDir(), "swanctl.conf"), []byte(conn))
}

// ssSwanctl runs swanctl against a peer's charon (its vici socket is a file: any namespace
// will do) and returns its output; an exit status is part of the answer, not an error.
func ssSwanctl(t *testing.T, tools ssTools, p *ssPeer, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tools.swanctl, append(args, "--uri", p.vici())...)
	cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+p.conf(), "SWANCTL_DIR="+p.swDir())
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("swanctl %s for %s: timed out\n%s", strings.Join(args, " "), p.name, out)
	}
	return string(out)
}

// ssLoad waits for a peer's charon to listen on its vici socket and loads its key and
// connection with swanctl --load-all.
func ssLoad(t *testing.T, tools ssTools, p *ssPeer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if p.proc.exited() {
			t.Fatalf("charon %s exited:\n%s%s", p.name, ssExcerpt(p.log), ssRead(p.out))
		}
		if _, err := os.Stat(filepath.Join(p.dir, "charon.vici")); err == nil {
			out := ssSwanctl(t, tools, p, "--load-all")
			if !strings.Contains(out, "successfully loaded 1 connections") || !strings.Contains(out, "loaded RSA key from") {
				t.Fatalf("swanctl --load-all for %s:\n%s", p.name, out)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("charon %s does not listen on %s:\n%s%s", p.name, p.vici(), ssExcerpt(p.log), ssRead(p.out))
}

// ssCheck is a regular expression one log must (or must not) match.
type ssCheck struct {
	where string // moon, sun or DNS
	re    string
}

// ssWait polls the logs until every check matches, or the timeout; it returns the checks
// that never matched.
func ssWait(logs map[string]string, checks []ssCheck, timeout time.Duration) []ssCheck {
	res := make([]*regexp.Regexp, len(checks))
	for i, c := range checks {
		res[i] = regexp.MustCompile(c.re)
	}
	deadline := time.Now().Add(timeout)
	for {
		var missing []ssCheck
		text := map[string]string{}
		for w, p := range logs {
			text[w] = ssRead(p)
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

// ssGrepChecks quotes the first line each check matched.
func ssGrepChecks(logs map[string]string, checks []ssCheck) string {
	var b strings.Builder
	for _, c := range checks {
		text := ssRead(logs[c.where])
		loc := regexp.MustCompile(c.re).FindStringIndex(text)
		if loc == nil {
			continue
		}
		start := strings.LastIndexByte(text[:loc[0]], '\n') + 1
		line := text[start:]
		if end := strings.IndexByte(text[loc[0]:], '\n'); end >= 0 {
			line = text[start : loc[0]+end]
		}
		if len(line) > 300 {
			line = line[:300] + "…"
		}
		fmt.Fprintf(&b, "%s: %s\n", c.where, line)
	}
	return b.String()
}

// ssGrepChild returns the peers' log lines about the Child SA and the kernel.
func ssGrepChild(peers ...*ssPeer) string {
	re := regexp.MustCompile(`CHILD_SA|\[KNL\]`)
	var b strings.Builder
	for _, p := range peers {
		for line := range strings.Lines(ssRead(p.log)) {
			if re.MatchString(line) {
				fmt.Fprintf(&b, "%s: %s", p.name, line)
			}
		}
	}
	return b.String()
}

// ssExcerpt keeps what matters of a charon log: everything but the lines of the connection
// dump of cfg level 2 and the threads' start.
func ssExcerpt(path string) string {
	skip := regexp.MustCompile(`\[CFG\]\s{2,}\S+ = |created thread|has unmet dependency`)
	var b strings.Builder
	n := 0
	for line := range strings.Lines(ssRead(path)) {
		if skip.MatchString(line) {
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
