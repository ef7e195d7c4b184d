package test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Secondaries are Knot DNS and BIND run as secondaries of the CoreDNS binary: each in the
// foreground on a port of 127.0.0.1 chosen before the binary starts (its transfer block
// names them), with its configuration, run-time and zone files in a directory of its own,
// its refresh and retry timers a day long so that only NOTIFY makes it fetch a change.

// SecondaryTimer is the refresh and retry interval the secondaries are held to: long past
// any test, so that a change they serve came through NOTIFY.
const SecondaryTimer = 24 * time.Hour

// NeedDaemon returns the path of the program tool, looked for on the PATH and then in
// /usr/sbin, where Debian installs daemons (often not on a user's PATH); otherwise as
// NeedTool.
func NeedDaemon(t testing.TB, tool, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	sbin := filepath.Join("/usr/sbin", tool)
	if fi, err := os.Stat(sbin); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return sbin
	}
	return NeedTool(t, tool, pkg)
}

// KnotConf is a knot.conf for a secondary of zones that listens on 127.0.0.1@port,
// transfers from primary (HOST:PORT), takes NOTIFY from the primary's address only and
// keeps everything it writes in dir. With sign, it signs the zones itself with keys of its
// own (ECDSA P-256, NSEC).
func KnotConf(dir, port, primary string, zones []string, sign bool) string {
	host, pport := splitHostPort(primary)
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n    rundir: %q\n    listen: %s@%s\n\n", dir, "127.0.0.1", port)
	b.WriteString("log:\n  - target: stderr\n    any: info\n\n")
	fmt.Fprintf(&b, "database:\n    storage: %q\n\n", dir)
	fmt.Fprintf(&b, "remote:\n  - id: primary\n    address: %s@%s\n\n", host, pport)
	fmt.Fprintf(&b, "acl:\n  - id: notify-from-primary\n    address: %s\n    action: notify\n\n", host)
	if sign {
		b.WriteString("policy:\n  - id: ecdsa\n    algorithm: ecdsap256sha256\n    nsec3: off\n\n")
	}
	secs := int(SecondaryTimer.Seconds())
	fmt.Fprintf(&b, "template:\n  - id: default\n    storage: %q\n    master: primary\n    acl: notify-from-primary\n"+
		"    refresh-min-interval: %d\n    retry-min-interval: %d\n", dir, secs, secs)
	if sign {
		b.WriteString("    dnssec-signing: on\n    dnssec-policy: ecdsa\n")
	}
	b.WriteString("\n")
	b.WriteString("zone:\n")
	for _, z := range zones {
		fmt.Fprintf(&b, "  - domain: %s\n", dns.Fqdn(z))
	}
	return b.String()
}

// NamedConf is a named.conf for a secondary of zones that listens on 127.0.0.1 port port,
// transfers from primary (HOST:PORT), takes NOTIFY from the primary's address only, sends
// none itself, answers no recursive query and keeps everything it writes in dir. With
// sign, it signs the zones itself (inline signing, the default DNSSEC policy).
func NamedConf(dir, port, primary string, zones []string, sign bool) string {
	host, pport := splitHostPort(primary)
	secs := int(SecondaryTimer.Seconds())
	var b strings.Builder
	b.WriteString("options {\n")
	for _, l := range []string{
		fmt.Sprintf("directory %q", dir),
		fmt.Sprintf("pid-file %q", filepath.Join(dir, "named.pid")),
		fmt.Sprintf("session-keyfile %q", filepath.Join(dir, "session.key")),
		fmt.Sprintf("managed-keys-directory %q", dir),
		fmt.Sprintf("listen-on port %s { 127.0.0.1; }", port),
		"listen-on-v6 { none; }",
		"recursion no",
		"dnssec-validation no",
		"notify no",
		fmt.Sprintf("min-refresh-time %d", secs),
		fmt.Sprintf("max-refresh-time %d", secs),
		fmt.Sprintf("min-retry-time %d", secs),
		fmt.Sprintf("max-retry-time %d", secs),
	} {
		fmt.Fprintf(&b, "    %s;\n", l)
	}
	b.WriteString("};\n\ncontrols { };\n")
	for _, z := range zones {
		z = strings.TrimSuffix(dns.Fqdn(z), ".")
		fmt.Fprintf(&b, "\nzone %q {\n    type secondary;\n    primaries { %s port %s; };\n    allow-notify { %s; };\n    file %q;\n",
			z, host, pport, host, z+".db")
		if sign {
			b.WriteString("    dnssec-policy default;\n    inline-signing yes;\n")
		}
		b.WriteString("};\n")
	}
	return b.String()
}

