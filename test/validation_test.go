package test

// The validation tests run the real CoreDNS binary (cmd/coredns), ipsecoe signing its
// answers with the keys of the dnssec plugin of its block, and check its answers with real validators: BIND's delv and
// a validating unbound, each trusting the zone's DNSKEY (made by dnssec-keygen) as a local
// trust anchor. They cover positive answers of every gateway type, IPSECA, the apex,
// denials at owners, at empty non-terminals and at names that do not exist, a wrong trust
// anchor, aggressive NSEC (RFC 8198) in unbound, fallthrough to file, forward behind the
// plugin, and the cache plugin in front of a key change.
//
// Every server is a child process of the test on 127.0.0.1 and a free high port, killed by
// its own PID when the test ends; every wait is bounded.

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestValidationSecure validates every case with delv and with unbound, for a KSK+ZSK
// pair and for a single CSK per zone, and checks that every case fails with a wrong anchor.
func TestValidationSecure(t *testing.T) {
	t.Parallel()
	tools := NeedValidators(t)
	keys := VectorKeys(t, OperatorLayout())
	for _, mode := range []struct {
		name  string
		split bool
	}{{"KSK+ZSK", true}, {"CSK", false}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			s := valNewSetup(t, tools, mode.split)
			srv := StartCoreDNS(t, t.TempDir(), func(port string) string {
				return valCorefile(port, s, func(z string) string { return valIpsecoe(z, keys, "") })
			})
			cases := valCases(t, mode.split)

			t.Run("delv", func(t *testing.T) {
				for i, c := range cases {
					out := Delv(t, tools.Delv, srv.Port, s.delvAnchors, c.Zone, c.Name, c.Qtype)
					if err := CheckDelv(t, c, out); err != nil {
						t.Errorf("Test %d: delv %s: %v\n%s", i, c, err, out)
					}
				}
			})
			t.Run("unbound", func(t *testing.T) {
				ub := unbound(t, tools, srv.Port, s.ubAnchors)
				for i, c := range cases {
					a := ub.Resolve(t, c.Name, c.Qtype)
					if err := CheckUnbound(t, c, a); err != nil {
						t.Errorf("Test %d: unbound %s: %v\n%s", i, c, err, a.Raw)
					}
				}
			})
			t.Run("wrong anchor", func(t *testing.T) {
				ub := unbound(t, tools, srv.Port, s.ubWrong)
				for i, c := range cases {
					// delv must fail to validate, and say so (not merely fail to run).
					if out := Delv(t, tools.Delv, srv.Port, s.delvWrong, c.Zone, c.Name, c.Qtype); strings.Contains(out, "fully validated") || !strings.Contains(out, "resolution failed") {
						t.Errorf("Test %d: delv %s with a wrong trust anchor: want \"resolution failed\", never \"fully validated\":\n%s", i, c, out)
					}
					if a := ub.Resolve(t, c.Name, c.Qtype); a.Status != "SERVFAIL" || a.Flag("ad") {
						t.Errorf("Test %d: unbound %s with a wrong trust anchor: status %s flags %v, want SERVFAIL\n%s", i, c, a.Status, a.Flags, a.Raw)
					}
				}
			})
		})
	}
}

// valLogged reports whether CoreDNS's log plugin logged a query for qtype at name. The
// plugin registers TYPE65347 with miekg/dns as IPSECA, so the log may use either name.
func valLogged(log *Log, qtype, name string) bool {
	out := strings.ToLower(log.String())
	names := []string{qtype}
	if qtype == "TYPE65347" {
		names = append(names, "IPSECA")
	}
	for _, q := range names {
		if strings.Contains(out, strings.ToLower(`"`+q+" IN "+name+" ")) {
			return true
		}
	}
	return false
}

