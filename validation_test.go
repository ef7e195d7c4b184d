package ipsecoe

// The validation tests run the real CoreDNS binary (cmd/coredns), with the dnssec plugin
// signing in front of ipsecoe, and check its answers with real validators: BIND's delv and
// a validating unbound, each trusting the zone's DNSKEY (made by dnssec-keygen) as a local
// trust anchor. They cover positive answers of every gateway type, IPSECA, the apex,
// denials at owners, at empty non-terminals and at names that do not exist, a wrong trust
// anchor, aggressive NSEC (RFC 8198) in unbound, fallthrough to file, forward behind the
// plugin, and the cache plugin in front of a key change.
//
// Every server is a child process of the test on 127.0.0.1 and a free high port, killed by
// its own PID when the test ends; every wait is bounded.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const (
	valFwd  = "example.com."
	valRev4 = "2.0.192.in-addr.arpa."     // 192.0.2.0/24
	valRev6 = "8.b.d.0.1.0.0.2.ip6.arpa." // 2001:db8::/32
)

// valZones are the zones of the validation tests, each in a server block of its own with
// its own dnssec keys: the dnssec plugin signs with every key it has, so one block per zone.
var valZones = []string{valFwd, valRev4, valRev6}

// valTools are the external programs the validation tests drive.
type valTools struct {
	dig, delv, keygen, unbound string
}

func valNeedTools(t *testing.T) valTools {
	t.Helper()
	return valTools{
		dig:     needTool(t, "dig", "bind9-dnsutils"),
		delv:    needTool(t, "delv", "bind9-dnsutils"),
		keygen:  needTool(t, "dnssec-keygen", "bind9-utils"),
		unbound: valUnboundPath(t),
	}
}

// valUnboundPath finds unbound, which Debian installs in /usr/sbin, often not on PATH.
func valUnboundPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("unbound"); err == nil {
		return p
	}
	const sbin = "/usr/sbin/unbound"
	if fi, err := os.Stat(sbin); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return sbin
	}
	return needTool(t, "unbound", "unbound")
}

// valRun runs a program with a deadline; a timeout is an error, an exit status is not.
func valRun(t *testing.T, timeout time.Duration, prog string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v\n%s", filepath.Base(prog), strings.Join(args, " "), timeout, out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(prog), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// valKey is the DNSSEC key setup of one zone, made with dnssec-keygen.
type valKey struct {
	zone   string
	files  []string    // key base names, for the dnssec plugin's "key file"
	anchor *dns.DNSKEY // what the validators trust: the KSK, or the single CSK
}

// valKeygen makes an ECDSA P-256 key for zone in dir and returns its base path and DNSKEY.
func valKeygen(t *testing.T, keygen, dir, zone string, ksk bool) (string, *dns.DNSKEY) {
	t.Helper()
	args := []string{"-q", "-K", dir, "-a", "ECDSAP256SHA256"}
	if ksk {
		args = append(args, "-f", "KSK")
	}
	out := valRun(t, 30*time.Second, keygen, append(args, zone)...)
	name := strings.TrimSpace(out)
	if !strings.HasPrefix(name, "K") || strings.ContainsAny(name, " \n/") {
		t.Fatalf("dnssec-keygen %s: unexpected output %q", zone, out)
	}
	base := filepath.Join(dir, name)
	f, err := os.Open(base + ".key")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, "", base+".key")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if k, isKey := rr.(*dns.DNSKEY); isKey {
			return base, k
		}
	}
	t.Fatalf("%s.key: no DNSKEY (%v)", base, zp.Err())
	return "", nil
}

// valZoneKeys makes the keys of a zone: a KSK and a ZSK (split), or one KSK that the
// dnssec plugin uses as a CSK.
func valZoneKeys(t *testing.T, keygen, dir, zone string, split bool) valKey {
	t.Helper()
	kdir := filepath.Join(dir, strings.TrimSuffix(zone, "."))
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		t.Fatal(err)
	}
	kskBase, ksk := valKeygen(t, keygen, kdir, zone, true)
	k := valKey{zone: zone, files: []string{kskBase}, anchor: ksk}
	if split {
		zskBase, _ := valKeygen(t, keygen, kdir, zone, false)
		k.files = append(k.files, zskBase)
	}
	return k
}

