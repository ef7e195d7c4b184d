package test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// anchorParts are the forms ipsecoe anchor prints.
type anchorParts struct {
	note, ds, unbound, bind, dnskey string
}

// parseAnchor takes the output of ipsecoe anchor apart; a line of no form fails the test.
func parseAnchor(t *testing.T, out string) anchorParts {
	t.Helper()
	var p anchorParts
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "; note: "):
			p.note = l
		case strings.Contains(l, " IN DS "):
			p.ds = l
		case strings.HasPrefix(l, "trust-anchor: "):
			p.unbound = l
		case l == "trust-anchors {":
			end := slices.Index(lines[i:], "};")
			if end < 0 {
				t.Fatalf("unterminated trust-anchors block:\n%s", out)
			}
			p.bind = strings.Join(lines[i:i+end+1], "\n") + "\n"
			i += end
		case strings.Contains(l, " IN DNSKEY "):
			p.dnskey = l
		case l == "" || strings.HasPrefix(l, ";"):
		default:
			t.Errorf("unexpected anchor line %q", l)
		}
	}
	if p.ds == "" || p.unbound == "" || p.bind == "" || p.dnskey == "" {
		t.Fatalf("anchor output lacks a form:\n%s", out)
	}
	return p
}

// TestAnchor checks the anchors of a KSK and a ZSK made by dnssec-keygen: the DS is
// dnssec-dsfromkey's, the DNSKEY line, unbound's trust-anchor and BIND's trust-anchors block
// all hold the key, a ZSK gets a note first, and a private key file is refused.
func TestAnchor(t *testing.T) {
	keygen := NeedTool(t, "dnssec-keygen", "bind9-utils")
	dsfromkey := NeedTool(t, "dnssec-dsfromkey", "bind9-utils")
	cmd := Command(t)
	dir := t.TempDir()
	for _, ksk := range []bool{true, false} {
		base, key := Keygen(t, keygen, dir, "example.com", ksk)
		file := base + ".key"
		r := Run(t, 30*time.Second, cmd, "anchor", file)
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("anchor %s: want exit 0\n%s", file, r)
		}
		p := parseAnchor(t, r.Stdout)
		if ksk && p.note != "" {
			t.Errorf("KSK: unexpected note %q", p.note)
		}
		if !ksk && (p.note != "; note: "+file+" is a ZSK (flags 256); the anchor is usually the KSK or CSK" || !strings.HasPrefix(r.Stdout, p.note+"\n")) {
			t.Errorf("ZSK: note %q, want it first", p.note)
		}
		// The DS is dnssec-dsfromkey's, digest SHA-256.
		if want := strings.Fields(Must(t, dsfromkey, "-2", file)); !slices.Equal(strings.Fields(p.ds), want) {
			t.Errorf("DS %q, dnssec-dsfromkey -2 says %q", p.ds, want)
		}
		// The DNSKEY line, the unbound trust-anchor and the BIND block all hold the key.
		if got := NewRR(t, p.dnskey); !dns.IsDuplicate(got, key) {
			t.Errorf("DNSKEY line %q, key file %s", p.dnskey, key)
		}
		inner, ok := strings.CutPrefix(p.unbound, "trust-anchor: ")
		if !ok || !strings.HasPrefix(inner, `"`) || !strings.HasSuffix(inner, `"`) || strings.Count(inner, `"`) != 2 {
			t.Errorf("unbound line %q", p.unbound)
		} else if got := NewRR(t, strings.Trim(inner, `"`)); !dns.IsDuplicate(got, key) {
			t.Errorf("unbound trust-anchor %q is not the key %s", p.unbound, key)
		}
		wantBind := fmt.Sprintf("trust-anchors {\n\t%q static-key %d 3 13 %q;\n};\n", key.Hdr.Name, key.Flags, key.PublicKey)
		if p.bind != wantBind {
			t.Errorf("trust-anchors block\n%s\nwant\n%s", p.bind, wantBind)
		}
	}
	// A private key file is not a key file.
	priv, _ := filepath.Glob(filepath.Join(dir, "*.private"))
	if len(priv) == 0 {
		t.Fatal("no .private file")
	}
	if r := Run(t, 30*time.Second, cmd, "anchor", priv[0]); r.Code != 1 || r.Stdout != "" {
		t.Errorf("anchor %s: want exit 1 and nothing on stdout\n%s", priv[0], r)
	}
}