// TestValidationAggressiveNSEC asks unbound, which does aggressive NSEC (RFC 8198), for
// another type first and then for the keys at the same name: the NSEC of the first denial
// must not let unbound deny the keys from its cache. A control case at an empty
// non-terminal shows that unbound does deny from cache where the denial's NSEC lists no
// keys. It runs with ipsecoe authoritative, and with fallthrough to file.
func TestValidationAggressiveNSEC(t *testing.T) {
	t.Parallel()
	tools := NeedValidators(t)
	keys := VectorKeys(t, OperatorLayout())
	s := valNewSetup(t, tools, false)
	v4 := "200.2.0.192.in-addr.arpa."
	v6 := Reverse(t, "2001:db8:1::abcd")
	gw3 := "140304" + NameHex(t, "gw.example.com.")

	for _, through := range []bool{false, true} {
		name := "authoritative"
		if through {
			name = "fallthrough"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := map[string]string{
				valFwd:  valZoneFile(t, dir, valFwd, "ns1 IN A 192.0.2.53", "gw IN A 192.0.2.77"),
				valRev4: valZoneFile(t, dir, valRev4, "77 IN PTR gw.example.com.", "200 IN PTR host200.example.com."),
				valRev6: valZoneFile(t, dir, valRev6),
			}
			srv := StartCoreDNS(t, dir, func(port string) string {
				return valCorefile(port, s, func(z string) string {
					if !through {
						return "    log\n" + valIpsecoe(z, keys, "")
					}
					return "    log\n" + valIpsecoe(z, keys, "        fallthrough\n") + "    file " + files[z] + " " + z + "\n"
				})
			})
			ub := unbound(t, tools, srv.Port, s.ubAnchors)

			sequences := []struct {
				first string
				then  Case
			}{
				{"TXT", Case{valFwd, "gw.example.com.", "IPSECKEY", []string{"0a0004"}}},
				{"A", Case{valFwd, "ns1.example.com.", "IPSECKEY", []string{"0a0003"}}},
				{"A", Case{valRev4, v4, "IPSECKEY", []string{"140102c00002fe"}}},
				{"A", Case{valRev6, v6, "IPSECKEY", []string{gw3}}},
				{"A", Case{valFwd, "_53.ns1.example.com.", "TYPE65347", []string{"030101"}}},
				{"TXT", Case{valFwd, "_53.gw.example.com.", "TYPE65347", []string{"030101"}}},
			}
			for i, sq := range sequences {
				first := ub.Resolve(t, sq.then.Name, sq.first)
				if !first.Flag("ad") || first.Status != "NOERROR" {
					t.Errorf("Test %d: %s %s: status %s flags %v, want a validated answer\n%s", i, sq.then.Name, sq.first, first.Status, first.Flags, first.Raw)
				}
				a := ub.Resolve(t, sq.then.Name, sq.then.Qtype)
				if err := CheckUnbound(t, sq.then, a); err != nil {
					t.Errorf("Test %d: %s after %s: %v\n%s", i, sq.then, sq.first, err, a.Raw)
				}
			}

			// The control: at an empty non-terminal the denial's NSEC lists no IPSECKEY, so
			// after TXT unbound denies IPSECKEY from its cache without asking CoreDNS.
			const ent = "host.example.com."
			a := ub.Resolve(t, ent, "TXT")
			if err := CheckUnbound(t, Case{valFwd, ent, "TXT", nil}, a); err != nil {
				t.Errorf("control: %s TXT: %v\n%s", ent, err, a.Raw)
			}
			a = ub.Resolve(t, ent, "IPSECKEY")
			if err := CheckUnbound(t, Case{valFwd, ent, "IPSECKEY", nil}, a); err != nil {
				t.Errorf("control: %s IPSECKEY: %v\n%s", ent, err, a.Raw)
			}
			// The log plugin writes its line once the reply is out: wait for the TXT line,
			// then a moment more for any IPSECKEY line.
			for start := time.Now(); !valLogged(srv.Log, "TXT", ent) && time.Since(start) < 3*time.Second; {
				time.Sleep(50 * time.Millisecond)
			}
			if !valLogged(srv.Log, "TXT", ent) {
				t.Errorf("control: CoreDNS did not log the TXT query at %s:\n%s", ent, srv.Log.String())
			}
			time.Sleep(300 * time.Millisecond)
			if valLogged(srv.Log, "IPSECKEY", ent) {
				t.Errorf("control: the IPSECKEY query at %s reached CoreDNS: unbound did not deny it from its cache, so the test proves nothing about aggressive NSEC", ent)
			}
			// ...while every key query of the sequences did reach CoreDNS.
			for i, sq := range sequences {
				if !valLogged(srv.Log, sq.then.Qtype, sq.then.Name) {
					t.Errorf("Test %d: CoreDNS never saw %s", i, sq.then)
				}
			}

			if !through {
				return
			}
			// What the file zones hold, at owner names of ipsecoe's too, validates as well.
			for i, c := range []Case{
				{valFwd, "gw.example.com.", "A", []string{"c000024d"}},
				{valRev4, "77.2.0.192.in-addr.arpa.", "PTR", []string{NameHex(t, "gw.example.com.")}},
				{valRev4, v4, "PTR", []string{NameHex(t, "host200.example.com.")}},
				{valFwd, "example.com.", "SOA", []string{NameHex(t, "ns1.example.com.") + NameHex(t, "hostmaster.example.com.") + fmt.Sprintf("%08x", 2024010101)}},
			} {
				a := ub.Resolve(t, c.Name, c.Qtype)
				if err := CheckUnbound(t, c, a); err != nil {
					t.Errorf("Test %d: %s: %v\n%s", i, c, err, a.Raw)
				}
				out := Delv(t, tools.Delv, srv.Port, s.delvAnchors, c.Zone, c.Name, c.Qtype)
				if err := CheckDelv(t, c, out); err != nil {
					t.Errorf("Test %d: delv %s: %v\n%s", i, c, err, out)
				}
			}
		})
	}
}