// valAnchors writes the trust anchors for delv (BIND's trust-anchors clause) and for unbound
// (DNSKEY records) and returns the two paths.
func valAnchors(t *testing.T, dir, name string, anchors []*dns.DNSKEY) (delvFile, unboundFile string) {
	t.Helper()
	var b, u strings.Builder
	b.WriteString("trust-anchors {\n")
	for _, k := range anchors {
		fmt.Fprintf(&b, "\t%q static-key %d %d %d %q;\n", strings.ToLower(k.Hdr.Name), k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
		u.WriteString(k.String() + "\n")
	}
	b.WriteString("};\n")
	delvFile = filepath.Join(dir, name+".delv.conf")
	unboundFile = filepath.Join(dir, name+".unbound.keys")
	writeFile(t, delvFile, []byte(b.String()))
	writeFile(t, unboundFile, []byte(u.String()))
	return delvFile, unboundFile
}

// valSetup makes the zone keys of one key setup and the anchors that trust them, plus a
// wrong set of anchors: fresh keys of the same zones that sign nothing.
type valSetup struct {
	keys                   map[string]valKey
	delvAnchors, ubAnchors string // trust the zones' keys
	delvWrong, ubWrong     string // trust unrelated keys of the same zones
}

func valNewSetup(t *testing.T, tools valTools, split bool) valSetup {
	t.Helper()
	dir := t.TempDir()
	s := valSetup{keys: map[string]valKey{}}
	var good, wrong []*dns.DNSKEY
	for _, z := range valZones {
		k := valZoneKeys(t, tools.keygen, dir, z, split)
		s.keys[z] = k
		good = append(good, k.anchor)
		_, w := valKeygen(t, tools.keygen, filepath.Join(dir, strings.TrimSuffix(z, ".")), z, true)
		wrong = append(wrong, w)
	}
	s.delvAnchors, s.ubAnchors = valAnchors(t, dir, "good", good)
	s.delvWrong, s.ubWrong = valAnchors(t, dir, "wrong", wrong)
	return s
}

// valBlock is the server block of zone on port: dnssec with the zone's keys, then body.
func valBlock(zone, port string, k valKey, body string) string {
	return fmt.Sprintf("%s:%s {\n    dnssec {\n        key file %s\n    }\n%s}\n", zone, port, strings.Join(k.files, " "), body)
}

// valZoneFile writes a zone file for the file plugin: SOA, NS and the given records.
func valZoneFile(t *testing.T, dir, zone string, records ...string) string {
	t.Helper()
	lines := []string{
		"$ORIGIN " + zone,
		"$TTL 60",
		"@ IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 1800 1209600 60",
		"@ IN NS ns1.example.com.",
	}
	path := filepath.Join(dir, "db."+strings.TrimSuffix(zone, "."))
	writeFile(t, path, []byte(strings.Join(append(lines, records...), "\n")+"\n"))
	return path
}

// valProbe reports whether the server on port answers name/qtype with status.
func valProbe(dig, port, name, qtype, status string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, dig, "@127.0.0.1", "-p", port, "+time=1", "+tries=1", name, qtype).CombinedOutput()
	return err == nil && strings.Contains(string(out), "status: "+status+",")
}

// valStart runs the child process cmd(port) on a free port and waits, at most 10 seconds,
// until ready(port) holds. It tries another port when the process dies at once. The
// process is killed by its own PID when the test ends.
func valStart(t *testing.T, what string, cmd func(port string) *exec.Cmd, ready func(port string) bool) (string, *integSyncBuffer) {
	t.Helper()
	var lastLog string
	for range 3 {
		port := integFreePort(t)
		c := cmd(port)
		log := &integSyncBuffer{}
		c.Stdout, c.Stderr = log, log
		if err := c.Start(); err != nil {
			t.Fatalf("starting %s: %v", what, err)
		}
		exited := make(chan struct{})
		go func() { c.Wait(); close(exited) }()
		stop := func() {
			select {
			case <-exited:
				return
			default:
			}
			c.Process.Kill() // this process's own PID
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Errorf("%s (pid %d) did not exit after kill", what, c.Process.Pid)
			}
		}
		ok := false
		deadline := time.Now().Add(10 * time.Second)
	wait:
		for range 100 {
			select {
			case <-exited:
				break wait
			default:
			}
			if time.Now().After(deadline) {
				break
			}
			if ready(port) {
				ok = true
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if ok {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("%s output:\n%s", what, log.String())
				}
			})
			return port, log
		}
		stop()
		lastLog = log.String()
	}
	t.Fatalf("%s did not start answering; its last output:\n%s", what, lastLog)
	return "", nil
}

