package ipsecoe

// The tooling tests run the operator command of cmd/ipsecoe against the real CoreDNS
// binary and the real tools its output is meant for:
//
//   - records: the export of a key directory, with an SOA and NS put in front, loads in
//     named-checkzone and ldns-read-zone, and every RRset of it is what the binary serves
//     from the same directory and Corefile block, byte for byte; the gateway comments are
//     what the binary serves at the addresses of their prefixes.
//   - anchor: the trust-anchors block validates the binary's signed answers in delv, the
//     trust-anchor line does in unbound (inline in unbound.conf), and so does the DS line
//     as unbound's trust-anchor-file; a ZSK gets the note.
//   - Libreswan: keys made by ipsec newhostkey, dropped into the key directory as
//     ipsec showhostkey prints them, are served as the IPSECKEY records Libreswan prints.
//
// Every process is a child of the test on 127.0.0.1, killed by its own PID; waits are
// bounded.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// toolBuild holds the ipsecoe command built for these tests, like integBuild.
var toolBuild struct {
	mu    sync.Mutex
	users int
	dir   string
	path  string
}

// toolCommand returns the path of the ipsecoe command, building it once.
func toolCommand(t *testing.T) string {
	t.Helper()
	b := &toolBuild
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.users == 0 {
		goTool, err := exec.LookPath("go")
		if err != nil {
			t.Fatalf("go tool not found: %v", err)
		}
		dir, err := os.MkdirTemp("", "ipsecoe-cmd-")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "ipsecoe")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, goTool, "build", "-o", path, "./cmd/ipsecoe").CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			t.Fatalf("go build ./cmd/ipsecoe: %v\n%s", err, out)
		}
		b.dir, b.path = dir, path
	}
	b.users++
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.users--
		if b.users == 0 {
			os.RemoveAll(b.dir)
			b.dir, b.path = "", ""
		}
	})
	return b.path
}

// toolExec runs prog with a deadline and returns its stdout, stderr and exit status.
func toolExec(t *testing.T, timeout time.Duration, prog string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v", filepath.Base(prog), strings.Join(args, " "), timeout)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return out.String(), errb.String(), exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v", filepath.Base(prog), strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), 0
}

// toolMust runs prog and fails the test unless it exits 0; it returns stdout.
func toolMust(t *testing.T, prog string, args ...string) string {
	t.Helper()
	out, errOut, code := toolExec(t, 60*time.Second, prog, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s%s", filepath.Base(prog), strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// toolRR parses one record of presentation text.
func toolRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil || rr == nil {
		t.Fatalf("dns.NewRR(%q): %v", s, err)
	}
	return rr
}

// toolRdata packs rr and returns its RDATA in lower-case hex.
func toolRdata(t *testing.T, rr dns.RR) string {
	t.Helper()
	g := new(dns.RFC3597)
	if err := g.ToRFC3597(rr); err != nil {
		t.Fatalf("packing %s: %v", rr, err)
	}
	return strings.ToLower(g.Rdata)
}

// toolRecord is one record of a zone text: owner, type, TTL and RDATA hex.
type toolRecord struct {
	name string
	typ  uint16
	ttl  uint32
	hex  string
}

func (r toolRecord) key() string { return fmt.Sprintf("%s TYPE%d", strings.ToLower(r.name), r.typ) }

func (r toolRecord) String() string {
	return fmt.Sprintf("%s %d TYPE%d %s", r.name, r.ttl, r.typ, r.hex)
}

// toolParseZone parses zone text record by record, each line with its own dns.NewRR, and
// returns the records and the comment lines.
func toolParseZone(t *testing.T, text string) ([]toolRecord, []string) {
	t.Helper()
	var rrs []toolRecord
	var comments []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, ";"):
			comments = append(comments, line)
		default:
			rr := toolRR(t, line)
			h := rr.Header()
			if h.Class != dns.ClassINET {
				t.Errorf("%q: class %d, want IN", line, h.Class)
			}
			rrs = append(rrs, toolRecord{strings.ToLower(h.Name), h.Rrtype, h.Ttl, toolRdata(t, rr)})
		}
	}
	return rrs, comments
}

func toolStrings(rrs []toolRecord) []string {
	var out []string
	for _, r := range rrs {
		out = append(out, r.String())
	}
	slices.Sort(out)
	return out
}

