package test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Keygen makes an ECDSA P-256 key for zone in dir (made if need be) with dnssec-keygen (a
// KSK if ksk) and returns its base path, for the dnssec plugin's "key file", and its DNSKEY.
func Keygen(t testing.TB, keygen, dir, zone string, ksk bool) (string, *dns.DNSKEY) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"-q", "-K", dir, "-a", "ECDSAP256SHA256"}
	if ksk {
		args = append(args, "-f", "KSK")
	}
	out := Exec(t, 30*time.Second, keygen, append(args, zone)...)
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

// WriteAnchors writes trust anchors for delv (BIND's trust-anchors clause) and for unbound
// (DNSKEY records) into dir and returns the two paths.
func WriteAnchors(t testing.TB, dir, name string, anchors []*dns.DNSKEY) (delvFile, unboundFile string) {
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
	WriteFile(t, delvFile, []byte(b.String()))
	WriteFile(t, unboundFile, []byte(u.String()))
	return delvFile, unboundFile
}

// StartUnbound starts a validating unbound in the foreground that sends each of zones to
// the CoreDNS on corePort, with aggressive NSEC (RFC 8198) on. anchor is the unbound.conf
// line that gives its trust anchor, e.g. `trust-anchor-file: "FILE"`.
func StartUnbound(t testing.TB, unbound, corePort, anchor string, zones []string) *Server {
	t.Helper()
	dir := t.TempDir()
	return Start(t, 10*time.Second, func(port string) *exec.Cmd {
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
			"val-log-level: 2",
			"num-threads: 1",
			"do-not-query-localhost: no",
			`module-config: "validator iterator"`,
			"aggressive-nsec: yes",
			anchor,
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
		WriteFile(t, conf, []byte(b.String()))
		return exec.Command(unbound, "-d", "-c", conf)
	}, func(port string) bool {
		// localhost is unbound's own local zone: no query reaches CoreDNS, nothing is cached.
		return Answers(port, "localhost.", dns.TypeA, dns.RcodeSuccess)
	})
}

// Delv validates name/qtype with delv, which asks the server on port for everything, with
// the key for zone in anchorFile as its only trust anchor, and returns its output.
func Delv(t testing.TB, delv, port, anchorFile, zone, name, qtype string) string {
	t.Helper()
	return Exec(t, 30*time.Second, delv, "@127.0.0.1", "-p", port, "-a", anchorFile,
		"+root="+strings.TrimSuffix(zone, "."), "+unknownformat", name, qtype)
}

// Case is one question for a validator: in Zone, Name/Qtype. RData holds, for a positive
// answer, one hex prefix per record of Qtype (matched with ASCII case folding, for names
// inside the RDATA); it is nil for a denial.
type Case struct {
	Zone, Name, Qtype string
	RData             []string
}

func (c Case) String() string { return c.Name + " " + c.Qtype }

// Type returns the number of a type given by name or as TYPEnnn.
func Type(t testing.TB, qtype string) uint16 {
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

// foldPrefix reports whether got starts with want, ASCII letters compared without case.
func foldPrefix(got, want []byte) bool {
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

// CheckRecords checks that rrs hold exactly the records c expects, and an RRSIG over them.
func CheckRecords(t testing.TB, c Case, rrs []RR) error {
	t.Helper()
	typ := Type(t, c.Qtype)
	var got [][]byte
	signed := false
	for _, rr := range rrs {
		b, err := hex.DecodeString(rr.Hex)
		if err != nil {
			return err
		}
		switch {
		case rr.Type == typ:
			got = append(got, b)
		case rr.Type == dns.TypeRRSIG && len(b) >= 2 && uint16(b[0])<<8|uint16(b[1]) == typ:
			signed = true
		}
	}
	if len(got) != len(c.RData) {
		return fmt.Errorf("%d records of type %s, want %d", len(got), c.Qtype, len(c.RData))
	}
	used := make([]bool, len(got))
	for _, p := range c.RData {
		want, err := hex.DecodeString(p)
		if err != nil {
			t.Fatalf("bad prefix %q", p)
		}
		found := false
		for i, g := range got {
			if !used[i] && foldPrefix(g, want) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return fmt.Errorf("no record starting with %s", p)
		}
	}
	if !signed {
		return fmt.Errorf("no RRSIG over %s", c.Qtype)
	}
	return nil
}

// CheckUnbound checks unbound's validated answer to c.
func CheckUnbound(t testing.TB, c Case, a *Answer) error {
	t.Helper()
	if !a.Flag("ad") {
		return fmt.Errorf("no ad flag (status %s, flags %v)", a.Status, a.Flags)
	}
	if c.RData == nil {
		// dnssec's black lies make NXDOMAIN a NODATA when DO is set.
		if a.Status != "NOERROR" || len(a.Sections["ANSWER"]) != 0 {
			return fmt.Errorf("status %s with %d answers, want a NODATA", a.Status, len(a.Sections["ANSWER"]))
		}
		return nil
	}
	if a.Status != "NOERROR" {
		return fmt.Errorf("status %s, want NOERROR", a.Status)
	}
	return CheckRecords(t, c, a.Sections["ANSWER"])
}

// CheckDelv checks delv's output for c: fully validated, and the records.
func CheckDelv(t testing.TB, c Case, out string) error {
	t.Helper()
	if c.RData == nil {
		if !strings.Contains(out, "; negative response, fully validated") {
			return errors.New("not a fully validated negative response")
		}
		return nil
	}
	if !strings.Contains(out, "; fully validated") || strings.Contains(out, "negative response") {
		return errors.New("not a fully validated answer")
	}
	rrs, err := ParseRecords(out)
	if err != nil {
		return err
	}
	return CheckRecords(t, c, rrs)
}