// valUnbound starts a validating unbound in the foreground that trusts anchorFile and
// sends each of zones to the CoreDNS on corePort, with aggressive NSEC on.
func valUnbound(t *testing.T, tools valTools, corePort, anchorFile string, zones []string) (string, *integSyncBuffer) {
	t.Helper()
	dir := t.TempDir()
	return valStart(t, "unbound", func(port string) *exec.Cmd {
		var b strings.Builder
		fmt.Fprintf(&b, "server:\n")
		for _, l := range []string{
			"interface: 127.0.0.1",
			"port: " + port,
			"do-ip6: no",
			"do-daemonize: no",
			`username: ""`,
			`chroot: ""`,
			fmt.Sprintf("directory: %q", dir),
			fmt.Sprintf("pidfile: %q", filepath.Join(dir, "unbound.pid")),
			"use-syslog: no",
			`logfile: ""`,
			"verbosity: 1",
			"val-log-level: 2",
			"num-threads: 1",
			"do-not-query-localhost: no",
			`module-config: "validator iterator"`,
			"aggressive-nsec: yes",
			fmt.Sprintf("trust-anchor-file: %q", anchorFile),
		} {
			fmt.Fprintf(&b, "    %s\n", l)
		}
		for _, z := range zones {
			// unbound serves private and documentation reverse zones locally by default.
			fmt.Fprintf(&b, "    local-zone: %q transparent\n", z)
		}
		for _, z := range zones {
			fmt.Fprintf(&b, "stub-zone:\n    name: %q\n    stub-addr: 127.0.0.1@%s\n", z, corePort)
		}
		conf := filepath.Join(dir, "unbound-"+port+".conf")
		writeFile(t, conf, []byte(b.String()))
		return exec.Command(tools.unbound, "-d", "-c", conf)
	}, func(port string) bool {
		// localhost is unbound's own local zone: no query reaches CoreDNS, nothing is cached.
		return valProbe(tools.dig, port, "localhost.", "A", "NOERROR")
	})
}

// valResolve asks the unbound on port, with DO and RD set, and parses the reply.
func valResolve(t *testing.T, dig, port, name, qtype string) *integAnswer {
	t.Helper()
	args := []string{"@127.0.0.1", "-p", port, "+time=5", "+tries=1", "+dnssec", "+unknownformat", name, qtype}
	out := valRun(t, 20*time.Second, dig, args...)
	a, err := integParseDig(out, true)
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	a.question = name + " " + qtype
	return a
}

// valDelv validates name/qtype with delv, which asks the server on port for everything,
// with anchorFile's key for zone as its only trust anchor.
func valDelv(t *testing.T, delv, port, anchorFile, zone, name, qtype string) string {
	t.Helper()
	return valRun(t, 30*time.Second, delv, "@127.0.0.1", "-p", port, "-a", anchorFile,
		"+root="+strings.TrimSuffix(zone, "."), "+unknownformat", name, qtype)
}

// valDelvRecords parses the records delv printed (+unknownformat).
func valDelvRecords(out string) ([]integRR, error) {
	var rrs []integRR
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := integParseRR(line)
		if err != nil {
			return nil, err
		}
		rrs = append(rrs, rr)
	}
	return rrs, nil
}

// valCase is one question to validate.
type valCase struct {
	zone, name, qtype string
	// rdata: for a positive answer, one hex prefix per record of qtype (matched with ASCII
	// case folding, for names inside the RDATA); nil for a denial.
	rdata []string
}

func (c valCase) String() string { return c.name + " " + c.qtype }

func valType(t *testing.T, qtype string) uint16 {
	t.Helper()
	if n, ok := strings.CutPrefix(qtype, "TYPE"); ok {
		v, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			t.Fatalf("bad type %q", qtype)
		}
		return uint16(v)
	}
	v, ok := dns.StringToType[qtype]
	if !ok {
		t.Fatalf("bad type %q", qtype)
	}
	return v
}

// valFoldPrefix reports whether got starts with want, ASCII letters compared without case.
func valFoldPrefix(got, want []byte) bool {
	if len(got) < len(want) {
		return false
	}
	low := func(b byte) byte {
		if 'A' <= b && b <= 'Z' {
			return b + 'a' - 'A'
		}
		return b
	}
	for i := range want {
		if low(got[i]) != low(want[i]) {
			return false
		}
	}
	return true
}

// valCheckRecords checks that rrs hold exactly the records c expects, and an RRSIG over them.
func valCheckRecords(t *testing.T, c valCase, rrs []integRR) error {
	t.Helper()
	typ := valType(t, c.qtype)
	var got [][]byte
	signed := false
	for _, rr := range rrs {
		b, err := hex.DecodeString(rr.hex)
		if err != nil {
			return err
		}
		switch {
		case rr.typ == typ:
			got = append(got, b)
		case rr.typ == dns.TypeRRSIG && len(b) >= 2 && uint16(b[0])<<8|uint16(b[1]) == typ:
			signed = true
		}
	}
	if len(got) != len(c.rdata) {
		return fmt.Errorf("%d records of type %s, want %d", len(got), c.qtype, len(c.rdata))
	}
	used := make([]bool, len(got))
	for _, p := range c.rdata {
		want, err := hex.DecodeString(p)
		if err != nil {
			t.Fatalf("bad prefix %q", p)
		}
		found := false
		for i, g := range got {
			if !used[i] && valFoldPrefix(g, want) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return fmt.Errorf("no record starting with %s", p)
		}
	}
	if !signed {
		return fmt.Errorf("no RRSIG over %s", c.qtype)
	}
	return nil
}