// toolKeyDir is a key directory of the test vectors (bare keys, PEM and DER, and a
// certificate), Libreswan showhostkey text and an explicit IPSECA owner.
func toolKeyDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for dst, src := range map[string]string{
		"192.0.2.1.pem":              "keys/rsa2048.pub.pem",
		"192.0.2.254.pem":            "keys/rsa2048.pub.pem",
		"gw.example.com.pem":         "keys/ed25519.pub.pem",
		"certs/ns1-ecp256.crt":       "certs/ns1-ecp256.crt",
		"2001-db8--d.der":            "keys/lsw_rsa_122269ea.pub.der",
		"4.2.0.192.in-addr.arpa.pem": "keys/ecp256.pub.pem",
		"_500.host.example.com.pem":  "keys/ed25519.pub.pem",
	} {
		writeFile(t, filepath.Join(dir, dst), readVector(t, src))
	}
	writeFile(t, filepath.Join(dir, "192.0.2.5.pub"), readTestdata(t, "showhostkey/rsa.left"))
	writeFile(t, filepath.Join(dir, "ecdsa.example.com.pem"), readTestdata(t, "showhostkey/ecdsa.ipseckey"))
	return dir
}

// toolSOA is the SOA and NS put in front of an export; the NS target is outside every zone.
func toolSOA(zone string) string {
	return fmt.Sprintf("%s 60 IN SOA ns.example.net. hostmaster.example.net. 1 7200 1800 1209600 60\n%s 60 IN NS ns.example.net.\n", zone, zone)
}

var toolGatewayComment = regexp.MustCompile(`^; every address in (\S+): IPSECKEY (.+)$`)

