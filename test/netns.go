package test

// The pieces of the tests that run IPsec peers: a small network of network namespaces,
// long-running programs with their output in a file, a DNS server asked from its
// namespace, and regular expressions the logs must match.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a long-running program the test started, its output in a file.
type Proc struct {
	Log string // its standard output and standard error

	what string
	cmd  *exec.Cmd
	done chan struct{}
}

// Exited reports whether the program has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Spawn starts prog with its output in the file log, env ("NAME=value") added to its
// environment and ToolPath as its PATH, and stops it by its PID when the test ends:
// SIGTERM, then SIGKILL. what names it in messages. A program started through ip netns
// exec, unshare and sh -c 'exec ...' keeps the PID, as each execs the next.
func Spawn(t testing.TB, what, log string, env []string, prog string, args ...string) *Proc {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prog, args...)
	cmd.Env = toolEnv(env)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", what, err)
	}
	p := &Proc{Log: log, what: what, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			if p.Exited() {
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

// Host is one end of a Bridge: a network namespace with one address.
type Host struct {
	Name  string // short: the bridge's end of its veth pair is "to"+Name
	Netns string
	Addr  string // IPv4, inside the hub's /24
}

// Bridge makes a network of network namespaces with ip: the hub namespace holds a bridge
// with hubAddr/24, and each host a veth pair whose other end is plugged into the bridge,
// with its address and, if route, a default route through hubAddr. IPv6 is off, so that
// nothing else talks. The namespaces are deleted when the test ends.
func Bridge(t testing.TB, ip, hub, hubAddr string, route bool, hosts ...Host) {
	t.Helper()
	names := []string{hub}
	for _, h := range hosts {
		names = append(names, h.Netns)
	}
	for _, ns := range names {
		Must(t, ip, "netns", "add", ns)
		t.Cleanup(func() {
			if r := Run(t, 30*time.Second, ip, "netns", "delete", ns); r.Code != 0 {
				t.Errorf("ip netns delete %s: %s", ns, r)
			}
		})
		if r := Run(t, 30*time.Second, ip, "netns", "exec", ns, "/bin/sh", "-c",
			"echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"); r.Code != 0 {
			t.Logf("%s: IPv6 stays on: exit %d %s", ns, r.Code, r.Stderr)
		}
		Must(t, ip, "-n", ns, "link", "set", "lo", "up")
	}
	Must(t, ip, "-n", hub, "link", "add", "br0", "type", "bridge")
	Must(t, ip, "-n", hub, "addr", "add", hubAddr+"/24", "dev", "br0")
	Must(t, ip, "-n", hub, "link", "set", "br0", "up")
	for _, h := range hosts {
		port := "to" + h.Name
		Must(t, ip, "-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.Netns)
		Must(t, ip, "-n", hub, "link", "set", port, "master", "br0", "up")
		Must(t, ip, "-n", h.Netns, "addr", "add", h.Addr+"/24", "dev", "eth0")
		Must(t, ip, "-n", h.Netns, "link", "set", "eth0", "up")
		if route {
			Must(t, ip, "-n", h.Netns, "route", "add", "default", "via", hubAddr)
		}
	}
}

// KernelESP tells whether the kernel can install an ESP SA with AES-GCM-16 and a key of
// keyBits, the first proposal of an IKE daemon, by adding one from src to dst by hand in
// netns and deleting it again; it says how that went.
func KernelESP(t testing.TB, ip, netns, src, dst string, keyBits int) (bool, string) {
	t.Helper()
	sa := []string{"-n", netns, "xfrm", "state"}
	id := []string{"src", src, "dst", dst, "proto", "esp", "spi", "0x00000100"}
	args := append(append(append([]string{}, sa...), "add"), id...)
	key := "0x" + strings.Repeat("00", keyBits/8+4) // the key, then the 4-octet salt
	args = append(args, "mode", "tunnel", "aead", "rfc4106(gcm(aes))", key, "128")
	if r := Run(t, 30*time.Second, ip, args...); r.Code != 0 {
		return false, strings.TrimSpace("ip xfrm state add ... proto esp ... rfc4106(gcm(aes)): " + r.Stdout + r.Stderr)
	}
	Must(t, ip, append(append(sa, "delete"), id...)...)
	return true, "ip xfrm state add of an ESP SA works"
}

// NetnsDig runs dig in netns against server, without recursion, with args.
func NetnsDig(t testing.TB, ip, dig, netns, server string, args ...string) Result {
	t.Helper()
	return Run(t, 10*time.Second, ip, append([]string{"netns", "exec", netns, dig, "@" + server, "+norec"}, args...)...)
}

// WaitZone waits up to 15 seconds until the DNS server p, on server in netns, answers the
// SOA of zone; it fails the test with the server's output if p exits or does not answer.
func WaitZone(t testing.TB, ip, dig, netns, server, zone string, p *Proc) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if p.Exited() {
			t.Fatalf("%s exited:\n%s", p.what, ReadLog(p.Log))
		}
		out := NetnsDig(t, ip, dig, netns, server, "+time=1", "+tries=1", zone, "SOA").Stdout
		if strings.Contains(out, "status: NOERROR") && strings.Contains(out, "ANSWER: 1") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s does not answer for %s:\n%s", p.what, zone, ReadLog(p.Log))
}

// ServedHostKey asks the DNS server on server in netns for the IPSECKEY at name and returns
// the key of its "10 0 2 ." record (a host's own: precedence 10, no gateway, RSA), and
// whether an RRSIG came with it. No such record, or two, fails the test.
func ServedHostKey(t testing.TB, ip, dig, netns, server, name string) (string, bool) {
	t.Helper()
	r := NetnsDig(t, ip, dig, netns, server, "+dnssec", "+time=2", "+tries=2", "+short", name, "IPSECKEY")
	if r.Code != 0 {
		t.Fatalf("dig %s IPSECKEY: %s", name, r)
	}
	key, signed := "", false
	for line := range strings.Lines(r.Stdout) {
		f := strings.Fields(line)
		switch {
		case len(f) > 4 && strings.Join(f[:4], " ") == "10 0 2 .":
			if key != "" {
				t.Fatalf("more than one IPSECKEY at %s:\n%s", name, r.Stdout)
			}
			key = strings.Join(f[4:], "")
		case len(f) > 0 && f[0] == "IPSECKEY":
			signed = true
		}
	}
	if key == "" {
		t.Fatalf("no IPSECKEY 10 0 2 at %s:\n%s", name, r.Stdout)
	}
	return key, signed
}

// ReadLog returns the content of a log file so far ("" if there is none yet).
func ReadLog(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// Excerpt returns the lines of a log that keep keeps, at most 400 of them and 400 bytes
// of each, for a test's failure message.
func Excerpt(path string, keep func(line string) bool) string {
	var b strings.Builder
	n := 0
	for line := range strings.Lines(ReadLog(path)) {
		if !keep(line) {
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

// LogCheck is a regular expression that one of a test's logs must match, or must not.
type LogCheck struct {
	Where string // the log's name
	RE    string
}

// CheckLogs waits up to timeout until every check of want matches its log (logs: name ->
// file), failing the test for each that does not, then fails it for each check of never
// that matches.
func CheckLogs(t testing.TB, logs map[string]string, want, never []LogCheck, timeout time.Duration) {
	t.Helper()
	for _, c := range waitLogs(logs, want, timeout) {
		t.Errorf("%s's log lacks /%s/", c.Where, c.RE)
	}
	for _, c := range never {
		if m := regexp.MustCompile(c.RE).FindString(ReadLog(logs[c.Where])); m != "" {
			t.Errorf("%s's log has %q, which must not happen here", c.Where, m)
		}
	}
}

// waitLogs polls the logs until every check matches, or the timeout; it returns the checks
// that never matched.
func waitLogs(logs map[string]string, checks []LogCheck, timeout time.Duration) []LogCheck {
	res := make([]*regexp.Regexp, len(checks))
	for i, c := range checks {
		res[i] = regexp.MustCompile(c.RE)
	}
	deadline := time.Now().Add(timeout)
	for {
		var missing []LogCheck
		text := map[string]string{}
		for w, p := range logs {
			text[w] = ReadLog(p)
		}
		for i, c := range checks {
			if !res[i].MatchString(text[c.Where]) {
				missing = append(missing, c)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// QuoteChecks returns the first line each check matched, cut at 300 bytes, one a line
// after the name of its log.
func QuoteChecks(logs map[string]string, checks []LogCheck) string {
	var b strings.Builder
	for _, c := range checks {
		text := ReadLog(logs[c.Where])
		loc := regexp.MustCompile(c.RE).FindStringIndex(text)
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
		fmt.Fprintf(&b, "%s: %s\n", c.Where, line)
	}
	return b.String()
}

// Or returns s, or alt if s is empty.
func Or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