// valCheckUnbound checks unbound's validated answer to c.
func valCheckUnbound(t *testing.T, c valCase, a *integAnswer) error {
	t.Helper()
	if !a.flag("ad") {
		return fmt.Errorf("no ad flag (status %s, flags %v)", a.status, a.flags)
	}
	if c.rdata == nil {
		// dnssec's black lies make NXDOMAIN a NODATA when DO is set.
		if a.status != "NOERROR" || len(a.sections["ANSWER"]) != 0 {
			return fmt.Errorf("status %s with %d answers, want a NODATA", a.status, len(a.sections["ANSWER"]))
		}
		return nil
	}
	if a.status != "NOERROR" {
		return fmt.Errorf("status %s, want NOERROR", a.status)
	}
	return valCheckRecords(t, c, a.sections["ANSWER"])
}

// valCheckDelv checks delv's output for c: fully validated, and the records.
func valCheckDelv(t *testing.T, c valCase, out string) error {
	t.Helper()
	if c.rdata == nil {
		if !strings.Contains(out, "; negative response, fully validated") {
			return errors.New("not a fully validated negative response")
		}
		return nil
	}
	if !strings.Contains(out, "; fully validated") || strings.Contains(out, "negative response") {
		return errors.New("not a fully validated answer")
	}
	rrs, err := valDelvRecords(out)
	if err != nil {
		return err
	}
	return valCheckRecords(t, c, rrs)
}

