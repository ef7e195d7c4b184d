package test

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAppVersion checks what the binary says it is: the CoreDNS version it was built with
// and the ipsecoe version, "dev" unless -ldflags "-X main.version=..." stamps another. The
// CoreDNS packages set the version too, at start-up, so only the running binary shows which
// setting wins.
func TestAppVersion(t *testing.T) {
	m := regexp.MustCompile(`(?m)^\s+github\.com/coredns/coredns v(\S+)$`).FindSubmatch(ReadFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod requires no github.com/coredns/coredns version")
	}
	core := string(m[1])
	const stamp = "9.8.7-test"
	tests := []struct {
		bin, want string
	}{
		{CoreDNS(t), "CoreDNS-" + core + "+ipsecoe-dev"},
		{Build(t, "cmd/coredns", "-ldflags=-X main.version="+stamp), "CoreDNS-" + core + "+ipsecoe-" + stamp},
	}
	for i, tc := range tests {
		out := Exec(t, 20*time.Second, tc.bin, "-version")
		if first, _, _ := strings.Cut(out, "\n"); first != tc.want {
			t.Errorf("Test %d: coredns -version says %q first, want %q\n%s", i, first, tc.want, out)
		}
	}
}
