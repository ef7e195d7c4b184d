package test

// The signed setup of the validation tests: zone keys and trust anchors made with
// dnssec-keygen, the Corefile with a dnssec block per zone beside ipsecoe, and the
// questions every validator must answer.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const (
	valFwd  = "example.com."
	valRev4 = "2.0.192.in-addr.arpa."     // 192.0.2.0/24
	valRev6 = "8.b.d.0.1.0.0.2.ip6.arpa." // 2001:db8::/32
)

// valZones are the zones of the validation tests, each in a server block of its own with
// its own dnssec keys: the dnssec plugin signs with every key it has, so one block per zone.
var valZones = []string{valFwd, valRev4, valRev6}

// valKey is the DNSSEC key setup of one zone, made with dnssec-keygen.
type valKey struct {
	zone   string
	files  []string    // key base names, for the dnssec plugin's "key file"
	anchor *dns.DNSKEY // what the validators trust: the KSK, or the single CSK
}

// valZoneKeys makes the keys of a zone: a KSK and a ZSK (split), or one KSK that the
// dnssec plugin uses as a CSK.
func valZoneKeys(t *testing.T, keygen, dir, zone string, split bool) valKey {
	t.Helper()
	kdir := filepath.Join(dir, strings.TrimSuffix(zone, "."))
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		t.Fatal(err)
	}
	kskBase, ksk := Keygen(t, keygen, kdir, zone, true)
	k := valKey{zone: zone, files: []string{kskBase}, anchor: ksk}
	if split {
		zskBase, _ := Keygen(t, keygen, kdir, zone, false)
		k.files = append(k.files, zskBase)
	}
	return k
}

// valSetup makes the zone keys of one key setup and the anchors that trust them, plus a
// wrong set of anchors: fresh keys of the same zones that sign nothing.
type valSetup struct {
	keys                   map[string]valKey
	delvAnchors, ubAnchors string // trust the zones' keys
	delvWrong, ubWrong     string // trust unrelated keys of the same zones
}

func valNewSetup(t *testing.T, tools Validators, split bool) valSetup {
	t.Helper()
	dir := t.TempDir()
	s := valSetup{keys: map[string]valKey{}}
	var good, wrong []*dns.DNSKEY
	for _, z := range valZones {
		k := valZoneKeys(t, tools.Keygen, dir, z, split)
		s.keys[z] = k
		good = append(good, k.anchor)
		_, w := Keygen(t, tools.Keygen, filepath.Join(dir, strings.TrimSuffix(z, ".")), z, true)
		wrong = append(wrong, w)
	}
	s.delvAnchors, s.ubAnchors = WriteAnchors(t, dir, "good", good)
	s.delvWrong, s.ubWrong = WriteAnchors(t, dir, "wrong", wrong)
	return s
}

// unbound starts a validating unbound for the validation zones, trusting the DNSKEY records
// of anchorFile, and returns a Dig that asks it.
func unbound(t *testing.T, tools Validators, corePort, anchorFile string) *Dig {
	t.Helper()
	ub := StartUnbound(t, tools.Unbound, corePort, fmt.Sprintf("trust-anchor-file: %q", anchorFile), valZones)
	return NewDig(tools.Dig, ub.Port)
}

// valBlock is the server block of zone on port of 127.0.0.1: dnssec with the zone's keys, then body.
func valBlock(zone, port string, k valKey, body string) string {
	return fmt.Sprintf("%s:%s {\n    bind 127.0.0.1\n    dnssec {\n        key file %s\n    }\n%s}\n", zone, port, strings.Join(k.files, " "), body)
}

// valZoneFile writes a zone file for the file plugin: SOA, NS and the given records.
func valZoneFile(t *testing.T, dir, zone string, records ...string) string {
	t.Helper()
	lines := []string{
		"$ORIGIN " + zone,
		"$TTL 60",
		"@ IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 1800 1209600 60",
		"@ IN NS ns1.example.com.",
	}
	path := filepath.Join(dir, "db."+strings.TrimSuffix(zone, "."))
	WriteFile(t, path, []byte(strings.Join(append(lines, records...), "\n")+"\n"))
	return path
}

// valIpsecoe is the ipsecoe block of the validation tests for zone (every server block has
// one), with the gateway lines whose prefixes lie in zone.
func valIpsecoe(zone, keys, extra string) string {
	gateways := map[string]string{
		valRev4: "        gateway 192.0.2.128/25 192.0.2.254\n",
		valRev6: "        gateway 2001:db8:1::/64 GW.Example.com 20\n" +
			"        gateway 2001:db8:2::/64 2001:db8::4 30\n",
	}
	return "    ipsecoe {\n" +
		"        keys " + keys + "\n" +
		"        ttl 300\n" +
		"        ipseca 53\n" +
		gateways[zone] +
		extra +
		"    }\n"
}