// valRev is the reverse name of an address.
func valRev(t *testing.T, addr string) string {
	t.Helper()
	r, err := dns.ReverseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// valGatewayName is the hex of a gateway name as it is packed in IPSECKEY RDATA.
func valGatewayName(t *testing.T, name string) string {
	t.Helper()
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(name, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(buf[:n])
}

// valIpsecoe is the ipsecoe block of the validation tests (every server block has it).
func valIpsecoe(keys, extra string) string {
	return "    ipsecoe {\n" +
		"        keys " + keys + "\n" +
		"        ttl 300\n" +
		"        ipseca 53\n" +
		"        gateway 192.0.2.128/25 192.0.2.254\n" +
		"        gateway 2001:db8:1::/64 GW.Example.com 20\n" +
		"        gateway 2001:db8:2::/64 2001:db8::4 30\n" +
		extra +
		"    }\n"
}

// valCorefile has a server block per zone on port, each signed with its own keys.
func valCorefile(port string, s valSetup, body func(zone string) string) string {
	var b strings.Builder
	for _, z := range valZones {
		b.WriteString(valBlock(z, port, s.keys[z], body(z)))
	}
	return b.String()
}

// valCases are the questions every validator must validate with the right anchor and
// fail with the wrong one. Precedence, gateway type and algorithm open every IPSECKEY.
func valCases(t *testing.T, split bool) []valCase {
	gw3 := "140304" + valGatewayName(t, "gw.example.com.") // precedence 20, a name, Ed25519
	dnskeys := []string{"0101030d"}                        // flags 257, protocol 3, algorithm 13
	if split {
		dnskeys = append(dnskeys, "0100030d") // the ZSK
	}
	var cases []valCase
	for _, z := range valZones {
		cases = append(cases,
			valCase{z, z, "SOA", []string{""}},
			valCase{z, z, "NS", []string{""}},
			valCase{z, z, "DNSKEY", dnskeys},
		)
	}
	return append(cases, []valCase{
		// Gateway type 0: host keys, at a name, a certificate's DNS SAN, reverse names.
		{valFwd, "gw.example.com.", "IPSECKEY", []string{"0a0004"}},
		{valFwd, "GW.Example.COM.", "IPSECKEY", []string{"0a0004"}},
		{valFwd, "ns1.example.com.", "IPSECKEY", []string{"0a0003"}},
		{valRev4, "1.2.0.192.in-addr.arpa.", "IPSECKEY", []string{"0a0002", "0a0003"}},
		{valRev6, valRev(t, "2001:db8::4"), "IPSECKEY", []string{"0a0003"}},
		// Type 1: an IPv4 gateway for a synthesized address; the gateway's own name holds
		// its host key as well.
		{valRev4, "200.2.0.192.in-addr.arpa.", "IPSECKEY", []string{"140102c00002fe"}},
		{valRev4, "254.2.0.192.in-addr.arpa.", "IPSECKEY", []string{"0a0002", "140102c00002fe"}},
		// Type 2: an IPv6 gateway, 2001:db8::4, for a synthesized IPv6 address.
		{valRev6, valRev(t, "2001:db8:2::1"), "IPSECKEY", []string{"1e020320010db8000000000000000000000004"}},
		// Type 3: a host-name gateway, written GW.Example.com in the Corefile.
		{valRev6, valRev(t, "2001:db8:1::abcd"), "IPSECKEY", []string{gw3}},
		{valRev6, strings.ToUpper(valRev(t, "2001:db8:1::abcd")), "IPSECKEY", []string{gw3}},
		// IPSECA (TYPE65347): 3 1 1 from a certificate, a bare key, an explicit owner.
		{valFwd, "_53.ns1.example.com.", "TYPE65347", []string{"030101"}},
		{valFwd, "_53.GW.example.com.", "TYPE65347", []string{"030101"}},
		{valFwd, "_500.host.example.com.", "TYPE65347", []string{"030101"}},
		{valRev4, "_53.1.2.0.192.in-addr.arpa.", "TYPE65347", []string{"030101", "030101"}},
		// NODATA at owners: signed by the plugin itself.
		{valFwd, "gw.example.com.", "TXT", nil},
		{valFwd, "Gw.Example.Com.", "A", nil},
		{valFwd, "gw.example.com.", "TYPE65347", nil},
		{valFwd, "_53.ns1.example.com.", "IPSECKEY", nil},
		{valRev4, "200.2.0.192.in-addr.arpa.", "TXT", nil},
		{valRev6, valRev(t, "2001:db8:1::abcd"), "AAAA", nil},
		{valFwd, "example.com.", "IPSECKEY", nil},
		// NODATA at empty non-terminals.
		{valFwd, "host.example.com.", "IPSECKEY", nil},
		{valRev6, "0.0.0.0." + valRev6, "IPSECKEY", nil},
		// Names that do not exist.
		{valFwd, "nope.example.com.", "IPSECKEY", nil},
		{valFwd, "Nope.Example.COM.", "TYPE65347", nil},
		{valRev4, "5.2.0.192.in-addr.arpa.", "IPSECKEY", nil},
		{valRev6, valRev(t, "2001:db8:3::1"), "IPSECKEY", nil},
	}...)
}

// TestValidationSecure validates every case with delv and with unbound, for a KSK+ZSK
// pair and for a single CSK per zone, and checks that every case fails with a wrong anchor.
func TestValidationSecure(t *testing.T) {
	t.Parallel()
	tools := valNeedTools(t)
	bin := integCoreDNS(t)
	keys := testKeyDir(t)
	for _, mode := range []struct {
		name  string
		split bool
	}{{"KSK+ZSK", true}, {"CSK", false}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			s := valNewSetup(t, tools, mode.split)
			srv := integStart(t, bin, tools.dig, t.TempDir(), func(port string) string {
				return valCorefile(port, s, func(string) string { return valIpsecoe(keys, "") })
			})
			cases := valCases(t, mode.split)

			t.Run("delv", func(t *testing.T) {
				for i, c := range cases {
					out := valDelv(t, tools.delv, srv.port, s.delvAnchors, c.zone, c.name, c.qtype)
					if err := valCheckDelv(t, c, out); err != nil {
						t.Errorf("Test %d: delv %s: %v\n%s", i, c, err, out)
					}
				}
			})
			t.Run("unbound", func(t *testing.T) {
				ub, _ := valUnbound(t, tools, srv.port, s.ubAnchors, valZones)
				for i, c := range cases {
					a := valResolve(t, tools.dig, ub, c.name, c.qtype)
					if err := valCheckUnbound(t, c, a); err != nil {
						t.Errorf("Test %d: unbound %s: %v\n%s", i, c, err, a.raw)
					}
				}
			})
			t.Run("wrong anchor", func(t *testing.T) {
				ub, _ := valUnbound(t, tools, srv.port, s.ubWrong, valZones)
				for i, c := range cases {
					// delv must fail to validate, and say so (not merely fail to run).
					if out := valDelv(t, tools.delv, srv.port, s.delvWrong, c.zone, c.name, c.qtype); strings.Contains(out, "fully validated") || !strings.Contains(out, "resolution failed") {
						t.Errorf("Test %d: delv %s with a wrong trust anchor: want \"resolution failed\", never \"fully validated\":\n%s", i, c, out)
					}
					if a := valResolve(t, tools.dig, ub, c.name, c.qtype); a.status != "SERVFAIL" || a.flag("ad") {
						t.Errorf("Test %d: unbound %s with a wrong trust anchor: status %s flags %v, want SERVFAIL\n%s", i, c, a.status, a.flags, a.raw)
					}
				}
			})
		})
	}
}

