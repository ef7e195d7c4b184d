package test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// toolShowhostkey runs ipsec showhostkey on the NSS database nss.
func toolShowhostkey(t *testing.T, ipsec, nss string, args ...string) string {
	t.Helper()
	return Must(t, ipsec, append([]string{"showhostkey", "--nssdir", nss}, args...)...)
}

// TestToolLibreswan drops keys made by ipsec newhostkey into the key directory as ipsec
// showhostkey prints them, as a config line and as a record: check reads each at the owner
// its name gives, and the binary serves the IPSECKEY record Libreswan prints.
func TestToolLibreswan(t *testing.T) {
	t.Parallel()
	ipsec := NeedTool(t, "ipsec", "libreswan")
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	cmd := Command(t)

	// Two host keys in a throwaway NSS database: RSA (the default, 3072 bits) and ECDSA.
	nss := t.TempDir()
	Must(t, ipsec, "initnss", "--nssdir", nss)
	for _, kt := range []string{"rsa", "ecdsa"} {
		Must(t, ipsec, "newhostkey", "--nssdir", nss, "--keytype", kt, "--seeddev", "/dev/urandom")
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
		WriteFile(t, filepath.Join(keys, k.cfgFile), []byte(cfg))
		WriteFile(t, filepath.Join(keys, k.recFile), []byte(rec))
		owners = append(owners, owner{k.cfgFile, k.cfgOwner, k.alg, rec}, owner{k.recFile, k.recOwner, k.alg, rec})
	}

	// check reads every file; it prints each path quoted.
	r := Run(t, 30*time.Second, cmd, "check", keys)
	if r.Code != 0 {
		t.Fatalf("ipsecoe check: %s", r)
	}
	for _, o := range owners {
		if want := fmt.Sprintf("ok      %q: %s at %s\n", o.file, o.alg, o.name); !strings.Contains(r.Stdout, want) {
			t.Errorf("ipsecoe check: no line %q in\n%s", want, r.Stdout)
		}
	}

	srv := StartCoreDNS(t, t.TempDir(), func(port string) string {
		return fmt.Sprintf(".:%s {\n    bind 127.0.0.1\n    ipsecoe 0.18.198.in-addr.arpa example.com {\n        keys %s\n        reload 0\n    }\n}\n", port, keys)
	})
	d := NewDig(dig, srv.Port)
	for _, o := range owners {
		// Libreswan prints "HOST. IN IPSECKEY 10 0 ALG . KEY": precedence 10, no gateway,
		// the plugin's defaults for a host key.
		lines := strings.Split(strings.TrimSpace(o.record), "\n")
		if len(lines) != 1 {
			t.Fatalf("showhostkey --ipseckey printed %d lines:\n%s", len(lines), o.record)
		}
		rr := NewRR(t, lines[0])
		if _, ok := rr.(*dns.IPSECKEY); !ok {
			t.Fatalf("showhostkey --ipseckey printed %s", rr)
		}
		want := RDataHex(t, rr)
		a := d.Query(t, "tcp", o.name, "IPSECKEY")
		if got := Hexes(a.Sections["ANSWER"], dns.TypeIPSECKEY); a.Status != "NOERROR" || !slices.Equal(got, []string{want}) {
			t.Errorf("%s (%s) IPSECKEY: served %s\n %q\nLibreswan's record\n %q", o.name, o.file, a.Status, got, want)
		}
	}
}
