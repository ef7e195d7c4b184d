package ipsecoe

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestExample runs examples/Corefile, as shipped, in the real binary (only its port and
// the key directory's path are changed) and checks that it answers for its reverse zone,
// its IPv6 prefix and its forward zone, and that every example key loads.
func TestExample(t *testing.T) {
	dig := needTool(t, "dig", "bind9-dnsutils")
	bin := integCoreDNS(t)
	conf, err := os.ReadFile(filepath.Join("examples", "Corefile"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := filepath.Abs(filepath.Join("examples", "keys"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".:15353 {", "keys examples/keys", "bind 127.0.0.1 ::1"} {
		if !strings.Contains(string(conf), want) {
			t.Fatalf("examples/Corefile no longer has %q", want)
		}
	}
	s := integStart(t, bin, dig, t.TempDir(), func(port string) string {
		c := strings.Replace(string(conf), ".:15353 {", ".:"+port+" {", 1)
		c = strings.Replace(c, "keys examples/keys", "keys "+keys, 1)
		return strings.Replace(c, "bind 127.0.0.1 ::1", "bind 127.0.0.1", 1)
	})

	tests := []struct {
		name, qtype string
		n           int
		prefix      string // hex of the RDATA's first bytes: precedence, gateway type, algorithm
	}{
		{"1.2.0.192.in-addr.arpa.", "IPSECKEY", 1, "0a0002"},
		{"10.2.0.192.in-addr.arpa.", "IPSECKEY", 1, "0a0003"},
		{"200.2.0.192.in-addr.arpa.", "IPSECKEY", 1, "140102c0000201"},
		{"0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "IPSECKEY", 1, "0a0004"},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "IPSECKEY", 1, "14030302677707"},
		{"gw.example.com.", "IPSECKEY", 1, "0a0003"},
		{"_4500.gw.example.com.", "TYPE65347", 1, "030101"},
		{"_500.1.2.0.192.in-addr.arpa.", "TYPE65347", 1, "030101"},
	}
	for i, tc := range tests {
		a := s.query(t, "udp", tc.name, tc.qtype)
		ans := a.sections["ANSWER"]
		if a.status != "NOERROR" || !a.flag("aa") || len(ans) != tc.n {
			t.Errorf("Test %d: %s %s: %s, %d answers\n%s", i, tc.name, tc.qtype, a.status, len(ans), a.raw)
			continue
		}
		if want, _ := dns.StringToType[strings.Replace(tc.qtype, "TYPE65347", "IPSECA", 1)]; ans[0].typ != want || !strings.HasPrefix(ans[0].hex, tc.prefix) {
			t.Errorf("Test %d: %s: type %d rdata %s, want type %d starting %s", i, tc.name, ans[0].typ, ans[0].hex, want, tc.prefix)
		}
	}
	if strings.Contains(s.log.String(), "[ERROR]") {
		t.Errorf("the example keys do not all load:\n%s", s.log.String())
	}
}

// TestBadCorefileRefused checks that the real binary refuses to start on a bad option,
// naming the Corefile line, rather than serving half-configured.
func TestBadCorefileRefused(t *testing.T) {
	bin := integCoreDNS(t)
	dir := t.TempDir()
	tests := []struct{ conf, want string }{
		{".:0 {\n  ipsecoe example.com {\n    keys " + dir + "\n    ttl 7200\n  }\n}\n", "Corefile:4 - Error during parsing: ttl must be in range [1, 3600]"},
		{".:0 {\n  ipsecoe example.com {\n    ttl 60\n  }\n}\n", "keys DIR is required"},
		{".:0 {\n  ipsecoe example.com {\n    keys " + dir + "\n    gateway 10.1.0.1/16 192.0.2.1\n  }\n}\n", "Corefile:4 - Error during parsing: gateway prefix \"10.1.0.1/16\" has host bits set"},
		{".:0 {\n  ipsecoe example.com {\n    keys " + dir + "\n    colour blue\n  }\n}\n", "unknown property 'colour'"},
	}
	for i, tc := range tests {
		conf := filepath.Join(dir, "Corefile")
		if err := os.WriteFile(conf, []byte(tc.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, bin, "-conf", conf).CombinedOutput()
		cancel()
		if err == nil {
			t.Errorf("Test %d: coredns started on a bad Corefile", i)
		}
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "plugin/ipsecoe") {
			t.Errorf("Test %d: output does not say %q:\n%s", i, tc.want, out)
		}
	}
}