// valLogged reports whether CoreDNS's log plugin logged a query for qtype at name. The
// plugin registers TYPE65347 with miekg/dns as IPSECA, so the log may use either name.
func valLogged(log *integSyncBuffer, qtype, name string) bool {
	out := strings.ToLower(log.String())
	names := []string{qtype}
	if qtype == "TYPE65347" {
		names = append(names, "IPSECA")
	}
	for _, q := range names {
		if strings.Contains(out, strings.ToLower(`"`+q+" IN "+name+" ")) {
			return true
		}
	}
	return false
}

// TestValidationAggressiveNSEC asks unbound, which does aggressive NSEC (RFC 8198), for
// another type first and then for the keys at the same name: the NSEC of the first denial
// must not let unbound deny the keys from its cache. A control case at an empty
// non-terminal shows that unbound does deny from cache where dnssec's black lie is all
// there is. It runs with ipsecoe authoritative, and with fallthrough to file.
func TestValidationAggressiveNSEC(t *testing.T) {
	t.Parallel()
	tools := valNeedTools(t)
	bin := integCoreDNS(t)
	keys := testKeyDir(t)
	s := valNewSetup(t, tools, false)
	v4 := "200.2.0.192.in-addr.arpa."
	v6 := valRev(t, "2001:db8:1::abcd")
	gw3 := "140304" + valGatewayName(t, "gw.example.com.")

	for _, through := range []bool{false, true} {
		name := "authoritative"
		if through {
			name = "fallthrough"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := map[string]string{
				valFwd:  valZoneFile(t, dir, valFwd, "ns1 IN A 192.0.2.53", "gw IN A 192.0.2.77"),
				valRev4: valZoneFile(t, dir, valRev4, "77 IN PTR gw.example.com.", "200 IN PTR host200.example.com."),
				valRev6: valZoneFile(t, dir, valRev6),
			}
			srv := integStart(t, bin, tools.dig, dir, func(port string) string {
				return valCorefile(port, s, func(z string) string {
					if !through {
						return "    log\n" + valIpsecoe(keys, "")
					}
					return "    log\n" + valIpsecoe(keys, "        fallthrough\n") + "    file " + files[z] + " " + z + "\n"
				})
			})
			ub, _ := valUnbound(t, tools, srv.port, s.ubAnchors, valZones)

			sequences := []struct {
				first string
				then  valCase
			}{
				{"TXT", valCase{valFwd, "gw.example.com.", "IPSECKEY", []string{"0a0004"}}},
				{"A", valCase{valFwd, "ns1.example.com.", "IPSECKEY", []string{"0a0003"}}},
				{"A", valCase{valRev4, v4, "IPSECKEY", []string{"140102c00002fe"}}},
				{"A", valCase{valRev6, v6, "IPSECKEY", []string{gw3}}},
				{"A", valCase{valFwd, "_53.ns1.example.com.", "TYPE65347", []string{"030101"}}},
				{"TXT", valCase{valFwd, "_53.gw.example.com.", "TYPE65347", []string{"030101"}}},
			}
			for i, sq := range sequences {
				first := valResolve(t, tools.dig, ub, sq.then.name, sq.first)
				if !first.flag("ad") || first.status != "NOERROR" {
					t.Errorf("Test %d: %s %s: status %s flags %v, want a validated answer\n%s", i, sq.then.name, sq.first, first.status, first.flags, first.raw)
				}
				a := valResolve(t, tools.dig, ub, sq.then.name, sq.then.qtype)
				if err := valCheckUnbound(t, sq.then, a); err != nil {
					t.Errorf("Test %d: %s after %s: %v\n%s", i, sq.then, sq.first, err, a.raw)
				}
			}

			// The control: at an empty non-terminal dnssec's black lie lists no IPSECKEY, so
			// after TXT unbound denies IPSECKEY from its cache without asking CoreDNS.
			const ent = "host.example.com."
			a := valResolve(t, tools.dig, ub, ent, "TXT")
			if err := valCheckUnbound(t, valCase{valFwd, ent, "TXT", nil}, a); err != nil {
				t.Errorf("control: %s TXT: %v\n%s", ent, err, a.raw)
			}
			a = valResolve(t, tools.dig, ub, ent, "IPSECKEY")
			if err := valCheckUnbound(t, valCase{valFwd, ent, "IPSECKEY", nil}, a); err != nil {
				t.Errorf("control: %s IPSECKEY: %v\n%s", ent, err, a.raw)
			}
			// The log plugin writes its line once the reply is out: wait for the TXT line,
			// then a moment more for any IPSECKEY line.
			for start := time.Now(); !valLogged(srv.log, "TXT", ent) && time.Since(start) < 3*time.Second; {
				time.Sleep(50 * time.Millisecond)
			}
			if !valLogged(srv.log, "TXT", ent) {
				t.Errorf("control: CoreDNS did not log the TXT query at %s:\n%s", ent, srv.log.String())
			}
			time.Sleep(300 * time.Millisecond)
			if valLogged(srv.log, "IPSECKEY", ent) {
				t.Errorf("control: the IPSECKEY query at %s reached CoreDNS: unbound did not deny it from its cache, so the test proves nothing about aggressive NSEC", ent)
			}
			// ...while every key query of the sequences did reach CoreDNS.
			for i, sq := range sequences {
				if !valLogged(srv.log, sq.then.qtype, sq.then.name) {
					t.Errorf("Test %d: CoreDNS never saw %s", i, sq.then)
				}
			}

			if !through {
				return
			}
			// What the file zones hold, at owner names of ipsecoe's too, validates as well.
			for i, c := range []valCase{
				{valFwd, "gw.example.com.", "A", []string{"c000024d"}},
				{valRev4, "77.2.0.192.in-addr.arpa.", "PTR", []string{valGatewayName(t, "gw.example.com.")}},
				{valRev4, v4, "PTR", []string{valGatewayName(t, "host200.example.com.")}},
				{valFwd, "example.com.", "SOA", []string{valGatewayName(t, "ns1.example.com.") + valGatewayName(t, "hostmaster.example.com.") + fmt.Sprintf("%08x", 2024010101)}},
			} {
				a := valResolve(t, tools.dig, ub, c.name, c.qtype)
				if err := valCheckUnbound(t, c, a); err != nil {
					t.Errorf("Test %d: %s: %v\n%s", i, c, err, a.raw)
				}
				out := valDelv(t, tools.delv, srv.port, s.delvAnchors, c.zone, c.name, c.qtype)
				if err := valCheckDelv(t, c, out); err != nil {
					t.Errorf("Test %d: delv %s: %v\n%s", i, c, err, out)
				}
			}
		})
	}
}