// TestValidationForward puts forward behind ipsecoe in one server block for the root
// zone: names outside ipsecoe's zones go to an upstream CoreDNS serving example.net.
func TestValidationForward(t *testing.T) {
	t.Parallel()
	tools := NeedValidators(t)
	keys := VectorKeys(t, OperatorLayout())
	s := valNewSetup(t, tools, false)
	dir := t.TempDir()

	netZone := valZoneFile(t, dir, "example.net.", "www IN A 192.0.2.80")
	bin := CoreDNS(t)
	up := Start(t, 10*time.Second, func(port string) *exec.Cmd {
		conf := filepath.Join(dir, "Corefile.upstream."+port)
		WriteFile(t, conf, []byte("example.net:"+port+" {\n    bind 127.0.0.1\n    file "+netZone+"\n}\n"))
		c := exec.Command(bin, "-conf", conf)
		c.Dir = dir
		return c
	}, func(port string) bool {
		return Answers(port, "example.net.", dns.TypeSOA, dns.RcodeSuccess)
	})

	srv := StartCoreDNS(t, dir, func(port string) string {
		k := s.keys[valFwd]
		return ".:" + port + " {\n" +
			"    bind 127.0.0.1\n" +
			"    dnssec example.com {\n        key file " + strings.Join(k.files, " ") + "\n    }\n" +
			strings.Replace(valIpsecoe(valFwd, keys, ""), "ipsecoe {", "ipsecoe example.com {", 1) +
			"    forward . " + up.Addr() + "\n" +
			"}\n"
	})

	d := NewDig(tools.Dig, srv.Port)
	want := net.ParseIP("192.0.2.80").To4()
	for _, proto := range []string{"udp", "tcp"} {
		for _, do := range []bool{false, true} {
			var extra []string
			if do {
				extra = append(extra, "+dnssec")
			}
			a := d.Query(t, proto, "www.example.net.", "A", extra...)
			ans := Hexes(a.Sections["ANSWER"], dns.TypeA)
			if a.Status != "NOERROR" || len(ans) != 1 || ans[0] != hex.EncodeToString(want) {
				t.Errorf("www.example.net A over %s (DO %v): status %s, A records %q, want NOERROR and %s\n%s", proto, do, a.Status, ans, want, a.Raw)
			}
			// A name upstream does not have: its own denial, with its SOA.
			a = d.Query(t, proto, "nope.example.net.", "A", extra...)
			if ns := a.Sections["AUTHORITY"]; a.Status != "NXDOMAIN" || len(ns) != 1 || ns[0].Type != dns.TypeSOA || ns[0].Name != "example.net." {
				t.Errorf("nope.example.net A over %s (DO %v): status %s authority %+v, want NXDOMAIN with example.net's SOA\n%s", proto, do, a.Status, ns, a.Raw)
			}
		}
	}
	// ipsecoe's own names are still answered, signed, in the same block.
	for i, c := range []Case{
		{valFwd, "gw.example.com.", "IPSECKEY", []string{"0a0004"}},
		{valFwd, "gw.example.com.", "TXT", nil},
		{valFwd, "nope.example.com.", "A", nil},
	} {
		out := Delv(t, tools.Delv, srv.Port, s.delvAnchors, c.Zone, c.Name, c.Qtype)
		if err := CheckDelv(t, c, out); err != nil {
			t.Errorf("Test %d: delv %s: %v\n%s", i, c, err, out)
		}
	}
}

