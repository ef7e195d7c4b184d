package test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestToolAnchor validates the binary's signed answers with each form of ipsecoe anchor's
// output as the only trust anchor: the trust-anchors block in delv, the trust-anchor line
// inline in unbound.conf, and the DS line as unbound's trust-anchor-file.
func TestToolAnchor(t *testing.T) {
	t.Parallel()
	tools := NeedValidators(t)
	cmd := Command(t)
	keys := VectorKeys(t, OperatorLayout())
	kdir := t.TempDir()
	kskBase, ksk := Keygen(t, tools.Keygen, kdir, "example.com.", true)
	zskBase, _ := Keygen(t, tools.Keygen, kdir, "example.com.", false)
	_, other := Keygen(t, tools.Keygen, kdir, "example.com.", true) // signs nothing
	srv := StartCoreDNS(t, t.TempDir(), func(port string) string {
		return "example.com:" + port + " {\n    bind 127.0.0.1\n    dnssec {\n        key file " + kskBase + " " + zskBase +
			"\n    }\n    ipsecoe {\n        keys " + keys + "\n        reload 0\n    }\n}\n"
	})
	r := Run(t, 30*time.Second, cmd, "anchor", kskBase+".key")
	if r.Code != 0 || r.Stderr != "" {
		t.Fatalf("ipsecoe anchor: %s", r)
	}
	a := parseAnchor(t, r.Stdout)
	if a.note != "" {
		t.Errorf("KSK: unexpected note %q", a.note)
	}
	const zone = "example.com."
	_, ed := LoadVectors(t).Key(t, "keys/ed25519.pub.pem")
	gw := Case{zone, "gw.example.com.", "IPSECKEY", []string{KeyHex(t, "0a0004", ed)}}
	cases := []Case{gw, {zone, "nope.example.com.", "IPSECKEY", nil}}

	t.Run("delv trust-anchors", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "anchor.conf")
		WriteFile(t, file, []byte(a.bind))
		for i, c := range cases {
			out := Delv(t, tools.Delv, srv.Port, file, c.Zone, c.Name, c.Qtype)
			if err := CheckDelv(t, c, out); err != nil {
				t.Errorf("Test %d: delv -a (anchor's block) %s: %v\n%s", i, c, err, out)
			}
		}
		// The control: the block of a key that signs nothing does not validate.
		wrong := strings.Replace(a.bind, ksk.PublicKey, other.PublicKey, 1)
		if wrong == a.bind {
			t.Fatalf("could not swap the key in\n%s", a.bind)
		}
		WriteFile(t, file, []byte(wrong))
		if out := Delv(t, tools.Delv, srv.Port, file, gw.Zone, gw.Name, gw.Qtype); strings.Contains(out, "fully validated") {
			t.Errorf("delv validated with another key's anchor:\n%s", out)
		}
	})
	t.Run("unbound trust-anchor", func(t *testing.T) {
		ub := NewDig(tools.Dig, StartUnbound(t, tools.Unbound, srv.Port, a.unbound, []string{zone}).Port)
		for i, c := range cases {
			r := ub.Resolve(t, c.Name, c.Qtype)
			if err := CheckUnbound(t, c, r); err != nil {
				t.Errorf("Test %d: unbound with %q: %s: %v\n%s", i, a.unbound, c, err, r.Raw)
			}
		}
	})
	t.Run("unbound DS file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "example.com.ds")
		WriteFile(t, file, []byte(a.ds+"\n"))
		ub := unbound(t, tools, srv.Port, file)
		for i, c := range cases {
			r := ub.Resolve(t, c.Name, c.Qtype)
			if err := CheckUnbound(t, c, r); err != nil {
				t.Errorf("Test %d: unbound with trust-anchor-file %q: %s: %v\n%s", i, a.ds, c, err, r.Raw)
			}
		}
	})
	t.Run("ZSK note", func(t *testing.T) {
		r := Run(t, 30*time.Second, cmd, "anchor", zskBase+".key")
		want := "; note: " + zskBase + ".key is a ZSK (flags 256); the anchor is usually the KSK or CSK\n"
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, want) {
			t.Errorf("anchor of the ZSK: want the note first: %s", r)
		}
	})
}