// TestValidationForward puts forward behind ipsecoe in one server block for the root
// zone: names outside ipsecoe's zones go to an upstream CoreDNS serving example.net.
func TestValidationForward(t *testing.T) {
	t.Parallel()
	tools := valNeedTools(t)
	bin := integCoreDNS(t)
	keys := testKeyDir(t)
	s := valNewSetup(t, tools, false)
	dir := t.TempDir()

	netZone := valZoneFile(t, dir, "example.net.", "www IN A 192.0.2.80")
	upPort, _ := valStart(t, "upstream coredns", func(port string) *exec.Cmd {
		conf := filepath.Join(dir, "Corefile.upstream."+port)
		writeFile(t, conf, []byte("example.net:"+port+" {\n    file "+netZone+"\n}\n"))
		c := exec.Command(bin, "-conf", conf)
		c.Dir = dir
		return c
	}, func(port string) bool {
		return valProbe(tools.dig, port, "example.net.", "SOA", "NOERROR")
	})

	srv := integStart(t, bin, tools.dig, dir, func(port string) string {
		k := s.keys[valFwd]
		return ".:" + port + " {\n" +
			"    dnssec example.com {\n        key file " + strings.Join(k.files, " ") + "\n    }\n" +
			strings.Replace(valIpsecoe(keys, ""), "ipsecoe {", "ipsecoe example.com {", 1) +
			"    forward . 127.0.0.1:" + upPort + "\n" +
			"}\n"
	})

	want := net.ParseIP("192.0.2.80").To4()
	for _, proto := range []string{"udp", "tcp"} {
		for _, do := range []bool{false, true} {
			var extra []string
			if do {
				extra = append(extra, "+dnssec")
			}
			a := srv.query(t, proto, "www.example.net.", "A", extra...)
			ans := integHexes(a.sections["ANSWER"], dns.TypeA)
			if a.status != "NOERROR" || len(ans) != 1 || ans[0] != hex.EncodeToString(want) {
				t.Errorf("www.example.net A over %s (DO %v): status %s, A records %q, want NOERROR and %s\n%s", proto, do, a.status, ans, want, a.raw)
			}
			// A name upstream does not have: its own denial, with its SOA.
			a = srv.query(t, proto, "nope.example.net.", "A", extra...)
			if ns := a.sections["AUTHORITY"]; a.status != "NXDOMAIN" || len(ns) != 1 || ns[0].typ != dns.TypeSOA || ns[0].name != "example.net." {
				t.Errorf("nope.example.net A over %s (DO %v): status %s authority %+v, want NXDOMAIN with example.net's SOA\n%s", proto, do, a.status, ns, a.raw)
			}
		}
	}
	// ipsecoe's own names are still answered, signed, in the same block.
	for i, c := range []valCase{
		{valFwd, "gw.example.com.", "IPSECKEY", []string{"0a0004"}},
		{valFwd, "gw.example.com.", "TXT", nil},
		{valFwd, "nope.example.com.", "A", nil},
	} {
		out := valDelv(t, tools.delv, srv.port, s.delvAnchors, c.zone, c.name, c.qtype)
		if err := valCheckDelv(t, c, out); err != nil {
			t.Errorf("Test %d: delv %s: %v\n%s", i, c, err, out)
		}
	}
}

