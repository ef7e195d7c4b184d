package test

// The tooling tests run the operator command of cmd/ipsecoe against the real CoreDNS
// binary and the real tools its output is meant for:
//
//   - records: the export of a key directory, with an SOA and NS put in front, loads in
//     named-checkzone and ldns-read-zone, and every RRset of it is what the binary serves
//     from the same directory and Corefile block, byte for byte; the gateway comments are
//     what the binary serves at the addresses of their prefixes (this file).
//   - anchor: the trust-anchors block validates the binary's signed answers in delv, the
//     trust-anchor line does in unbound (inline in unbound.conf), and so does the DS line
//     as unbound's trust-anchor-file; a ZSK gets the note (tooling_anchor_test.go).
//   - Libreswan: keys made by ipsec newhostkey, dropped into the key directory as
//     ipsec showhostkey prints them, are served as the IPSECKEY records Libreswan prints
//     (tooling_libreswan_test.go).
//
// Every process is a child of the test on 127.0.0.1, killed by its own PID; waits are
// bounded.

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// toolRecord is one record of a zone text: owner, type, TTL and RDATA hex.
type toolRecord struct {
	name string
	typ  uint16
	ttl  uint32
	hex  string
}

func (r toolRecord) key() string { return fmt.Sprintf("%s TYPE%d", strings.ToLower(r.name), r.typ) }

func (r toolRecord) String() string {
	return fmt.Sprintf("%s %d TYPE%d %s", r.name, r.ttl, r.typ, r.hex)
}

// toolParseZone parses zone text record by record, each line with its own dns.NewRR, and
// returns the records and the comment lines.
func toolParseZone(t *testing.T, text string) ([]toolRecord, []string) {
	t.Helper()
	var rrs []toolRecord
	var comments []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, ";"):
			comments = append(comments, line)
		default:
			rr := NewRR(t, line)
			h := rr.Header()
			if h.Class != dns.ClassINET {
				t.Errorf("%q: class %d, want IN", line, h.Class)
			}
			rrs = append(rrs, toolRecord{strings.ToLower(h.Name), h.Rrtype, h.Ttl, RDataHex(t, rr)})
		}
	}
	return rrs, comments
}

func toolStrings(rrs []toolRecord) []string {
	var out []string
	for _, r := range rrs {
		out = append(out, r.String())
	}
	slices.Sort(out)
	return out
}

// toolKeyDir is a key directory of public keys only, with an explicit IPSECA owner.
func toolKeyDir(t *testing.T) string {
	t.Helper()
	layout := PublicLayout()
	layout["_500.host.example.com.pem"] = "vectors/keys/ed25519.pub.pem"
	return TestdataKeys(t, layout)
}

// toolSOA is the SOA and NS put in front of an export; the NS target is outside every zone.
func toolSOA(zone string) string {
	return fmt.Sprintf("%s 60 IN SOA ns.example.net. hostmaster.example.net. 1 7200 1800 1209600 60\n%s 60 IN NS ns.example.net.\n", zone, zone)
}

var toolGatewayComment = regexp.MustCompile(`^; every address in (\S+): IPSECKEY (.+)$`)

