package test

// The programs, the hosts and their configuration of TestLibreswanOE.

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lsoeNeedTools finds the programs; pluto and whack are in the libexec directory that
// ipsec names.
func lsoeNeedTools(t *testing.T) lsoeTools {
	t.Helper()
	ipsec := NeedTool(t, "ipsec", "libreswan")
	tools := lsoeTools{
		ip:      NeedTool(t, "ip", "iproute2"),
		dig:     NeedTool(t, "dig", "bind9-dnsutils"),
		keygen:  NeedTool(t, "dnssec-keygen", "bind9-utils"),
		unshare: NeedTool(t, "unshare", "util-linux"),
		mount:   NeedTool(t, "mount", "mount"),
	}
	libexec := "/usr/libexec/ipsec"
	if r := Run(t, 10*time.Second, ipsec, "--directory"); r.Code == 0 && strings.HasPrefix(strings.TrimSpace(r.Stdout), "/") {
		libexec = strings.TrimSpace(r.Stdout)
	}
	tools.pluto = filepath.Join(libexec, "pluto")
	tools.whack = filepath.Join(libexec, "whack")
	for _, p := range []string{tools.pluto, tools.whack} {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			Missing(t, p, "libreswan")
		}
	}
	return tools
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
		fixture: Repo("testdata", "libreswan", fixture),
		addr:    addr,
		netns:   prefix + "-" + fixture,
		dir:     filepath.Join(dir, fixture),
	}
	h.log = filepath.Join(h.dir, "pluto.log")
	h.rev = strings.ToUpper(Reverse(t, addr))
	h.pem = ReadFile(t, "testdata", "libreswan", fixture, "pubkey.pem")
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
	h.key = base64.StdEncoding.EncodeToString(RFC3110(rsaPub))
	h.keyID = h.key[:9]
	sum := sha1.Sum(rsaPub.N.Bytes())
	h.ckaid = hex.EncodeToString(sum[:])
	return h
}

// lsoeKeygen makes a KSK for the zone in dir and returns its base path and its DNSKEY
// record, the trust anchor of the hosts.
func lsoeKeygen(t *testing.T, keygen, dir string) (string, string) {
	t.Helper()
	base, key := Keygen(t, keygen, dir, lsoeZone, true)
	return base, key.String() + "\n"
}

// lsoeHostConfig writes a host's directories: a copy of its NSS database (pluto opens it
// read-write), the policy groups, an empty secrets file, the config, the trust anchor, an
// empty root key file (dnssec-rootkey-file must name a file that exists; the zone's anchor
// is the only one), and the resolv.conf and hosts that are bind-mounted for pluto.
func lsoeHostConfig(t *testing.T, h *lsoeHost, anchor string) {
	t.Helper()
	private := func(path string, data []byte) {
		WriteFile(t, path, data)
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"cert9.db", "key4.db"} {
		private(filepath.Join(h.dir, "nss", f), ReadFile(t, "testdata", "libreswan", filepath.Base(h.fixture), "nss", f))
	}
	if err := os.MkdirAll(filepath.Join(h.dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	WriteFile(t, filepath.Join(h.dir, "ipsec.d", "policies", "private-or-clear"), []byte(lsoeSubnet+"\n"))
	WriteFile(t, filepath.Join(h.dir, "ipsec.d", "policies", "clear"), []byte(lsoeDNSAddr+"/32\n"))
	private(filepath.Join(h.dir, "ipsec.secrets"), nil)
	WriteFile(t, filepath.Join(h.dir, "anchor"), []byte(anchor))
	WriteFile(t, filepath.Join(h.dir, "rootkey"), nil)
	WriteFile(t, filepath.Join(h.dir, "resolv.conf"), []byte("nameserver "+lsoeDNSAddr+"\n"))
	WriteFile(t, filepath.Join(h.dir, "hosts"), []byte("127.0.0.1 localhost\n"))
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
	WriteFile(t, filepath.Join(h.dir, "ipsec.conf"), []byte(conf))
}

// lsoeWaitPluto waits until pluto has loaded its key and put both policies in the kernel:
// the OE trap for the subnet and the passthrough for the DNS server.
func lsoeWaitPluto(t *testing.T, tools lsoeTools, h *lsoeHost) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if h.proc.Exited() {
			t.Fatalf("pluto %s exited:\n%s", h.name, lsoeExcerpt(h.log))
		}
		out := Run(t, 10*time.Second, tools.ip, "-n", h.netns, "xfrm", "policy").Stdout
		if strings.Contains(out, "src "+h.addr+"/32 dst "+lsoeSubnet) && strings.Contains(out, "src "+h.addr+"/32 dst "+lsoeDNSAddr+"/32") {
			if log := ReadLog(h.log); !strings.Contains(log, "loaded private key matching left CKAID "+h.ckaid) {
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
		Run(t, 10*time.Second, tools.ip, "netns", "exec", a.netns, tools.dig, "@"+b.addr, "+time=1", "+tries=1",
			"+norec", "oe-trigger.invalid", "A")
		for range 10 {
			if strings.Contains(ReadLog(a.log), "initiate on-demand for packet") {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Fatalf("traffic from A to B did not trigger OE in A's pluto:\n%s", lsoeExcerpt(a.log))
}

// lsoeWhack asks a host's pluto through its control socket (a file: any namespace will do).
func lsoeWhack(t *testing.T, tools lsoeTools, h *lsoeHost, args ...string) string {
	t.Helper()
	r := Run(t, 10*time.Second, tools.whack, append([]string{"--ctlsocket", h.ctl()}, args...)...)
	return r.Stdout + r.Stderr
}
