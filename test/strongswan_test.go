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
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
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
	proc  *Proc
}

func (p *ssPeer) conf() string  { return filepath.Join(p.dir, "strongswan.conf") }
func (p *ssPeer) vici() string  { return "unix://" + filepath.Join(p.dir, "charon.vici") }
func (p *ssPeer) swDir() string { return filepath.Join(p.dir, "swanctl") }

// bridged is the peer as an end of the test's network.
func (p *ssPeer) bridged() Host { return Host{Name: p.name, Netns: p.netns, Addr: p.addr} }

// ssScenario is one run.
type ssScenario struct {
	name        string
	wrongAnchor bool // the peers trust a KSK the server does not sign with
	noDNSSEC    bool // no dnssec in the Corefile
	otherKey    bool // another key published as moon.oe.example.pem
	certSAN     bool // sun's key published as a certificate whose DNS SAN names sun
}

func TestStrongSwanOE(t *testing.T) {
	NeedRoot(t, "network namespaces, XFRM and bind mounts")
	tools := ssNeedTools(t)
	bin := CoreDNS(t)
	dir := t.TempDir()

	// The keys, made once: each peer's, and one that belongs to neither.
	keys := map[string]*ssKey{}
	for _, n := range []string{"moon", "sun", "other"} {
		keys[n] = ssGenKey(t, tools, filepath.Join(dir, "keys", n))
	}
	// sun's key in a self-signed certificate whose only DNS SAN is sun's name.
	sunCert := []byte(Must(t, tools.pki, "--self", "--in", filepath.Join(dir, "keys", "sun.key"),
		"--dn", "CN=sun", "--san", "sun."+strings.TrimSuffix(ssZone, "."), "--outform", "pem"))
	// The zone's KSK, and another for the wrong trust anchor; the anchors are the lines
	// "ipsecoe anchor" prints for strongSwan.
	ksk, dnskey := Keygen(t, tools.keyg, filepath.Join(dir, "ksk"), ssZone, true)
	otherBase, otherKSK := Keygen(t, tools.keyg, filepath.Join(dir, "other-ksk"), ssZone, true)
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

	Bridge(t, tools.ip, dnsNS, ssDNSAddr, false, moon.bridged(), sun.bridged())
	esp, probe := KernelESP(t, tools.ip, moon.netns, moon.addr, sun.addr, 128)

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
	dnsProc := Spawn(t, "coredns", dnsLog, nil, tools.ip, "netns", "exec", dnsNS, bin, "-conf", corefile)
	WaitZone(t, tools.ip, tools.dig, dnsNS, ssDNSAddr, ssZone, dnsProc)

	// What the server publishes, asked from its own namespace (so that every query the server
	// logs from a peer is charon's): the scenario's key at each name, signed unless dnssec is
	// gone.
	for _, p := range peers {
		key, signed := ServedHostKey(t, tools.ip, tools.dig, dnsNS, ssDNSAddr, p.fqdn)
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
		p.proc = Spawn(t, "charon "+p.name, p.out, []string{"STRONGSWAN_CONF=" + p.conf()},
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
				t.Logf("charon %s:\n%s%s", p.name, ssExcerpt(p.log), ReadLog(p.out))
			}
			t.Logf("coredns:\n%s", ReadLog(dnsLog))
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
	var want, never []LogCheck
	for _, p := range peers {
		want = append(want, LogCheck{p.name, `\[CFG\] ipseckey plugin is enabled`})
	}
	// sun always has to look up moon's key, at moon's name, and get an answer.
	want = append(want,
		LogCheck{"sun", `\[CFG\] <oe\|1> performing a DNS query for IPSECKEY RRs of '` + idOf(moon) + `'`},
		LogCheck{"DNS", `\[INFO\] ` + q(sun.addr) + `:\d+ - \d+ "IPSECKEY IN ` + q(moon.fqdn) + ` udp \d+ true \d+" NOERROR qr,aa`},
	)
	switch {
	case sc.wrongAnchor || sc.noDNSSEC:
		want = append(want,
			LogCheck{"sun", `\[CFG\] <oe\|1>   DNSSEC state of IPSECKEY RRs is not secure`},
			LogCheck{"sun", `\[IKE\] <oe\|1> no trusted RSA public key found for '` + idOf(moon) + `'`},
			LogCheck{"sun", `\[ENC\] <oe\|1> generating IKE_AUTH response 1 \[ N\(AUTH_FAILED\) \]`},
			LogCheck{"moon", `\[IKE\] <sun\|1> received AUTHENTICATION_FAILED notify error`},
		)
		never = append(never,
			LogCheck{"sun", `using trusted certificate`},
			LogCheck{"moon", `performing a DNS query`},
		)
	case sc.otherKey:
		want = append(want,
			LogCheck{"sun", `\[CFG\] <oe\|1>   using trusted certificate "` + idOf(moon) + `"`},
			LogCheck{"sun", `\[IKE\] <oe\|1> signature validation failed, looking for another key`},
			LogCheck{"sun", `\[ENC\] <oe\|1> generating IKE_AUTH response 1 \[ N\(AUTH_FAILED\) \]`},
			LogCheck{"moon", `\[IKE\] <sun\|1> received AUTHENTICATION_FAILED notify error`},
		)
		never = append(never,
			// A key was found, and it was the wrong one.
			LogCheck{"sun", `not secure|no trusted RSA public key found`},
			LogCheck{"moon", `performing a DNS query`},
		)
	default:
		want = append(want,
			LogCheck{"moon", `\[CFG\] <sun\|1> performing a DNS query for IPSECKEY RRs of '` + idOf(sun) + `'`},
			LogCheck{"DNS", `\[INFO\] ` + q(moon.addr) + `:\d+ - \d+ "IPSECKEY IN ` + q(sun.fqdn) + ` udp \d+ true \d+" NOERROR qr,aa`},
			// libunbound's own questions: the zone's DNSKEY with CD set, and the trust
			// anchor signal (RFC 8145) of the key it trusts.
			LogCheck{"DNS", `"DNSKEY IN ` + q(ssZone) + ` udp \d+ true \d+" NOERROR qr,aa,rd,cd `},
			LogCheck{"DNS", `"NULL IN ` + q(fmt.Sprintf("_ta-%04x.%s", anchor.KeyTag(), ssZone)) + ` udp \d+ true \d+" NOERROR qr,aa`},
		)
		for _, p := range peers {
			peer, local, remote := sun, q(p.addr), q(sun.addr)
			if p == sun {
				peer, remote = moon, q(moon.addr)
			}
			want = append(want,
				LogCheck{p.name, `\[CFG\] <` + p.conn + `\|1>   using trusted certificate "` + idOf(peer) + `"`},
				LogCheck{p.name, `\[IKE\] <` + p.conn + `\|1> authentication of '` + idOf(peer) + `' with RSA\S* successful`},
				LogCheck{p.name, `\[IKE\] <` + p.conn + `\|1> IKE_SA ` + p.conn + `\[1\] established between ` +
					local + `\[` + idOf(p) + `\]\.\.\.` + remote + `\[` + idOf(peer) + `\]`},
			)
			never = append(never, LogCheck{p.name, `not secure|unable to retrieve|no trusted|validation failed|AUTHENTICATION_FAILED`})
		}
		if esp {
			want = append(want,
				LogCheck{"moon", `\[IKE\] <sun\|1> CHILD_SA sun\{1\} established`},
				LogCheck{"sun", `\[IKE\] <oe\|1> CHILD_SA oe\{1\} established`},
			)
		}
	}
	if sc.wrongAnchor || sc.noDNSSEC || sc.otherKey {
		for _, p := range peers {
			never = append(never, LogCheck{p.name, `IKE_SA \S+ established`})
		}
	}

	CheckLogs(t, logs, want, never, 20*time.Second)
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
			t.Logf("%s: swanctl --list-sas:\n%s", p.name, Or(strings.TrimSpace(sas), "no SAs"))
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
		t.Logf("checked in the logs:\n%s", QuoteChecks(logs, want))
	}
	t.Logf("timing: setup %v, IKE %v, total %v (without teardown)", ready.Sub(start).Round(time.Millisecond),
		done.Sub(ready).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
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
			Skip(t, "strongSwan with the ipseckey and unbound plugins is not built ("+p+" missing): run scripts/strongswan.sh")
		}
	}
	tools.ip = NeedTool(t, "ip", "iproute2")
	tools.unshare = NeedTool(t, "unshare", "util-linux")
	tools.mount = NeedTool(t, "mount", "mount")
	tools.dig = NeedTool(t, "dig", "bind9-dnsutils")
	tools.keyg = NeedTool(t, "dnssec-keygen", "bind9-utils")
	return tools
}

