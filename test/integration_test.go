package test

// TestIntegration builds the real CoreDNS binary of cmd/coredns, serves a key directory
// made from the test vectors and asks it with the real dig, over UDP and TCP. It checks
// the RDATA bytes against the vectors, the header of every answer, truncation of a large
// RRset, and that a private key in the directory never leaks into any answer.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// defaultTTL is the plugin's TTL when the Corefile gives none.
const defaultTTL = 3600

func TestIntegration(t *testing.T) {
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	vf := LoadVectors(t)
	vec := func(id string) string {
		t.Helper()
		return vf.Wire(t, id)
	}
	var (
		rsaGW0 = vec("ipseckey/rsa2048/gw0")
		rsaGW1 = vec("ipseckey/rsa2048/gw1")
		ecpGW0 = vec("ipseckey/ecp256/gw0")
		edGW0  = vec("ipseckey/ed25519/gw0")
		edGW3  = vec("ipseckey/ed25519/gw3")
		lswGW0 = vec("ipseckey/lsw_rsa_122269ea/gw0")
		ns1311 = vec("ipseca/ns1-ecp256/311")
		ns1302 = vec("ipseca/ns1-ecp256/302")
	)
	// IPSECA 3 1 1 of the bare keys, from their SubjectPublicKeyInfo DER.
	var (
		rsa311 = IPSECA311(Vector(t, "keys/rsa2048.pub.der"))
		ecp311 = IPSECA311(Vector(t, "keys/ecp256.pub.der"))
		ed311  = IPSECA311(Vector(t, "keys/ed25519.pub.der"))
		lsw311 = IPSECA311(Vector(t, "keys/lsw_rsa_122269ea.pub.der"))
	)
	if ecp311 != ns1311 {
		t.Fatalf("vectors: ns1-ecp256.crt should hold the key of keys/ecp256.pub.der")
	}

	// The key directory: vector files renamed to their owners by the file name rule.
	keys := t.TempDir()
	put := func(name string, data ...[]byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(keys, name), bytes.Join(data, nil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rsaPEM := Vector(t, "keys/rsa2048.pub.pem")
	ecpPEM := Vector(t, "keys/ecp256.pub.pem")
	privPEM := Vector(t, "bad/private-ecp256.pkcs8.pem")
	privBlock, _ := pem.Decode(privPEM)
	if privBlock == nil {
		t.Fatal("bad/private-ecp256.pkcs8.pem is not PEM")
	}
	priv, err := x509.ParsePKCS8PrivateKey(privBlock.Bytes)
	if err != nil {
		t.Fatalf("private key: %v", err)
	}
	privEC, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("private key is %T, want ECDSA", priv)
	}
	privSEC1, err := x509.MarshalECPrivateKey(privEC)
	if err != nil {
		t.Fatal(err)
	}
	put("192.0.2.1.pem", rsaPEM)
	put("192.0.2.254.pem", rsaPEM) // the key of the IPv4 gateway
	put("2001-db8--d.der", Vector(t, "keys/lsw_rsa_122269ea.pub.der"))
	put("4.2.0.192.in-addr.arpa.pem", ecpPEM)
	put("gw.example.com.pem", Vector(t, "keys/ed25519.pub.pem"))
	put("198.51.100.5.pem", ecpPEM) // a host with its own key inside a gateway prefix
	put("ns1-ecp256.crt", Vector(t, "certs/ns1-ecp256.crt"))
	put("private-ecp256.pkcs8.pem", privPEM)
	put("truncated.pub.pem", Vector(t, "bad/truncated.pub.pem"))
	// The private key again, under names whose owners are inside the zones, and beside a
	// public key in one file: none of them may publish anything.
	put("192.0.2.9.pem", privPEM)
	put("priv.example.com.pem", privPEM)
	put("mixed.example.com.pem", ecpPEM, privPEM)
	put("192.0.2.10.der", privBlock.Bytes) // PKCS#8 DER
	put("192.0.2.11.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: privSEC1}))
	// An explicit IPSECA owner for an address inside the IPv4 gateway prefix.
	put("_53.198.51.100.9.pem", ecpPEM)

	// Six RSA-2048 keys in one file: one RRset too large for a 512-byte UDP reply.
	var bigPEM [][]byte
	var bigKeys, big311 []string
	for range 6 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		bigPEM = append(bigPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
		bigKeys = append(bigKeys, RSAHostKey(t, &k.PublicKey))
		big311 = append(big311, IPSECA311(spki))
	}
	put("big.example.com.pem", bigPEM...)

	srv := StartCoreDNS(t, t.TempDir(), func(port string) string {
		return fmt.Sprintf(`.:%s {
    bind 127.0.0.1
    ipsecoe 2.0.192.in-addr.arpa 8.b.d.0.1.0.0.2.ip6.arpa 100.51.198.in-addr.arpa example.com {
        keys %s
        reload 0
        gateway 198.51.100.0/24 192.0.2.254 10
        gateway 2001:db8:1::/64 gw.example.com 10
        ipseca 53
        dane 3 1 1
        dane 3 0 2
    }
}
`, port, keys)
	})

	d := NewDig(dig, srv.Port)
	rev := func(a string) string {
		t.Helper()
		return Reverse(t, a)
	}
	const ipseca = "TYPE65347"
	protos := []string{"udp", "tcp"}

	t.Run("positive", func(t *testing.T) {
		tests := []struct {
			name  string
			qtype string
			want  []string // the exact RRset, as RDATA hex
		}{
			// 192.0.2.1 has the RSA key of its file and the ECDSA key of ns1's IP SAN.
			{"1.2.0.192.in-addr.arpa.", "IPSECKEY", []string{rsaGW0, ecpGW0}},
			{"254.2.0.192.in-addr.arpa.", "IPSECKEY", []string{rsaGW0}},
			{"4.2.0.192.in-addr.arpa.", "IPSECKEY", []string{ecpGW0}},
			{rev("2001:db8::d"), "IPSECKEY", []string{lswGW0}},
			{"gw.example.com.", "IPSECKEY", []string{edGW0}},
			{"GW.Example.COM.", "IPSECKEY", []string{edGW0}},
			{"ns1.example.com.", "IPSECKEY", []string{ecpGW0}},
			// gateway 198.51.100.0/24 192.0.2.254 10
			{"7.100.51.198.in-addr.arpa.", "IPSECKEY", []string{rsaGW1}},
			{"255.100.51.198.in-addr.arpa.", "IPSECKEY", []string{rsaGW1}},
			{"5.100.51.198.in-addr.arpa.", "IPSECKEY", []string{ecpGW0, rsaGW1}},
			// Its _53 child must not hide the gateway record of 198.51.100.9.
			{"9.100.51.198.in-addr.arpa.", "IPSECKEY", []string{rsaGW1}},
			{"_53.9.100.51.198.in-addr.arpa.", ipseca, []string{ecp311}},
			// gateway 2001:db8:1::/64 gw.example.com 10
			{rev("2001:db8:1::6"), "IPSECKEY", []string{edGW3}},
			{rev("2001:db8:1::ffff:ffff:ffff:ffff"), "IPSECKEY", []string{edGW3}},
			{"_53.ns1.example.com.", ipseca, []string{ns1311, ns1302}},
			{"_53.1.2.0.192.in-addr.arpa.", ipseca, []string{rsa311, ns1311, ns1302}},
			{"_53.4.2.0.192.in-addr.arpa.", ipseca, []string{ecp311}},
			{"_53.254.2.0.192.in-addr.arpa.", ipseca, []string{rsa311}},
			{"_53." + rev("2001:db8::d"), ipseca, []string{lsw311}},
			{"_53.gw.example.com.", ipseca, []string{ed311}},
			{"_53.5.100.51.198.in-addr.arpa.", ipseca, []string{ecp311}},
			{"_53.big.example.com.", ipseca, big311},
			{"example.com.", "NS", []string{"036e7331076578616d706c6503636f6d00"}},
		}
		for _, proto := range protos {
			t.Run(proto, func(t *testing.T) {
				for i, tc := range tests {
					qt := dns.StringToType[tc.qtype]
					if n, ok := strings.CutPrefix(tc.qtype, "TYPE"); ok {
						v, _ := strconv.ParseUint(n, 10, 16)
						qt = uint16(v)
					}
					a := d.Query(t, proto, tc.name, tc.qtype)
					if a.Status != "NOERROR" {
						t.Errorf("Test %d: %s %s: status %s, want NOERROR", i, tc.name, tc.qtype, a.Status)
					}
					if !a.Flag("aa") {
						t.Errorf("Test %d: %s %s: no aa flag (flags %v)", i, tc.name, tc.qtype, a.Flags)
					}
					if a.Flag("tc") {
						t.Errorf("Test %d: %s %s: tc flag set", i, tc.name, tc.qtype)
					}
					ans := a.Sections["ANSWER"]
					for _, rr := range ans {
						if rr.Type != qt || !strings.EqualFold(rr.Name, tc.name) || rr.Class != "CLASS1" {
							t.Errorf("Test %d: %s %s: unexpected answer record %s %s TYPE%d", i, tc.name, tc.qtype, rr.Name, rr.Class, rr.Type)
						}
						if qt != dns.TypeNS && rr.TTL != defaultTTL {
							t.Errorf("Test %d: %s %s: TTL %d, want %d", i, tc.name, tc.qtype, rr.TTL, defaultTTL)
						}
					}
					got := Hexes(ans, qt)
					if len(got) != len(tc.want) {
						t.Errorf("Test %d: %s %s: %d records, want %d", i, tc.name, tc.qtype, len(got), len(tc.want))
					}
					if g, w := Set(got), Set(tc.want); !slices.Equal(g, w) {
						t.Errorf("Test %d: %s %s: RRset\n got  %q\n want %q", i, tc.name, tc.qtype, g, w)
					}
					if n := len(a.Sections["AUTHORITY"]); n != 0 {
						t.Errorf("Test %d: %s %s: %d records in authority, want none", i, tc.name, tc.qtype, n)
					}
				}
			})
		}
	})

	t.Run("apex SOA", func(t *testing.T) {
		zones := []string{"2.0.192.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.", "100.51.198.in-addr.arpa.", "example.com."}
		for _, proto := range protos {
			for i, zone := range zones {
				a := d.Query(t, proto, zone, "SOA")
				ans := a.Sections["ANSWER"]
				if a.Status != "NOERROR" || !a.Flag("aa") || len(ans) != 1 || ans[0].Type != dns.TypeSOA || !strings.EqualFold(ans[0].Name, zone) {
					t.Errorf("Test %d: %s SOA over %s: status %s flags %v answer %+v, want NOERROR aa and one SOA at the apex", i, zone, proto, a.Status, a.Flags, ans)
				}
			}
		}
	})

	t.Run("negative", func(t *testing.T) {
		tests := []struct {
			name, qtype, zone, rcode string
		}{
			{"nope.example.com.", "A", "example.com.", "NXDOMAIN"},
			{"nope.example.com.", "IPSECKEY", "example.com.", "NXDOMAIN"},
			{"x.gw.example.com.", "IPSECKEY", "example.com.", "NXDOMAIN"},
			{"_54.ns1.example.com.", ipseca, "example.com.", "NXDOMAIN"},
			{"5.2.0.192.in-addr.arpa.", "IPSECKEY", "2.0.192.in-addr.arpa.", "NXDOMAIN"},
			{"1.1.2.0.192.in-addr.arpa.", "IPSECKEY", "2.0.192.in-addr.arpa.", "NXDOMAIN"},
			{rev("2001:db8:2::1"), "IPSECKEY", "8.b.d.0.1.0.0.2.ip6.arpa.", "NXDOMAIN"},
			{rev("2001:db8:1:1::5"), "IPSECKEY", "8.b.d.0.1.0.0.2.ip6.arpa.", "NXDOMAIN"},
			{"1.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "IPSECKEY", "8.b.d.0.1.0.0.2.ip6.arpa.", "NXDOMAIN"},
			// The private key copies publish nothing.
			{"9.2.0.192.in-addr.arpa.", "IPSECKEY", "2.0.192.in-addr.arpa.", "NXDOMAIN"},
			{"_53.9.2.0.192.in-addr.arpa.", ipseca, "2.0.192.in-addr.arpa.", "NXDOMAIN"},
			{"priv.example.com.", "IPSECKEY", "example.com.", "NXDOMAIN"},
			{"_53.priv.example.com.", ipseca, "example.com.", "NXDOMAIN"},
			{"mixed.example.com.", "IPSECKEY", "example.com.", "NXDOMAIN"},
			{"_53.mixed.example.com.", ipseca, "example.com.", "NXDOMAIN"},
			{"10.2.0.192.in-addr.arpa.", "IPSECKEY", "2.0.192.in-addr.arpa.", "NXDOMAIN"},
			{"11.2.0.192.in-addr.arpa.", "IPSECKEY", "2.0.192.in-addr.arpa.", "NXDOMAIN"},
			// NODATA: names that exist without the type.
			{"gw.example.com.", "TXT", "example.com.", "NOERROR"},
			{"gw.example.com.", ipseca, "example.com.", "NOERROR"},
			{"_53.gw.example.com.", "IPSECKEY", "example.com.", "NOERROR"},
			{"1.2.0.192.in-addr.arpa.", "TXT", "2.0.192.in-addr.arpa.", "NOERROR"},
			{"_53.1.2.0.192.in-addr.arpa.", "IPSECKEY", "2.0.192.in-addr.arpa.", "NOERROR"},
			{"example.com.", "IPSECKEY", "example.com.", "NOERROR"},
			{"2.0.192.in-addr.arpa.", "IPSECKEY", "2.0.192.in-addr.arpa.", "NOERROR"},
			{"100.51.198.in-addr.arpa.", "IPSECKEY", "100.51.198.in-addr.arpa.", "NOERROR"},
			{"7.100.51.198.in-addr.arpa.", "TXT", "100.51.198.in-addr.arpa.", "NOERROR"},
			{"7.100.51.198.in-addr.arpa.", ipseca, "100.51.198.in-addr.arpa.", "NOERROR"},
			// Empty non-terminals: above 2001:db8::d, and the IPv6 gateway prefix's own name.
			{"0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "IPSECKEY", "8.b.d.0.1.0.0.2.ip6.arpa.", "NOERROR"},
			{strings.TrimPrefix(rev("2001:db8::d"), "d."), "IPSECKEY", "8.b.d.0.1.0.0.2.ip6.arpa.", "NOERROR"},
			{rev("2001:db8::"), "IPSECKEY", "8.b.d.0.1.0.0.2.ip6.arpa.", "NXDOMAIN"},
			{"0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "IPSECKEY", "8.b.d.0.1.0.0.2.ip6.arpa.", "NOERROR"},
			{"1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", "AAAA", "8.b.d.0.1.0.0.2.ip6.arpa.", "NOERROR"},
		}
		for _, proto := range protos {
			t.Run(proto, func(t *testing.T) {
				for i, tc := range tests {
					a := d.Query(t, proto, tc.name, tc.qtype)
					if a.Status != tc.rcode {
						t.Errorf("Test %d: %s %s: status %s, want %s", i, tc.name, tc.qtype, a.Status, tc.rcode)
					}
					if !a.Flag("aa") {
						t.Errorf("Test %d: %s %s: no aa flag (flags %v)", i, tc.name, tc.qtype, a.Flags)
					}
					if n := len(a.Sections["ANSWER"]); n != 0 {
						t.Errorf("Test %d: %s %s: %d answer records, want none", i, tc.name, tc.qtype, n)
					}
					ns := a.Sections["AUTHORITY"]
					if len(ns) != 1 || ns[0].Type != dns.TypeSOA || !strings.EqualFold(ns[0].Name, tc.zone) {
						t.Errorf("Test %d: %s %s: authority %+v, want exactly one SOA of %s", i, tc.name, tc.qtype, ns, tc.zone)
					}
				}
			})
		}
	})

	t.Run("truncation", func(t *testing.T) {
		const big = "big.example.com."
		udp := []struct {
			name string
			opts []string
		}{
			{"no EDNS", []string{"+noedns"}},
			{"EDNS 512", []string{"+bufsize=512"}},
			{"EDNS 1232", []string{"+bufsize=1232"}},
		}
		for i, tc := range udp {
			a := d.Query(t, "udp", big, "IPSECKEY", tc.opts...)
			if !a.Flag("tc") {
				t.Errorf("Test %d: %s over UDP (%s): no tc flag (flags %v, %d answers)", i, big, tc.name, a.Flags, len(a.Sections["ANSWER"]))
			}
		}
		a := d.Query(t, "tcp", big, "IPSECKEY")
		if a.Status != "NOERROR" || !a.Flag("aa") || a.Flag("tc") {
			t.Errorf("%s over TCP: status %s flags %v, want NOERROR aa, no tc", big, a.Status, a.Flags)
		}
		got := Hexes(a.Sections["ANSWER"], dns.TypeIPSECKEY)
		if len(got) != 6 || !slices.Equal(Set(got), Set(bigKeys)) {
			t.Errorf("%s over TCP: %d records\n got  %q\n want %q", big, len(got), Set(got), Set(bigKeys))
		}
	})

	t.Run("private key", func(t *testing.T) {
		var naive string
		for _, b := range vf.BadInputs {
			if b.Naive != nil && strings.HasSuffix(b.File, "private-ecp256.pkcs8.pem") {
				naive = b.Naive.KeyB64
			}
		}
		if naive == "" {
			t.Fatal("vectors.json: no naive_derived_ipseckey for bad/private-ecp256.pkcs8.pem")
		}
		naiveField, err := base64.StdEncoding.DecodeString(naive)
		if err != nil {
			t.Fatalf("naive key_b64: %v", err)
		}
		// What a naive plugin would derive from the private key, and the private scalar.
		spki, err := x509.MarshalPKIXPublicKey(&privEC.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		scalar, err := privEC.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		s256, s512 := sha256.Sum256(spki), sha512.Sum512(privBlock.Bytes)
		c512 := sha512.Sum512(spki)
		forbiddenHex := map[string]string{
			"naive IPSECKEY key field":  hex.EncodeToString(naiveField),
			"its X coordinate":          hex.EncodeToString(naiveField[:32]),
			"its SPKI":                  hex.EncodeToString(spki),
			"IPSECA 3 1 1 of its SPKI":  hex.EncodeToString(s256[:]),
			"IPSECA 3 1 2 of its SPKI":  hex.EncodeToString(c512[:]),
			"SHA-512 of the PKCS#8 DER": hex.EncodeToString(s512[:]),
			"the private scalar":        hex.EncodeToString(scalar),
		}
		if !strings.HasPrefix(hex.EncodeToString(spki[len(spki)-65:]), "04"+hex.EncodeToString(naiveField)) {
			t.Fatalf("vectors: naive_derived_ipseckey is not the public half of the private key")
		}
		var pemLines []string // the base64 lines of the private key file
		for line := range strings.Lines(string(privPEM)) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "-----") {
				pemLines = append(pemLines, line)
			}
		}

		// Every owner the key could have been published at, every type that could carry it.
		owners := []string{
			"9.2.0.192.in-addr.arpa.", "10.2.0.192.in-addr.arpa.", "11.2.0.192.in-addr.arpa.",
			"priv.example.com.", "mixed.example.com.",
			"private-ecp256.pkcs8.example.com.", "private-ecp256.example.com.", "truncated.example.com.",
			"1.2.0.192.in-addr.arpa.", "4.2.0.192.in-addr.arpa.", "254.2.0.192.in-addr.arpa.",
			"ns1.example.com.", "gw.example.com.", "big.example.com.", "example.com.",
			"2.0.192.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.", "100.51.198.in-addr.arpa.",
			"5.100.51.198.in-addr.arpa.", "9.100.51.198.in-addr.arpa.",
			rev("2001:db8::d"), rev("2001:db8::9"), rev("2001:db8:1::9"),
		}
		for _, o := range slices.Clone(owners) {
			owners = append(owners, "_53."+o, "_4500."+o)
		}
		for _, o := range owners {
			for _, qt := range []string{"IPSECKEY", ipseca, "ANY"} {
				d.Query(t, "tcp", o, qt)
			}
			for _, qt := range []string{"IPSECKEY", "ANY"} {
				d.Ask(t, false, "tcp", o, qt) // presentation form: keys in base64
			}
		}

		seen := d.Seen()
		if len(seen) < 100 {
			t.Fatalf("only %d answers were collected", len(seen))
		}
		for i, a := range seen {
			flat := strings.Join(strings.Fields(a.Raw), "")
			if strings.Contains(flat, naive) {
				t.Errorf("Test %d: %s: the private key's public half (base64) is in the answer:\n%s", i, a.Question, a.Raw)
			}
			lower := strings.ToLower(flat)
			for what, h := range forbiddenHex {
				if strings.Contains(lower, h) {
					t.Errorf("Test %d: %s: %s is in the answer:\n%s", i, a.Question, what, a.Raw)
				}
			}
			for _, line := range pemLines {
				if strings.Contains(flat, line) {
					t.Errorf("Test %d: %s: private key file content is in the answer:\n%s", i, a.Question, a.Raw)
				}
			}
			for _, rrs := range a.Sections {
				for _, rr := range rrs {
					for what, h := range forbiddenHex {
						if strings.Contains(rr.Hex, h) {
							t.Errorf("Test %d: %s: %s is in the RDATA of %s TYPE%d", i, a.Question, what, rr.Name, rr.Type)
						}
					}
				}
			}
		}
	})

	t.Run("log", func(t *testing.T) {
		out := srv.Log.String()
		var lines []string
		for line := range strings.Lines(out) {
			lines = append(lines, strings.TrimSpace(line))
		}
		tests := []struct {
			file   string
			levels []string
		}{
			{"private-ecp256.pkcs8.pem", []string{"[ERROR]"}},
			{"192.0.2.9.pem", []string{"[ERROR]"}},
			{"priv.example.com.pem", []string{"[ERROR]"}},
			{"mixed.example.com.pem", []string{"[ERROR]"}},
			{"192.0.2.10.der", []string{"[ERROR]"}},
			{"192.0.2.11.pem", []string{"[ERROR]"}},
			{"truncated.pub.pem", []string{"[ERROR]", "[WARNING]"}},
		}
		for i, tc := range tests {
			n := 0
			for _, line := range lines {
				if !strings.Contains(line, tc.file) {
					continue
				}
				n++
				if !slices.ContainsFunc(tc.levels, func(l string) bool { return strings.HasPrefix(line, l) }) {
					t.Errorf("Test %d: %s is logged as %q, want a %v line", i, tc.file, line, tc.levels)
				}
			}
			if n != 1 {
				t.Errorf("Test %d: %s is named on %d log lines, want 1", i, tc.file, n)
			}
		}
		if !slices.ContainsFunc(lines, func(l string) bool {
			return strings.HasPrefix(l, "[INFO] plugin/ipsecoe: loaded ")
		}) {
			t.Errorf("no load line in the log")
		}
		for _, line := range strings.Split(string(privPEM), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "-----") && strings.Contains(out, line) {
				t.Errorf("the log holds private key content %q", line)
			}
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, "[ERROR]") {
				continue
			}
			expected := false
			for _, tc := range tests {
				expected = expected || strings.Contains(l, tc.file)
			}
			if !expected {
				t.Errorf("unexpected error in the log: %s", l)
			}
		}
	})
}