func TestToolRecordsServed(t *testing.T) {
	t.Parallel()
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	checkzone := NeedTool(t, "named-checkzone", "bind9-utils")
	ldns := NeedTool(t, "ldns-read-zone", "ldnsutils")
	cmd := Command(t)
	keys := toolKeyDir(t)
	zones := []string{"example.com.", "2.0.192.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa."}
	block := func(port string) string {
		return fmt.Sprintf(`.:%s {
    bind 127.0.0.1
    ipsecoe example.com 192.0.2.0/24 2001:db8::/32 {
        keys %s
        reload 0
        ttl 600
        ipseca 53
        dane 3 1 1
        dane 3 0 2
        gateway 192.0.2.128/25 192.0.2.254
        gateway 2001:db8:1::/64 gw.example.com 15
        gateway 2001:db8:2::/64 2001:db8::d 30
    }
}
`, port, keys)
	}
	work := t.TempDir()
	srv := StartCoreDNS(t, work, block)
	d := NewDig(dig, srv.Port)
	conf := filepath.Join(work, "Corefile.export")
	WriteFile(t, conf, []byte(block(srv.Port)))

	var all []toolRecord
	gateways := map[string]string{} // prefix -> the gateway's IPSECKEY RDATA hex
	for _, zone := range zones {
		r := Run(t, 30*time.Second, cmd, "records", keys, "-conf", conf, "-zone", zone)
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("ipsecoe records -zone %s: %s", zone, r)
		}
		out := r.Stdout
		export, comments := toolParseZone(t, out)
		if len(export) == 0 {
			t.Fatalf("-zone %s: no records\n%s", zone, out)
		}
		for _, r := range export {
			if !dns.IsSubDomain(zone, r.name) || r.ttl != 600 {
				t.Errorf("-zone %s: %s: want a name in the zone and TTL 600", zone, r)
			}
		}
		all = append(all, export...)
		for _, c := range comments {
			if m := toolGatewayComment.FindStringSubmatch(c); m != nil {
				gateways[m[1]] = RDataHex(t, NewRR(t, ". 0 IN IPSECKEY "+m[2]))
			}
		}

		// The zone: SOA and NS, then the export as it is (no $ORIGIN: every owner is
		// absolute).
		file := filepath.Join(work, "db."+strings.TrimSuffix(zone, "."))
		text := toolSOA(zone) + out
		WriteFile(t, file, []byte(text))
		zoneRRs, _ := toolParseZone(t, text)

		t.Run("named-checkzone "+zone, func(t *testing.T) {
			r := Run(t, 30*time.Second, checkzone, zone, file)
			lines := strings.Split(strings.TrimSpace(r.Stdout+r.Stderr), "\n")
			if r.Code != 0 || !slices.Equal(lines, []string{fmt.Sprintf("zone %s/IN: loaded serial 1", strings.TrimSuffix(zone, ".")), "OK"}) {
				t.Errorf("named-checkzone %s: want OK and nothing else: %s", zone, r)
			}
		})
		t.Run("ldns-read-zone "+zone, func(t *testing.T) {
			// ldns reads the zone and prints it again; its text, read back one record at
			// a time, must give the same records.
			r := Run(t, 30*time.Second, ldns, file)
			if r.Code != 0 {
				t.Fatalf("ldns-read-zone: %s", r)
			}
			printed, _ := toolParseZone(t, r.Stdout)
			if g, w := toolStrings(printed), toolStrings(zoneRRs); !slices.Equal(g, w) {
				t.Errorf("ldns-read-zone printed\n %q\nthe zone holds\n %q", g, w)
			}
			// And with every type in the RFC 3597 form: ldns's own RDATA bytes.
			r = Run(t, 30*time.Second, ldns, "-U", "SOA", file)
			if r.Code != 0 {
				t.Fatalf("ldns-read-zone -U SOA: %s", r)
			}
			var generic []toolRecord
			for line := range strings.Lines(r.Stdout) {
				if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, ";") {
					continue
				}
				if strings.Contains(line, "\tSOA\t") {
					generic = append(generic, toolRecord{})
					continue
				}
				rr, err := ParseRR(line)
				if err != nil {
					t.Fatalf("ldns-read-zone -U SOA: %v", err)
				}
				generic = append(generic, toolRecord{strings.ToLower(rr.Name), rr.Type, rr.TTL, rr.Hex})
			}
			var want []toolRecord
			for _, r := range zoneRRs {
				if r.typ == dns.TypeSOA {
					r = toolRecord{}
				}
				want = append(want, r)
			}
			if g, w := toolStrings(generic), toolStrings(want); !slices.Equal(g, w) {
				t.Errorf("ldns-read-zone -U SOA printed\n %q\nthe zone holds\n %q", g, w)
			}
		})
	}

	// The export of the whole block is the zones' exports together.
	r := Run(t, 30*time.Second, cmd, "records", "-conf", conf, keys)
	if r.Code != 0 {
		t.Fatalf("ipsecoe records: %s", r)
	}
	whole, _ := toolParseZone(t, r.Stdout)
	if g, w := toolStrings(whole), toolStrings(all); !slices.Equal(g, w) {
		t.Errorf("the whole export\n %q\nthe zones' exports\n %q", g, w)
	}

	// Every RRset of the export is what the binary serves at that name and type.
	sets := map[string][]toolRecord{}
	var order []string
	for _, r := range all {
		if _, seen := sets[r.key()]; !seen {
			order = append(order, r.key())
		}
		sets[r.key()] = append(sets[r.key()], r)
	}
	for _, typ := range []uint16{dns.TypeIPSECKEY, typeIPSECA} {
		if !slices.ContainsFunc(all, func(r toolRecord) bool { return r.typ == typ }) {
			t.Errorf("the export has no TYPE%d", typ)
		}
	}
	for _, k := range order {
		set := sets[k]
		name, qtype := set[0].name, fmt.Sprintf("TYPE%d", set[0].typ)
		a := d.Query(t, "tcp", name, qtype)
		var served, exported []string
		for _, rr := range a.Sections["ANSWER"] {
			if rr.Type != set[0].typ || !strings.EqualFold(rr.Name, name) || rr.TTL != set[0].ttl {
				t.Errorf("%s %s: answer record %s TYPE%d TTL %d, want the type asked and TTL %d", name, qtype, rr.Name, rr.Type, rr.TTL, set[0].ttl)
			}
			served = append(served, rr.Hex)
		}
		for _, r := range set {
			exported = append(exported, r.hex)
		}
		slices.Sort(served)
		slices.Sort(exported)
		if a.Status != "NOERROR" || !a.Flag("aa") || !slices.Equal(served, exported) {
			t.Errorf("%s %s: served %s %v\n %q\nexported\n %q", name, qtype, a.Status, a.Flags, served, exported)
		}
	}

	t.Logf("%d records in %d RRsets exported and served alike", len(all), len(order))

	// Every gateway prefix is a comment with the gateway's record, and an address inside
	// it without keys of its own is served exactly that record.
	if len(gateways) != 3 {
		t.Errorf("gateway comments for %d prefixes, want 3: %v", len(gateways), gateways)
	}
	for prefix, want := range gateways {
		p := netip.MustParsePrefix(prefix)
		b := p.Masked().Addr().AsSlice()
		b[len(b)-1] |= 0x77
		addr, _ := netip.AddrFromSlice(b)
		rev, err := dns.ReverseAddr(addr.String())
		if err != nil || !p.Contains(addr) {
			t.Fatalf("%s: no address inside: %v", prefix, err)
		}
		if _, own := sets[rev+" TYPE45"]; own {
			t.Fatalf("%s: %s has keys of its own", prefix, addr)
		}
		a := d.Query(t, "tcp", rev, "IPSECKEY")
		if got := Hexes(a.Sections["ANSWER"], dns.TypeIPSECKEY); a.Status != "NOERROR" || !slices.Equal(got, []string{want}) {
			t.Errorf("%s (in %s): served %s %q, the comment says %q", addr, prefix, a.Status, got, want)
		}
	}
}