func TestToolRecordsServed(t *testing.T) {
	t.Parallel()
	dig := needTool(t, "dig", "bind9-dnsutils")
	checkzone := needTool(t, "named-checkzone", "bind9-utils")
	ldns := needTool(t, "ldns-read-zone", "ldnsutils")
	cmd := toolCommand(t)
	bin := integCoreDNS(t)
	keys := toolKeyDir(t)
	zones := []string{"example.com.", "2.0.192.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."}
	block := func(port string) string {
		return fmt.Sprintf(`.:%s {
    bind 127.0.0.1
    ipsecoe example.com 192.0.2.0/24 2001:db8::/32 {
        keys %s
        reload 0
        ttl 600
        ipseca 53
        dane 3 1 1
        dane 3 0 2
        gateway 192.0.2.128/25 192.0.2.254
        gateway 2001:db8:1::/64 gw.example.com 15
        gateway 2001:db8:2::/64 2001:db8::d 30
    }
}
`, port, keys)
	}
	work := t.TempDir()
	srv := integStart(t, bin, dig, work, block)
	conf := filepath.Join(work, "Corefile.export")
	writeFile(t, conf, []byte(block(srv.port)))

	var all []toolRecord
	gateways := map[string]string{} // prefix -> the gateway's IPSECKEY RDATA hex
	for _, zone := range zones {
		out, errOut, code := toolExec(t, 30*time.Second, cmd, "records", keys, "-conf", conf, "-zone", zone)
		if code != 0 || errOut != "" {
			t.Fatalf("ipsecoe records -zone %s: exit %d\n%s%s", zone, code, out, errOut)
		}
		export, comments := toolParseZone(t, out)
		if len(export) == 0 {
			t.Fatalf("-zone %s: no records\n%s", zone, out)
		}
		for _, r := range export {
			if !dns.IsSubDomain(zone, r.name) || r.ttl != 600 {
				t.Errorf("-zone %s: %s: want a name in the zone and TTL 600", zone, r)
			}
		}
		all = append(all, export...)
		for _, c := range comments {
			if m := toolGatewayComment.FindStringSubmatch(c); m != nil {
				gateways[m[1]] = toolRdata(t, toolRR(t, ". 0 IN IPSECKEY "+m[2]))
			}
		}

		// The zone: SOA and NS, then the export as it is (no $ORIGIN: every owner is
		// absolute).
		file := filepath.Join(work, "db."+strings.TrimSuffix(zone, "."))
		text := toolSOA(zone) + out
		writeFile(t, file, []byte(text))
		zoneRRs, _ := toolParseZone(t, text)

		t.Run("named-checkzone "+zone, func(t *testing.T) {
			out, errOut, code := toolExec(t, 30*time.Second, checkzone, zone, file)
			lines := strings.Split(strings.TrimSpace(out+errOut), "\n")
			if code != 0 || !slices.Equal(lines, []string{fmt.Sprintf("zone %s/IN: loaded serial 1", strings.TrimSuffix(zone, ".")), "OK"}) {
				t.Errorf("named-checkzone %s: exit %d, want OK and nothing else:\n%s%s", zone, code, out, errOut)
			}
		})
		t.Run("ldns-read-zone "+zone, func(t *testing.T) {
			// ldns reads the zone and prints it again; its text, read back one record at
			// a time, must give the same records.
			out, errOut, code := toolExec(t, 30*time.Second, ldns, file)
			if code != 0 {
				t.Fatalf("ldns-read-zone: exit %d\n%s%s", code, out, errOut)
			}
			printed, _ := toolParseZone(t, out)
			if g, w := toolStrings(printed), toolStrings(zoneRRs); !slices.Equal(g, w) {
				t.Errorf("ldns-read-zone printed\n %q\nthe zone holds\n %q", g, w)
			}
			// And with every type in the RFC 3597 form: ldns's own RDATA bytes.
			out, errOut, code = toolExec(t, 30*time.Second, ldns, "-U", "SOA", file)
			if code != 0 {
				t.Fatalf("ldns-read-zone -U SOA: exit %d\n%s%s", code, out, errOut)
			}
			var generic []toolRecord
			for line := range strings.Lines(out) {
				if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, ";") {
					continue
				}
				if strings.Contains(line, "\tSOA\t") {
					generic = append(generic, toolRecord{})
					continue
				}
				rr, err := integParseRR(line)
				if err != nil {
					t.Fatalf("ldns-read-zone -U SOA: %v", err)
				}
				generic = append(generic, toolRecord{strings.ToLower(rr.name), rr.typ, rr.ttl, rr.hex})
			}
			var want []toolRecord
			for _, r := range zoneRRs {
				if r.typ == dns.TypeSOA {
					r = toolRecord{}
				}
				want = append(want, r)
			}
			if g, w := toolStrings(generic), toolStrings(want); !slices.Equal(g, w) {
				t.Errorf("ldns-read-zone -U SOA printed\n %q\nthe zone holds\n %q", g, w)
			}
		})
	}

	// The export of the whole block is the zones' exports together.
	out, errOut, code := toolExec(t, 30*time.Second, cmd, "records", "-conf", conf, keys)
	if code != 0 {
		t.Fatalf("ipsecoe records: exit %d\n%s%s", code, out, errOut)
	}
	whole, _ := toolParseZone(t, out)
	if g, w := toolStrings(whole), toolStrings(all); !slices.Equal(g, w) {
		t.Errorf("the whole export\n %q\nthe zones' exports\n %q", g, w)
	}

	// Every RRset of the export is what the binary serves at that name and type.
	sets := map[string][]toolRecord{}
	var order []string
	for _, r := range all {
		if _, seen := sets[r.key()]; !seen {
			order = append(order, r.key())
		}
		sets[r.key()] = append(sets[r.key()], r)
	}
	for _, typ := range []uint16{dns.TypeIPSECKEY, TypeIPSECA} {
		if !slices.ContainsFunc(all, func(r toolRecord) bool { return r.typ == typ }) {
			t.Errorf("the export has no TYPE%d", typ)
		}
	}
	for _, k := range order {
		set := sets[k]
		name, qtype := set[0].name, fmt.Sprintf("TYPE%d", set[0].typ)
		a := srv.query(t, "tcp", name, qtype)
		var served, exported []string
		for _, rr := range a.sections["ANSWER"] {
			if rr.typ != set[0].typ || !strings.EqualFold(rr.name, name) || rr.ttl != set[0].ttl {
				t.Errorf("%s %s: answer record %s TYPE%d TTL %d, want the type asked and TTL %d", name, qtype, rr.name, rr.typ, rr.ttl, set[0].ttl)
			}
			served = append(served, rr.hex)
		}
		for _, r := range set {
			exported = append(exported, r.hex)
		}
		slices.Sort(served)
		slices.Sort(exported)
		if a.status != "NOERROR" || !a.flag("aa") || !slices.Equal(served, exported) {
			t.Errorf("%s %s: served %s %v\n %q\nexported\n %q", name, qtype, a.status, a.flags, served, exported)
		}
	}

	t.Logf("%d records in %d RRsets exported and served alike", len(all), len(order))

	// Every gateway prefix is a comment with the gateway's record, and an address inside
	// it without keys of its own is served exactly that record.
	if len(gateways) != 3 {
		t.Errorf("gateway comments for %d prefixes, want 3: %v", len(gateways), gateways)
	}
	for prefix, want := range gateways {
		p := netip.MustParsePrefix(prefix)
		b := p.Masked().Addr().AsSlice()
		b[len(b)-1] |= 0x77
		addr, _ := netip.AddrFromSlice(b)
		rev, err := dns.ReverseAddr(addr.String())
		if err != nil || !p.Contains(addr) {
			t.Fatalf("%s: no address inside: %v", prefix, err)
		}
		if _, own := sets[rev+" TYPE45"]; own {
			t.Fatalf("%s: %s has keys of its own", prefix, addr)
		}
		a := srv.query(t, "tcp", rev, "IPSECKEY")
		if got := integHexes(a.sections["ANSWER"], dns.TypeIPSECKEY); a.status != "NOERROR" || !slices.Equal(got, []string{want}) {
			t.Errorf("%s (in %s): served %s %q, the comment says %q", addr, prefix, a.status, got, want)
		}
	}
}

