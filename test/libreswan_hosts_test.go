package test

// The network, the hosts and the processes of TestLibreswanOE.

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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
	e := big.NewInt(int64(rsaPub.E)).Bytes()
	rfc3110 := append(append([]byte{byte(len(e))}, e...), rsaPub.N.Bytes()...)
	h.key = base64.StdEncoding.EncodeToString(rfc3110)
	h.keyID = h.key[:9]
	sum := sha1.Sum(rsaPub.N.Bytes())
	h.ckaid = hex.EncodeToString(sum[:])
	return h
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
		Must(t, tools.ip, "netns", "add", ns)
		t.Cleanup(func() {
			if r := Run(t, 30*time.Second, tools.ip, "netns", "delete", ns); r.Code != 0 {
				t.Errorf("ip netns delete %s: %s", ns, r)
			}
		})
		if r := Run(t, 30*time.Second, tools.ip, "netns", "exec", ns, "/bin/sh", "-c",
			"echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"); r.Code != 0 {
			t.Logf("%s: IPv6 stays on: exit %d %s", ns, r.Code, r.Stderr)
		}
		Must(t, tools.ip, "-n", ns, "link", "set", "lo", "up")
	}
	Must(t, tools.ip, "-n", dnsNS, "link", "add", "br0", "type", "bridge")
	Must(t, tools.ip, "-n", dnsNS, "addr", "add", lsoeDNSAddr+"/24", "dev", "br0")
	Must(t, tools.ip, "-n", dnsNS, "link", "set", "br0", "up")
	for _, h := range hosts {
		port := "to" + h.name
		Must(t, tools.ip, "-n", dnsNS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.netns)
		Must(t, tools.ip, "-n", dnsNS, "link", "set", port, "master", "br0", "up")
		Must(t, tools.ip, "-n", h.netns, "addr", "add", h.addr+"/24", "dev", "eth0")
		Must(t, tools.ip, "-n", h.netns, "link", "set", "eth0", "up")
		Must(t, tools.ip, "-n", h.netns, "route", "add", "default", "via", lsoeDNSAddr)
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
	if r := Run(t, 30*time.Second, tools.ip, args...); r.Code != 0 {
		return false, strings.TrimSpace("ip xfrm state add ... proto esp ... rfc4106(gcm(aes)): " + r.Stdout + r.Stderr)
	}
	Must(t, tools.ip, append(append(sa, "delete"), id...)...)
	return true, "ip xfrm state add of an ESP SA works"
}

// lsoeKeygen makes a KSK for the zone in dir and returns its base path and its DNSKEY
// record, the trust anchor of the hosts.
func lsoeKeygen(t *testing.T, keygen, dir string) (string, string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base, key := Keygen(t, keygen, dir, lsoeZone, true)
	return base, key.String() + "\n"
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

// lsoeStart starts a program with its output in logPath and ToolPath as its PATH, stopped
// by its PID when the test ends: SIGTERM, then SIGKILL. ip netns exec, unshare and sh all
// exec what follows, so the PID is the server's own.
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
	cmd.Env = append(os.Environ(), "PATH="+ToolPath())
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

// lsoeWaitDNS waits until the server answers for the zone, asked from its own namespace.
func lsoeWaitDNS(t *testing.T, tools lsoeTools, dnsNS string, dns *lsoeProc, logPath string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if dns.exited() {
			t.Fatalf("coredns exited:\n%s", lsoeRead(logPath))
		}
		out := Run(t, 5*time.Second, tools.ip, "netns", "exec", dnsNS, tools.dig, "@"+lsoeDNSAddr,
			"+norec", "+time=1", "+tries=1", lsoeZone, "SOA").Stdout
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
	out := Must(t, tools.ip, "netns", "exec", dnsNS, tools.dig, "@"+lsoeDNSAddr, "+norec", "+dnssec",
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
		if h.proc.exited() {
			t.Fatalf("pluto %s exited:\n%s", h.name, lsoeExcerpt(h.log))
		}
		out := Run(t, 10*time.Second, tools.ip, "-n", h.netns, "xfrm", "policy").Stdout
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
		Run(t, 10*time.Second, tools.ip, "netns", "exec", a.netns, tools.dig, "@"+b.addr, "+time=1", "+tries=1",
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

// lsoeWhack asks a host's pluto through its control socket (a file: any namespace will do).
func lsoeWhack(t *testing.T, tools lsoeTools, h *lsoeHost, args ...string) string {
	t.Helper()
	r := Run(t, 10*time.Second, tools.whack, append([]string{"--ctlsocket", h.ctl()}, args...)...)
	return r.Stdout + r.Stderr
}