// TestValidationCache puts the cache plugin in front of dnssec and ipsecoe and changes the
// key of an owner: within the cache TTL (bounded by ipsecoe's ttl) plus the reload
// interval the new key must be served and validate, and every answer on the way must
// validate, the old key or the new one, never a signature over the wrong data.
func TestValidationCache(t *testing.T) {
	t.Parallel()
	tools := NeedValidators(t)
	keys := VectorKeys(t, OperatorLayout())
	s := valNewSetup(t, tools, true)
	const ttl, reload = 5 * time.Second, 1 * time.Second

	srv := StartCoreDNS(t, t.TempDir(), func(port string) string {
		k := s.keys[valFwd]
		return "example.com:" + port + " {\n" +
			"    bind 127.0.0.1\n" +
			"    cache 30\n" +
			"    dnssec {\n        key file " + strings.Join(k.files, " ") + "\n    }\n" +
			"    ipsecoe {\n" +
			"        keys " + keys + "\n" +
			fmt.Sprintf("        reload %v\n        ttl %d\n", reload, int(ttl/time.Second)) +
			"    }\n" +
			"}\n"
	})
	vf := LoadVectors(t)
	_, oldKey := vf.Key(t, "keys/ed25519.pub.pem")
	_, newKey := vf.Key(t, "keys/ecp256.pub.pem")
	ask := func() (old, cur bool, out string) {
		out = Delv(t, tools.Delv, srv.Port, s.delvAnchors, valFwd, "gw.example.com.", "IPSECKEY")
		if !strings.Contains(out, "; fully validated") || strings.Contains(out, "negative response") {
			t.Fatalf("delv gw.example.com IPSECKEY: not fully validated:\n%s", out)
		}
		// delv prints the key field in hex (+unknownformat): compare the RDATA.
		rrs, err := ParseRecords(out)
		if err != nil {
			t.Fatalf("delv output: %v\n%s", err, out)
		}
		for _, rr := range rrs {
			if rr.Type != dns.TypeIPSECKEY {
				continue
			}
			switch rr.Hex {
			case KeyHex(t, "0a0004", oldKey):
				old = true
			case KeyHex(t, "0a0003", newKey):
				cur = true
			default:
				t.Fatalf("delv: unexpected IPSECKEY %s\n%s", rr.Hex, out)
			}
		}
		return old, cur, out
	}

	if old, cur, out := ask(); !old || cur {
		t.Fatalf("before the change: want the Ed25519 key alone\n%s", out)
	}
	// Replace the owner's key atomically (the loader skips dot files).
	tmp := filepath.Join(keys, ".gw.tmp")
	WriteFile(t, tmp, Vector(t, "keys/ecp256.pub.pem"))
	if err := os.Rename(tmp, filepath.Join(keys, "gw.example.com.pem")); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	bound := ttl + reload + 2*time.Second
	seenOld := 0
	for n := 0; ; n++ {
		old, cur, out := ask()
		if cur && !old {
			t.Logf("the new key validated %v after the change (%d answers with the old key first)", time.Since(changed).Round(time.Millisecond), seenOld)
			break
		}
		if cur || !old {
			t.Fatalf("answer %d: old key %v, new key %v, want one of them\n%s", n, old, cur, out)
		}
		seenOld++
		if time.Since(changed) > bound || n >= 100 {
			t.Fatalf("the new key is not served %v after the change (bound %v)\n%s", time.Since(changed).Round(time.Millisecond), bound, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