// toolAnchor is what ipsecoe anchor prints, taken apart.
type toolAnchor struct {
	note, ds, unbound, bind string
}

func toolParseAnchor(t *testing.T, out string) toolAnchor {
	t.Helper()
	var a toolAnchor
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); i++ {
		switch l := lines[i]; {
		case strings.HasPrefix(l, "; note: "):
			a.note = l
		case strings.Contains(l, " IN DS "):
			a.ds = l
		case strings.HasPrefix(l, "trust-anchor: "):
			a.unbound = l
		case l == "trust-anchors {":
			end := slices.Index(lines[i:], "};")
			if end < 0 {
				t.Fatalf("unterminated trust-anchors block:\n%s", out)
			}
			a.bind = strings.Join(lines[i:i+end+1], "\n") + "\n"
			i += end
		}
	}
	if a.ds == "" || a.unbound == "" || a.bind == "" {
		t.Fatalf("anchor output lacks a form:\n%s", out)
	}
	return a
}

// toolUnbound starts a validating unbound whose only trust anchor is the config line
// anchor (inline in unbound.conf), sending zone to the CoreDNS on corePort.
func toolUnbound(t *testing.T, tools valTools, corePort, anchor, zone string) string {
	t.Helper()
	dir := t.TempDir()
	port, _ := valStart(t, "unbound", func(port string) *exec.Cmd {
		var b strings.Builder
		b.WriteString("server:\n")
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
			"num-threads: 1",
			"do-not-query-localhost: no",
			`module-config: "validator iterator"`,
			anchor,
		} {
			fmt.Fprintf(&b, "    %s\n", l)
		}
		fmt.Fprintf(&b, "stub-zone:\n    name: %q\n    stub-addr: 127.0.0.1@%s\n", zone, corePort)
		conf := filepath.Join(dir, "unbound-"+port+".conf")
		writeFile(t, conf, []byte(b.String()))
		return exec.Command(tools.unbound, "-d", "-c", conf)
	}, func(port string) bool {
		return valProbe(tools.dig, port, "localhost.", "A", "NOERROR")
	})
	return port
}

