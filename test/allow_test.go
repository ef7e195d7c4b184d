package test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// The clients of the allow tests: both reach the server on 127.0.0.1; only the first is in
// allow.
const (
	allowedClient = "127.0.0.1"
	outsideClient = "127.0.0.3"
)

// allowKeys is a key directory with the certificate of ns1.example.com (SANs
// ns1.example.com and 192.0.2.1), whose IPSECA is published at _500.ns1.example.com.
func allowKeys(t *testing.T) string {
	keys := t.TempDir()
	WriteFile(t, filepath.Join(keys, "ns1.crt"), Vector(t, "certs/ns1-ecp256.crt"))
	return keys
}

// TestWithheldIPSECA refuses IPSECA to a client outside allow, without a record and without
// a denial that dnssec could sign, whether or not an IPSECA exists at the name; the allowed
// client's answer validates.
func TestWithheldIPSECA(t *testing.T) {
	v := NeedValidators(t)
	dir, keys := t.TempDir(), allowKeys(t)
	base, key := Keygen(t, v.Keygen, dir, "example.com.", true)
	anchor, _ := WriteAnchors(t, dir, "anchor", []*dns.DNSKEY{key})
	srv := StartCoreDNS(t, dir, func(port string) string {
		return ".:" + port + " {\n    bind 127.0.0.1\n" +
			"    dnssec example.com {\n        key file " + base + "\n    }\n" +
			"    ipsecoe example.com {\n        keys " + keys + "\n        ipseca 500\n        allow " + allowedClient + "/32\n    }\n}\n"
	})
	d := NewDig(v.Dig, srv.Port)
	for _, q := range [][2]string{
		{"_500.ns1.example.com.", "TYPE65347"},
		{"_500.ns1.example.com.", "TXT"},
		{"_500.ns1.example.com.", "ANY"},
		{"_500.nothere.example.com.", "TYPE65347"},
		{"_4500.ns1.example.com.", "NSEC"},
		{"ns1.example.com.", "TYPE65347"},
	} {
		for _, proto := range []string{"udp", "tcp"} {
			a := d.Query(t, proto, q[0], q[1], "-b", outsideClient, "+dnssec")
			if a.Status != "REFUSED" || len(a.Sections["ANSWER"])+len(a.Sections["AUTHORITY"]) != 0 {
				t.Errorf("%s from %s: %s, %d answers, %d authority; want REFUSED and nothing", a.Question, outsideClient,
					a.Status, len(a.Sections["ANSWER"]), len(a.Sections["AUTHORITY"]))
			}
			if !strings.Contains(a.Raw, "EDE: 18 (Prohibited)") {
				t.Errorf("%s from %s: no extended error Prohibited:\n%s", a.Question, outsideClient, a.Raw)
			}
		}
	}
	// Other questions from outside allow are answered as for anyone.
	if a := d.Query(t, "udp", "ns1.example.com.", "IPSECKEY", "-b", outsideClient, "+dnssec"); a.Status != "NOERROR" || len(Hexes(a.Sections["ANSWER"], dns.TypeIPSECKEY)) != 1 {
		t.Errorf("IPSECKEY from %s: %s\n%s", outsideClient, a.Status, a.Raw)
	}
	// The allowed client's IPSECA validates.
	if out := Delv(t, v.Delv, srv.Port, anchor, "example.com.", "_500.ns1.example.com.", "TYPE65347"); !strings.Contains(out, "; fully validated") || !strings.Contains(out, "TYPE65347") {
		t.Errorf("delv from %s: not validated:\n%s", allowedClient, out)
	}
}

// TestAllowWithView gives the allowed clients their own server block with cache, through
// view, as the README shows: in either order of first asker, over UDP and TCP, with and
// without DO, for IPSECA and ANY, the allowed client always gets the record and the other
// never, asked twice each so that a cached answer would show.
func TestAllowWithView(t *testing.T) {
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	keys := allowKeys(t)
	corefile := func(port string) string {
		block := func(first string, extra string) string {
			return "example.com:" + port + " {\n    bind 127.0.0.1\n" + first +
				"    ipsecoe {\n        keys " + keys + "\n        ipseca 500\n" + extra + "    }\n}\n"
		}
		return block("    view peers {\n        expr incidr(client_ip(), '"+allowedClient+"/32')\n    }\n    cache 300\n", "") +
			block("", "        allow "+allowedClient+"/32\n")
	}
	for _, first := range []string{allowedClient, outsideClient} {
		srv := StartCoreDNS(t, t.TempDir(), corefile)
		d := NewDig(dig, srv.Port)
		order := []string{first, allowedClient}
		if first == allowedClient {
			order[1] = outsideClient
		}
		for _, proto := range []string{"udp", "tcp"} {
			for _, do := range []string{"+nodnssec", "+dnssec"} {
				for _, qtype := range []string{"TYPE65347", "ANY"} {
					for round := range 2 {
						for _, client := range order {
							a := d.Query(t, proto, "_500.ns1.example.com.", qtype, "-b", client, do)
							got := fmt.Sprintf("%s %d", a.Status, len(Hexes(a.Sections["ANSWER"], 65347)))
							want := "NOERROR 1"
							if client == outsideClient {
								want = "REFUSED 0"
							}
							if got != want {
								t.Errorf("first %s, round %d: %s %s from %s: %s, want %s\n%s", first, round, a.Question, do, client, got, want, a.Raw)
							}
						}
					}
				}
			}
		}
	}
}