// ssGenKey makes an RSA key pair with pki, as the docs tell, and reads its public key.
func ssGenKey(t *testing.T, tools ssTools, base string) *ssKey {
	t.Helper()
	k := &ssKey{}
	k.priv = []byte(Must(t, tools.pki, "--gen", "--type", "rsa", "--size", "2048", "--outform", "pem"))
	WriteFile(t, base+".key", k.priv)
	k.pub = []byte(Must(t, tools.pki, "--pub", "--in", base+".key", "--outform", "pem"))
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
	k.rr = base64.StdEncoding.EncodeToString(RFC3110(r))
	return k
}

// ssAnchor returns the trust anchor line that "ipsecoe anchor" prints for strongSwan's unbound
// plugin, after checking that it is the KSK's DNSKEY.
func ssAnchor(t *testing.T, ipsecoe, base string, key *dns.DNSKEY) string {
	t.Helper()
	out := Must(t, ipsecoe, "anchor", base+".key")
	_, after, ok := strings.Cut(out, "\n; strongSwan: ")
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

func ssLastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
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
	r := RunEnv(t, 30*time.Second, []string{"STRONGSWAN_CONF=" + p.conf(), "SWANCTL_DIR=" + p.swDir()},
		tools.swanctl, append(args, "--uri", p.vici())...)
	return r.Stdout + r.Stderr
}

// ssLoad waits for a peer's charon to listen on its vici socket and loads its key and
// connection with swanctl --load-all.
func ssLoad(t *testing.T, tools ssTools, p *ssPeer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if p.proc.Exited() {
			t.Fatalf("charon %s exited:\n%s%s", p.name, ssExcerpt(p.log), ReadLog(p.out))
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
	t.Fatalf("charon %s does not listen on %s:\n%s%s", p.name, p.vici(), ssExcerpt(p.log), ReadLog(p.out))
}

// ssGrepChild returns the peers' log lines about the Child SA and the kernel.
func ssGrepChild(peers ...*ssPeer) string {
	re := regexp.MustCompile(`CHILD_SA|\[KNL\]`)
	var b strings.Builder
	for _, p := range peers {
		for line := range strings.Lines(ReadLog(p.log)) {
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
	return Excerpt(path, func(line string) bool { return !skip.MatchString(line) })
}