// TestValidationCache puts the cache plugin in front of dnssec and ipsecoe and changes the
// key of an owner: within the cache TTL (bounded by ipsecoe's ttl) plus the reload
// interval the new key must be served and validate, and every answer on the way must
// validate, the old key or the new one, never a signature over the wrong data.
func TestValidationCache(t *testing.T) {
	t.Parallel()
	tools := valNeedTools(t)
	bin := integCoreDNS(t)
	keys := testKeyDir(t)
	s := valNewSetup(t, tools, true)
	const ttl, reload = 5 * time.Second, 1 * time.Second

	srv := integStart(t, bin, tools.dig, t.TempDir(), func(port string) string {
		k := s.keys[valFwd]
		return "example.com:" + port + " {\n" +
			"    cache 30\n" +
			"    dnssec {\n        key file " + strings.Join(k.files, " ") + "\n    }\n" +
			"    ipsecoe {\n" +
			"        keys " + keys + "\n" +
			fmt.Sprintf("        reload %v\n        ttl %d\n", reload, int(ttl/time.Second)) +
			"    }\n" +
			"}\n"
	})
	oldKey := keyB64(t, "keys/ed25519.pub.pem")
	newKey := keyB64(t, "keys/ecp256.pub.pem")
	ask := func() (old, cur bool, out string) {
		out = valDelv(t, tools.delv, srv.port, s.delvAnchors, valFwd, "gw.example.com.", "IPSECKEY")
		if !strings.Contains(out, "; fully validated") || strings.Contains(out, "negative response") {
			t.Fatalf("delv gw.example.com IPSECKEY: not fully validated:\n%s", out)
		}
		// delv prints the key field in hex (+unknownformat): compare the RDATA.
		rrs, err := valDelvRecords(out)
		if err != nil {
			t.Fatalf("delv output: %v\n%s", err, out)
		}
		for _, rr := range rrs {
			if rr.typ != dns.TypeIPSECKEY {
				continue
			}
			switch rr.hex {
			case valB64Hex(t, "0a0004", oldKey):
				old = true
			case valB64Hex(t, "0a0003", newKey):
				cur = true
			default:
				t.Fatalf("delv: unexpected IPSECKEY %s\n%s", rr.hex, out)
			}
		}
		return old, cur, out
	}

	if old, cur, out := ask(); !old || cur {
		t.Fatalf("before the change: want the Ed25519 key alone\n%s", out)
	}
	// Replace the owner's key atomically (the loader skips dot files).
	tmp := filepath.Join(keys, ".gw.tmp")
	writeFile(t, tmp, readVector(t, "keys/ecp256.pub.pem"))
	if err := os.Rename(tmp, filepath.Join(keys, "gw.example.com.pem")); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	bound := ttl + reload + 2*time.Second
	seenOld := 0
	for n := 0; ; n++ {
		old, cur, out := ask()
		if cur && !old {
			t.Logf("the new key validated %v after the change (%d answers with the old key first)", time.Since(changed).Round(time.Millisecond), seenOld)
			break
		}
		if cur || !old {
			t.Fatalf("answer %d: old key %v, new key %v, want one of them\n%s", n, old, cur, out)
		}
		seenOld++
		if time.Since(changed) > bound || n >= 100 {
			t.Fatalf("the new key is not served %v after the change (bound %v)\n%s", time.Since(changed).Round(time.Millisecond), bound, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// valB64Hex is the hex of an IPSECKEY RDATA: a hex header and a base64 key.
func valB64Hex(t *testing.T, header, b64 string) string {
	t.Helper()
	rr, err := dns.NewRR(". IN IPSECKEY 1 0 1 . " + b64)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	// The RDATA of ". IN IPSECKEY 1 0 1 . KEY" is 01 00 01 then the key: swap the header.
	rdata := buf[n-int(rr.Header().Rdlength) : n]
	return header + hex.EncodeToString(rdata[3:])
}
