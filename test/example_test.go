package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExample runs examples/Corefile, as shipped, in the real binary (only its port and
// the key directory's path are changed) and checks that it answers for its reverse zone,
// its IPv6 prefix and its forward zone, and that every example key loads.
func TestExample(t *testing.T) {
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	conf := ReadFile(t, "examples", "Corefile")
	keys := Repo("examples", "keys")
	for _, want := range []string{".:15353 {", "keys examples/keys", "bind 127.0.0.1 ::1"} {
		if !strings.Contains(string(conf), want) {
			t.Fatalf("examples/Corefile no longer has %q", want)
		}
	}
	s := StartCoreDNS(t, t.TempDir(), func(port string) string {
		c := strings.Replace(string(conf), ".:15353 {", ".:"+port+" {", 1)
		c = strings.Replace(c, "keys examples/keys", "keys "+keys, 1)
		return strings.Replace(c, "bind 127.0.0.1 ::1", "bind 127.0.0.1", 1)
	})
	d := NewDig(dig, s.Port)

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
		a := d.Query(t, "udp", tc.name, tc.qtype)
		ans := a.Sections["ANSWER"]
		if a.Status != "NOERROR" || !a.Flag("aa") || len(ans) != tc.n {
			t.Errorf("Test %d: %s %s: %s, %d answers\n%s", i, tc.name, tc.qtype, a.Status, len(ans), a.Raw)
			continue
		}
		if want := Type(t, tc.qtype); ans[0].Type != want || !strings.HasPrefix(ans[0].Hex, tc.prefix) {
			t.Errorf("Test %d: %s: type %d rdata %s, want type %d starting %s", i, tc.name, ans[0].Type, ans[0].Hex, want, tc.prefix)
		}
	}
	if strings.Contains(s.Log.String(), "[ERROR]") {
		t.Errorf("the example keys do not all load:\n%s", s.Log.String())
	}
}

// TestBadCorefileRefused checks that the real binary refuses to start on a bad option,
// naming the Corefile line, rather than serving half-configured.
func TestBadCorefileRefused(t *testing.T) {
	bin := CoreDNS(t)
	dir := t.TempDir()
	tests := []struct{ conf, want string }{
		{".:0 {\n  ipsecoe example.com {\n    keys " + dir + "\n    ttl 7200\n  }\n}\n", "Corefile:4 - Error during parsing: ttl must be in range [1, 3600]"},
		{".:0 {\n  ipsecoe example.com {\n    ttl 60\n  }\n}\n", "keys DIR is required"},
		{".:0 {\n  ipsecoe example.com {\n    keys " + dir + "\n    gateway 10.1.0.1/16 192.0.2.1\n  }\n}\n", "Corefile:4 - Error during parsing: gateway prefix \"10.1.0.1/16\" has host bits set"},
		{".:0 {\n  ipsecoe example.com {\n    keys " + dir + "\n    colour blue\n  }\n}\n", "unknown property 'colour'"},
		{".:0 {\n  ipsecoe example.com {\n    keys " + dir + "\n    keys " + dir + "\n  }\n}\n", "Corefile:4 - Error during parsing: keys given twice (first on line 3)"},
		{".:0 {\n  ipsecoe example.com {\n    keys " + dir + "\n    ttl 60\n    ttl 600\n  }\n}\n", "Corefile:5 - Error during parsing: ttl given twice (first on line 4)"},
		{".:0 {\n  ipsecoe example.com {\n    keys " + dir + "\n    gateway 10.1.0.0/16 192.0.2.1\n  }\n}\n", "Corefile:4 - Error during parsing: gateway prefix 10.1.0.0/16 is outside the zones [example.com.]"},
		{".:0 {\n  ipsecoe example.com {\n    keys " + dir + "\n    fallthrough example.net\n  }\n}\n", "Corefile:4 - Error during parsing: fallthrough zone \"example.net\" is outside the zones [example.com.]"},
		{".:0 {\n  bind 127.0.0.1\n  cache 30\n  ipsecoe example.com {\n    keys " + dir + "\n    allow 127.0.0.1\n  }\n}\n", "Corefile:6 - allow cannot be used with cache in the same server block"},
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