// valCorefile has a server block per zone on port, each signed with its own keys.
func valCorefile(port string, s valSetup, body func(zone string) string) string {
	var b strings.Builder
	for _, z := range valZones {
		b.WriteString(valBlock(z, port, s.keys[z], body(z)))
	}
	return b.String()
}

// valCases are the questions every validator must validate with the right anchor and
// fail with the wrong one. Precedence, gateway type and algorithm open every IPSECKEY.
func valCases(t *testing.T, split bool) []Case {
	gw3 := "140304" + NameHex(t, "gw.example.com.") // precedence 20, a name, Ed25519
	dnskeys := []string{"0101030d"}                 // flags 257, protocol 3, algorithm 13
	if split {
		dnskeys = append(dnskeys, "0100030d") // the ZSK
	}
	var cases []Case
	for _, z := range valZones {
		cases = append(cases,
			Case{z, z, "SOA", []string{""}},
			Case{z, z, "NS", []string{""}},
			Case{z, z, "DNSKEY", dnskeys},
		)
	}
	return append(cases, []Case{
		// Gateway type 0: host keys, at a name, a certificate's DNS SAN, reverse names.
		{valFwd, "gw.example.com.", "IPSECKEY", []string{"0a0004"}},
		{valFwd, "GW.Example.COM.", "IPSECKEY", []string{"0a0004"}},
		{valFwd, "ns1.example.com.", "IPSECKEY", []string{"0a0003"}},
		{valRev4, "1.2.0.192.in-addr.arpa.", "IPSECKEY", []string{"0a0002", "0a0003"}},
		{valRev6, Reverse(t, "2001:db8::4"), "IPSECKEY", []string{"0a0003"}},
		// Type 1: an IPv4 gateway for a synthesized address; the gateway's own name holds
		// its host key as well.
		{valRev4, "200.2.0.192.in-addr.arpa.", "IPSECKEY", []string{"140102c00002fe"}},
		{valRev4, "254.2.0.192.in-addr.arpa.", "IPSECKEY", []string{"0a0002", "140102c00002fe"}},
		// Type 2: an IPv6 gateway, 2001:db8::4, for a synthesized IPv6 address.
		{valRev6, Reverse(t, "2001:db8:2::1"), "IPSECKEY", []string{"1e020320010db8000000000000000000000004"}},
		// Type 3: a host-name gateway, written GW.Example.com in the Corefile.
		{valRev6, Reverse(t, "2001:db8:1::abcd"), "IPSECKEY", []string{gw3}},
		{valRev6, strings.ToUpper(Reverse(t, "2001:db8:1::abcd")), "IPSECKEY", []string{gw3}},
		// IPSECA (TYPE65347): 3 1 1 from a certificate, a bare key, an explicit owner.
		{valFwd, "_53.ns1.example.com.", "TYPE65347", []string{"030101"}},
		{valFwd, "_53.GW.example.com.", "TYPE65347", []string{"030101"}},
		{valFwd, "_500.host.example.com.", "TYPE65347", []string{"030101"}},
		{valRev4, "_53.1.2.0.192.in-addr.arpa.", "TYPE65347", []string{"030101", "030101"}},
		// NODATA at owners: signed by the plugin itself.
		{valFwd, "gw.example.com.", "TXT", nil},
		{valFwd, "Gw.Example.Com.", "A", nil},
		{valFwd, "gw.example.com.", "TYPE65347", nil},
		{valFwd, "_53.ns1.example.com.", "IPSECKEY", nil},
		{valRev4, "200.2.0.192.in-addr.arpa.", "TXT", nil},
		{valRev6, Reverse(t, "2001:db8:1::abcd"), "AAAA", nil},
		{valFwd, "example.com.", "IPSECKEY", nil},
		// NODATA at empty non-terminals.
		{valFwd, "host.example.com.", "IPSECKEY", nil},
		{valRev6, "0.0.0.0." + valRev6, "IPSECKEY", nil},
		// Names that do not exist.
		{valFwd, "nope.example.com.", "IPSECKEY", nil},
		{valFwd, "Nope.Example.COM.", "TYPE65347", nil},
		{valRev4, "5.2.0.192.in-addr.arpa.", "IPSECKEY", nil},
		{valRev6, Reverse(t, "2001:db8:3::1"), "IPSECKEY", nil},
	}...)
}