func TestToolAnchor(t *testing.T) {
	t.Parallel()
	tools := valNeedTools(t)
	cmd := toolCommand(t)
	bin := integCoreDNS(t)
	keys := testKeyDir(t)
	kdir := t.TempDir()
	kskBase, ksk := valKeygen(t, tools.keygen, kdir, "example.com.", true)
	zskBase, _ := valKeygen(t, tools.keygen, kdir, "example.com.", false)
	_, other := valKeygen(t, tools.keygen, kdir, "example.com.", true) // signs nothing
	srv := integStart(t, bin, tools.dig, t.TempDir(), func(port string) string {
		return "example.com:" + port + " {\n    bind 127.0.0.1\n    dnssec {\n        key file " + kskBase + " " + zskBase +
			"\n    }\n    ipsecoe {\n        keys " + keys + "\n        reload 0\n    }\n}\n"
	})
	out, errOut, code := toolExec(t, 30*time.Second, cmd, "anchor", kskBase+".key")
	if code != 0 || errOut != "" {
		t.Fatalf("ipsecoe anchor: exit %d\n%s%s", code, out, errOut)
	}
	a := toolParseAnchor(t, out)
	if a.note != "" {
		t.Errorf("KSK: unexpected note %q", a.note)
	}
	gw := valCase{valFwd, "gw.example.com.", "IPSECKEY", []string{valB64Hex(t, "0a0004", keyB64(t, "keys/ed25519.pub.pem"))}}
	cases := []valCase{gw, {valFwd, "nope.example.com.", "IPSECKEY", nil}}

	t.Run("delv trust-anchors", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "anchor.conf")
		writeFile(t, file, []byte(a.bind))
		for i, c := range cases {
			out := valDelv(t, tools.delv, srv.port, file, c.zone, c.name, c.qtype)
			if err := valCheckDelv(t, c, out); err != nil {
				t.Errorf("Test %d: delv -a (anchor's block) %s: %v\n%s", i, c, err, out)
			}
		}
		// The control: the block of a key that signs nothing does not validate.
		wrong := strings.Replace(a.bind, ksk.PublicKey, other.PublicKey, 1)
		if wrong == a.bind {
			t.Fatalf("could not swap the key in\n%s", a.bind)
		}
		writeFile(t, file, []byte(wrong))
		if out := valDelv(t, tools.delv, srv.port, file, gw.zone, gw.name, gw.qtype); strings.Contains(out, "fully validated") {
			t.Errorf("delv validated with another key's anchor:\n%s", out)
		}
	})
	t.Run("unbound trust-anchor", func(t *testing.T) {
		ub := toolUnbound(t, tools, srv.port, a.unbound, valFwd)
		for i, c := range cases {
			r := valResolve(t, tools.dig, ub, c.name, c.qtype)
			if err := valCheckUnbound(t, c, r); err != nil {
				t.Errorf("Test %d: unbound with %q: %s: %v\n%s", i, a.unbound, c, err, r.raw)
			}
		}
	})
	t.Run("unbound DS file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "example.com.ds")
		writeFile(t, file, []byte(a.ds+"\n"))
		ub, _ := valUnbound(t, tools, srv.port, file, []string{valFwd})
		for i, c := range cases {
			r := valResolve(t, tools.dig, ub, c.name, c.qtype)
			if err := valCheckUnbound(t, c, r); err != nil {
				t.Errorf("Test %d: unbound with trust-anchor-file %q: %s: %v\n%s", i, a.ds, c, err, r.raw)
			}
		}
	})
	t.Run("ZSK note", func(t *testing.T) {
		out, _, code := toolExec(t, 30*time.Second, cmd, "anchor", zskBase+".key")
		want := "; note: " + zskBase + ".key is a ZSK (flags 256); the anchor is usually the KSK or CSK\n"
		if code != 0 || !strings.HasPrefix(out, want) {
			t.Errorf("anchor of the ZSK: exit %d, want the note first:\n%s", code, out)
		}
	})
}

// toolShowhostkey runs ipsec showhostkey on the NSS database nss.
func toolShowhostkey(t *testing.T, ipsec, nss string, args ...string) string {
	t.Helper()
	return toolMust(t, ipsec, append([]string{"showhostkey", "--nssdir", nss}, args...)...)
}