func splitHostPort(addr string) (host, port string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		panic("test: not HOST:PORT: " + addr)
	}
	return host, port
}

// secondaryStart is how long a secondary may take to serve its zones: it starts in well
// under a second and transfers a few records.
const secondaryStart = 15 * time.Second

// StartKnot runs knotd as a secondary of zones from primary on port of 127.0.0.1 (signing
// them, with sign) and waits until it serves every zone.
func StartKnot(t testing.TB, knotd, port, primary string, zones []string, sign bool) *Server {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "knot.conf")
	WriteFile(t, conf, []byte(KnotConf(dir, port, primary, zones, sign)))
	return StartOn(t, port, secondaryStart, exec.Command(knotd, "-c", conf), zones)
}

// StartNamed runs named as a secondary of zones from primary on port of 127.0.0.1 (signing
// them, with sign) and waits until it serves every zone.
func StartNamed(t testing.TB, named, port, primary string, zones []string, sign bool) *Server {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "named.conf")
	WriteFile(t, conf, []byte(NamedConf(dir, port, primary, zones, sign)))
	// -g: in the foreground, logging to standard error; -4: no IPv6 socket at all.
	return StartOn(t, port, secondaryStart, exec.Command(named, "-g", "-4", "-c", conf), zones)
}

// StartOn runs cmd, a server told to listen on port of 127.0.0.1 (a port the test had to
// name before the server starts, so that Start's retries on other ports cannot help), and
// waits up to wait until it answers the SOA of every zone. At the end of the test the
// process gets SIGTERM, then SIGKILL five seconds later, by its own PID; if the test
// failed, its output is logged.
func StartOn(t testing.TB, port string, wait time.Duration, cmd *exec.Cmd, zones []string) *Server {
	t.Helper()
	s := &Server{Port: port, Log: &Log{}, cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	go func() { cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			s.kill(t)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), s.Log.String())
		}
	})
	ready := func(port string) bool {
		for _, z := range zones {
			if !Answers(port, dns.Fqdn(z), dns.TypeSOA, dns.RcodeSuccess) {
				return false
			}
		}
		return true
	}
	if !s.waitReady(wait, ready) {
		t.Fatalf("%s on port %s did not serve %v within %v", filepath.Base(cmd.Path), port, zones, wait)
	}
	return s
}

// SOASerial asks the server at addr for the SOA of zone over UDP and returns its serial.
func SOASerial(addr, zone string) (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	m.RecursionDesired = false
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return 0, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return 0, fmt.Errorf("SOA %s: %s", zone, dns.RcodeToString[r.Rcode])
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("SOA %s: no SOA in the answer", zone)
}

// SerialAfter reports whether serial a follows b in RFC 1982 serial arithmetic.
func SerialAfter(a, b uint32) bool { return a != b && int32(a-b) > 0 }

var (
	knotNotify  = regexp.MustCompile(`\[([^\]]+)\] notify, incoming, remote `)
	namedNotify = regexp.MustCompile(`received notify for zone '([^']+)'`)
)

// Notifies counts the NOTIFY messages for zone that a Knot or BIND secondary logged.
func Notifies(log, zone string) int {
	zone = strings.ToLower(dns.Fqdn(zone))
	n := 0
	for _, re := range []*regexp.Regexp{knotNotify, namedNotify} {
		for _, m := range re.FindAllStringSubmatch(log, -1) {
			if strings.ToLower(dns.Fqdn(m[1])) == zone {
				n++
			}
		}
	}
	return n
}