func TestToolLibreswan(t *testing.T) {
	t.Parallel()
	ipsec := needTool(t, "ipsec", "libreswan")
	dig := needTool(t, "dig", "bind9-dnsutils")
	cmd := toolCommand(t)
	bin := integCoreDNS(t)

	// Two host keys in a throwaway NSS database: RSA (the default, 3072 bits) and ECDSA.
	nss := t.TempDir()
	toolMust(t, ipsec, "initnss", "--nssdir", nss)
	for _, kt := range []string{"rsa", "ecdsa"} {
		toolMust(t, ipsec, "newhostkey", "--nssdir", nss, "--keytype", kt, "--seeddev", "/dev/urandom")
	}
	ckaid := map[string]string{}
	list := toolShowhostkey(t, ipsec, nss, "--list")
	for _, m := range regexp.MustCompile(`(?m)\b(RSA|ECDSA) keyid: \S+ ckaid: ([0-9a-f]+)`).FindAllStringSubmatch(list, -1) {
		ckaid[m[1]] = m[2]
	}
	if len(ckaid) != 2 {
		t.Fatalf("showhostkey --list: want an RSA and an ECDSA key:\n%s", list)
	}

	// The key directory: each key as a config line under one owner and as the record
	// Libreswan prints under another, with the names the file name rule reads.
	keys := t.TempDir()
	type owner struct {
		file, name, alg string
		record          string // --ipseckey output of the key
	}
	var owners []owner
	for _, k := range []struct {
		kind, side, cfgFile, cfgOwner, recFile, recOwner, alg string
	}{
		{"RSA", "--left", "198.18.0.2.pub", "2.0.18.198.in-addr.arpa.", "198.18.0.3.pem", "3.0.18.198.in-addr.arpa.", "rsa"},
		{"ECDSA", "--right", "east.example.com.pub", "east.example.com.", "198.18.0.4.pem", "4.0.18.198.in-addr.arpa.", "ecdsa-p256"},
	} {
		cfg := toolShowhostkey(t, ipsec, nss, k.side, "--ckaid", ckaid[k.kind])
		rec := toolShowhostkey(t, ipsec, nss, "--ipseckey", "--ckaid", ckaid[k.kind])
		if want := strings.TrimPrefix(k.side, "--") + strings.ToLower(map[string]string{"RSA": "rsasigkey=0s", "ECDSA": "ecdsakey=0s"}[k.kind]); !strings.Contains(cfg, want) {
			t.Fatalf("showhostkey %s: no %s line:\n%s", k.side, want, cfg)
		}
		writeFile(t, filepath.Join(keys, k.cfgFile), []byte(cfg))
		writeFile(t, filepath.Join(keys, k.recFile), []byte(rec))
		owners = append(owners, owner{k.cfgFile, k.cfgOwner, k.alg, rec}, owner{k.recFile, k.recOwner, k.alg, rec})
	}

	// check reads every file.
	out, errOut, code := toolExec(t, 30*time.Second, cmd, "check", keys)
	if code != 0 {
		t.Fatalf("ipsecoe check: exit %d\n%s%s", code, out, errOut)
	}
	for _, o := range owners {
		if want := fmt.Sprintf("ok      %s: %s at %s\n", o.file, o.alg, o.name); !strings.Contains(out, want) {
			t.Errorf("ipsecoe check: no line %q in\n%s", want, out)
		}
	}

	srv := integStart(t, bin, dig, t.TempDir(), func(port string) string {
		return fmt.Sprintf(".:%s {\n    bind 127.0.0.1\n    ipsecoe 0.18.198.in-addr.arpa example.com {\n        keys %s\n        reload 0\n    }\n}\n", port, keys)
	})
	for _, o := range owners {
		// Libreswan prints "HOST. IN IPSECKEY 10 0 ALG . KEY": precedence 10, no gateway,
		// the plugin's defaults for a host key.
		lines := strings.Split(strings.TrimSpace(o.record), "\n")
		if len(lines) != 1 {
			t.Fatalf("showhostkey --ipseckey printed %d lines:\n%s", len(lines), o.record)
		}
		rr := toolRR(t, lines[0])
		if _, ok := rr.(*dns.IPSECKEY); !ok {
			t.Fatalf("showhostkey --ipseckey printed %s", rr)
		}
		want := toolRdata(t, rr)
		a := srv.query(t, "tcp", o.name, "IPSECKEY")
		if got := integHexes(a.sections["ANSWER"], dns.TypeIPSECKEY); a.status != "NOERROR" || !slices.Equal(got, []string{want}) {
			t.Errorf("%s (%s) IPSECKEY: served %s\n %q\nLibreswan's record\n %q", o.name, o.file, a.status, got, want)
		}
	}
}
