package test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// These tests make the binary a hidden primary: Knot DNS and BIND transfer its zones and are
// told of every change of the key set by NOTIFY alone, their own timers a day long.

// secondaryZones are the zones the binary serves and the secondaries transfer.
var secondaryZones = []string{"example.com.", "2.0.192.in-addr.arpa."}

// secondaryReload is the binary's poll interval: a secondary must serve a change within it
// and five seconds.
const secondaryReload = time.Second

// gatewayOnly is an address of the gateway prefix of secondaryCorefile that no key file
// names: the binary answers for it, a transfer cannot list it.
const gatewayOnly = "192.0.2.200"

// secondaryCorefile serves secondaryZones from keys with IPSECA at _500 and a gateway
// prefix, polled every second, with transfers to the addresses to; extra goes into the
// ipsecoe block.
func secondaryCorefile(keys, to, extra string) func(port string) string {
	return func(port string) string {
		return ".:" + port + " {\n    bind 127.0.0.1\n" +
			"    ipsecoe example.com 2.0.192.in-addr.arpa {\n        keys " + keys + "\n" +
			fmt.Sprintf("        reload %s\n", secondaryReload) +
			"        ipseca 500\n        gateway 192.0.2.128/25 gw.example.com\n" +
			"        ns ns.example.net\n" + extra + "    }\n" + // a name server with addresses of its own
			"    transfer {\n        to " + to + "\n    }\n}\n"
	}
}

// secondaryKeys is a key directory with the certificate of ns1.example.com (SANs
// ns1.example.com and 192.0.2.1), the gateway's key and the key of 192.0.2.10.
func secondaryKeys(t *testing.T) string {
	keys := t.TempDir()
	WriteFile(t, filepath.Join(keys, "ns1.crt"), Vector(t, "certs/ns1-ecp256.crt"))
	WriteFile(t, filepath.Join(keys, "gw.example.com.pem"), Vector(t, "keys/ed25519.pub.pem"))
	WriteFile(t, filepath.Join(keys, "192.0.2.10.pem"), Vector(t, "keys/ecp256.pub.pem"))
	return keys
}

// axfr transfers zone from the server on port with dig, asking from the address src, and
// returns the records in the RFC 3597 form and dig's output.
func axfr(t *testing.T, dig, port, src, zone string) ([]RR, string) {
	t.Helper()
	out := Exec(t, 20*time.Second, dig, "@127.0.0.1", "-p", port, "-b", src, "+time=3", "+tries=1",
		"+unknownformat", "+noall", "+answer", zone, "AXFR")
	rrs, err := ParseRecords(out)
	if err != nil {
		t.Fatalf("dig AXFR %s: %v\n%s", zone, err, out)
	}
	return rrs, out
}

// zoneNames transfers every zone from the binary and returns its owner names, checking
// that each transfer is a zone: SOA first and last, NS, nothing outside the zone.
func zoneNames(t *testing.T, dig, port string) []string {
	t.Helper()
	var names []string
	for _, zone := range secondaryZones {
		rrs, out := axfr(t, dig, port, "127.0.0.1", zone)
		if len(rrs) < 3 || rrs[0].Type != dns.TypeSOA || rrs[len(rrs)-1].Type != dns.TypeSOA || len(Hexes(rrs, dns.TypeNS)) != 1 {
			t.Fatalf("AXFR %s: not SOA, NS ... SOA:\n%s", zone, out)
		}
		for _, rr := range rrs {
			if !dns.IsSubDomain(zone, strings.ToLower(rr.Name)) {
				t.Errorf("AXFR %s: %s is outside the zone", zone, rr.Name)
			}
			names = append(names, strings.ToLower(rr.Name))
		}
	}
	return Set(names)
}

// served asks the server on port for the IPSECKEY and IPSECA of every name, and the SOA and
// NS of the zones, and returns each answer's status and records (TTL, type, RDATA),
// keyed by the question.
func served(t *testing.T, dig, port string, names []string) map[string]string {
	t.Helper()
	d := NewDig(dig, port)
	out := map[string]string{}
	ask := func(name, qtype string) {
		a := d.Query(t, "udp", name, qtype)
		var rrs []string
		for _, rr := range a.Sections["ANSWER"] {
			rrs = append(rrs, fmt.Sprintf("%s %d TYPE%d %s", strings.ToLower(rr.Name), rr.TTL, rr.Type, rr.Hex))
		}
		slices.Sort(rrs)
		out[name+" "+qtype] = a.Status + " [" + strings.Join(rrs, ", ") + "]"
	}
	for _, zone := range secondaryZones {
		ask(zone, "SOA")
		ask(zone, "NS")
	}
	for _, name := range names {
		ask(name, "IPSECKEY")
		ask(name, "TYPE65347")
	}
	return out
}

// diffServed lists the questions whose answers differ.
func diffServed(got, want map[string]string) []string {
	var diffs []string
	for q, w := range want {
		if g := got[q]; g != w {
			diffs = append(diffs, fmt.Sprintf("%s:\n    got  %s\n    want %s", q, g, w))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// secondary is a running secondary of the binary.
type secondary struct {
	name string
	srv  *Server
}

// TestSecondaries runs Knot DNS and BIND as secondaries of the binary: they transfer both
// zones and serve every record byte for byte as the binary does; named-checkzone accepts the
// transferred zones; a key file added, changed and removed reaches both within the reload
// interval and five seconds, through NOTIFY (their timers are a day), the serial rising each
// time; and a transfer to an address outside the transfer block's to is refused.
func TestSecondaries(t *testing.T) {
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	checkzone := NeedTool(t, "named-checkzone", "bind9-utils")
	knotd := NeedDaemon(t, "knotd", "knot")
	named := NeedDaemon(t, "named", "bind9")

	keys := secondaryKeys(t)
	knotPort, namedPort := FreePort(t), FreePort(t)
	for namedPort == knotPort {
		namedPort = FreePort(t)
	}
	to := "127.0.0.1:" + knotPort + " 127.0.0.1:" + namedPort
	begin := time.Now()
	srv := StartCoreDNS(t, t.TempDir(), secondaryCorefile(keys, to, ""))
	secs := []secondary{
		{"knotd", StartKnot(t, knotd, knotPort, srv.Addr(), secondaryZones, false)},
		{"named", StartNamed(t, named, namedPort, srv.Addr(), secondaryZones, false)},
	}
	t.Logf("binary, knotd and named serving the zones in %.2fs", time.Since(begin).Seconds())
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\nbinary output:\n%s", append(args, srv.Log.String())...)
	}

	names := zoneNames(t, dig, srv.Port)
	want := served(t, dig, srv.Port, names)

	t.Run("transfer", func(t *testing.T) {
		var ipseckeys, ipsecas int
		for _, zone := range secondaryZones {
			rrs, _ := axfr(t, dig, srv.Port, "127.0.0.1", zone)
			ipseckeys += len(Hexes(rrs, dns.TypeIPSECKEY))
			ipsecas += len(Hexes(rrs, 65347))
		}
		if ipseckeys < 3 || ipsecas < 3 {
			t.Errorf("the transfers hold %d IPSECKEY and %d IPSECA records, want at least 3 of each", ipseckeys, ipsecas)
		}
		for _, n := range []string{"gw.example.com.", "_500.ns1.example.com.", Reverse(t, "192.0.2.1"), Reverse(t, "192.0.2.10")} {
			if !slices.Contains(names, n) {
				t.Errorf("the transfers do not hold %s: %v", n, names)
			}
		}
		for _, s := range secs {
			if diffs := diffServed(served(t, dig, s.srv.Port, names), want); len(diffs) > 0 {
				t.Errorf("%s does not serve what the binary does:\n%s", s.name, strings.Join(diffs, "\n"))
			}
		}
		// An address only the gateway prefix covers: the binary answers, the transfer could
		// not list it, so the secondaries know no such name.
		gw := Reverse(t, gatewayOnly)
		if a := NewDig(dig, srv.Port).Query(t, "udp", gw, "IPSECKEY"); a.Status != "NOERROR" || len(a.Sections["ANSWER"]) != 1 {
			t.Errorf("binary: %s IPSECKEY: %s with %d records, want the gateway's", gw, a.Status, len(a.Sections["ANSWER"]))
		}
		for _, s := range secs {
			if a := NewDig(dig, s.srv.Port).Query(t, "udp", gw, "IPSECKEY"); a.Status != "NXDOMAIN" {
				t.Errorf("%s: %s IPSECKEY: %s, want NXDOMAIN (a gateway prefix's addresses are not transferred)", s.name, gw, a.Status)
			}
		}
	})

	t.Run("named-checkzone", func(t *testing.T) {
		for _, zone := range secondaryZones {
			out := Exec(t, 20*time.Second, dig, "@127.0.0.1", "-p", srv.Port, "+time=3", "+tries=1", "+noall", "+answer", zone, "AXFR")
			file := filepath.Join(t.TempDir(), "db."+strings.TrimSuffix(zone, "."))
			WriteFile(t, file, []byte(out))
			got := Exec(t, 20*time.Second, checkzone, zone, file)
			if !strings.HasSuffix(strings.TrimSpace(got), "\nOK") {
				t.Errorf("named-checkzone refuses the transferred zone %s:\n%s\nthe transfer:\n%s", zone, got, out)
			}
		}
	})

	// Each change is made at once (a file renamed into the directory, over another, or
	// removed) and must reach both secondaries within the reload interval and five seconds.
	staging := t.TempDir()
	put := func(name string, data []byte) {
		tmp := filepath.Join(staging, name)
		WriteFile(t, tmp, data)
		if err := os.Rename(tmp, filepath.Join(keys, name)); err != nil {
			t.Fatal(err)
		}
	}
	serial, err := SOASerial(srv.Addr(), secondaryZones[0])
	if err != nil {
		fail("%v", err)
	}
	for _, step := range []struct {
		what   string
		change func()
	}{
		{"added 192.0.2.20.pem", func() { put("192.0.2.20.pem", Vector(t, "keys/rsa2048.pub.pem")) }},
		{"changed gw.example.com.pem", func() { put("gw.example.com.pem", Vector(t, "keys/ecp256.pub.pem")) }},
		{"removed 192.0.2.10.pem", func() {
			if err := os.Remove(filepath.Join(keys, "192.0.2.10.pem")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		notified := map[string]int{}
		for _, s := range secs {
			for _, zone := range secondaryZones {
				notified[s.name+" "+zone] = Notifies(s.srv.Log.String(), zone)
			}
		}
		start := time.Now()
		step.change()
		deadline := start.Add(secondaryReload + 5*time.Second)
		watches := make([]<-chan caught, len(secs))
		for i, s := range secs {
			watches[i] = watch(s.srv.Addr(), serial, start, deadline)
		}

		// The binary: a new serial for every zone, later than the last in RFC 1982 terms and
		// no earlier than the change.
		var next uint32
		for {
			s, err := SOASerial(srv.Addr(), secondaryZones[0])
			if err == nil && s != serial {
				next = s
				break
			}
			if time.Now().After(deadline) {
				fail("%s: the binary still serves serial %d (%v) %v after the change", step.what, serial, err, time.Since(start))
			}
			time.Sleep(20 * time.Millisecond)
		}
		binTook := time.Since(start)
		if !SerialAfter(next, serial) || next < uint32(start.Unix()) {
			t.Errorf("%s: serial %d after %d: want a later serial, no earlier than the change (%d)", step.what, next, serial, start.Unix())
		}
		for _, zone := range secondaryZones[1:] {
			if s, err := SOASerial(srv.Addr(), zone); err != nil || s != next {
				t.Errorf("%s: the binary's serial of %s is %d (%v), of %s %d", step.what, zone, s, err, secondaryZones[0], next)
			}
		}
		newNames := zoneNames(t, dig, srv.Port)
		all := Set(append(slices.Clone(names), newNames...))
		before := want
		want = served(t, dig, srv.Port, all)
		if len(diffServed(before, want)) == 0 {
			t.Errorf("%s: the binary serves the same records as before", step.what)
		}

		// The secondaries, watched from the change on.
		took := map[string]time.Duration{}
		for i, s := range secs {
			c := <-watches[i]
			if !c.ok {
				fail("%s: %s not at a new serial in every zone %v after the change (the limit: reload %v + 5s): %v, the binary's %d",
					step.what, s.name, c.after, secondaryReload, c.serials, next)
			}
			for zone, got := range c.serials {
				if got != next {
					t.Errorf("%s: %s went from serial %d to %d in %s, the binary to %d", step.what, s.name, serial, got, zone, next)
				}
			}
			took[s.name] = c.after
		}
		for _, s := range secs {
			if diffs := diffServed(served(t, dig, s.srv.Port, all), want); len(diffs) > 0 {
				t.Errorf("%s: %s at serial %d does not serve what the binary does:\n%s", step.what, s.name, next, strings.Join(diffs, "\n"))
			}
			for _, zone := range secondaryZones {
				if n := Notifies(s.srv.Log.String(), zone); n <= notified[s.name+" "+zone] {
					t.Errorf("%s: %s logged no NOTIFY for %s", step.what, s.name, zone)
				}
			}
		}
		t.Logf("%s: binary at serial %d after %.2fs; knotd after %.2fs, named after %.2fs",
			step.what, next, binTook.Seconds(), took["knotd"].Seconds(), took["named"].Seconds())
		serial, names = next, newNames
	}

	t.Run("refused", func(t *testing.T) {
		// The transfer block's to lists 127.0.0.1 only.
		for _, zone := range secondaryZones {
			for _, q := range []string{"AXFR", fmt.Sprintf("IXFR=%d", serial-1)} {
				out := Exec(t, 20*time.Second, dig, "@127.0.0.1", "-p", srv.Port, "-b", outsideClient, "+time=3", "+tries=1",
					"+unknownformat", "+noall", "+answer", zone, q)
				if rrs, err := ParseRecords(out); err != nil || len(rrs) > 0 || !strings.Contains(out, "Transfer failed") {
					t.Errorf("dig -b %s %s %s: want a failed transfer:\n%s", outsideClient, zone, q, out)
				}
			}
			m := new(dns.Msg)
			m.SetAxfr(zone)
			c := &dns.Client{Net: "tcp", Timeout: 3 * time.Second,
				Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(outsideClient)}}}
			r, _, err := c.Exchange(m, srv.Addr())
			if err != nil || r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
				t.Errorf("AXFR %s from %s: %v %v, want REFUSED and nothing", zone, outsideClient, err, r)
			}
		}
	})
}

// caught is when a secondary served a serial other than the one it had, in every zone.
type caught struct {
	serials map[string]uint32 // by zone, those it reached
	after   time.Duration     // from the change
	ok      bool              // false: the deadline passed first
}

// watch polls the SOA of every zone at addr every 20 ms from start until each has a serial
// other than old, or until deadline.
func watch(addr string, old uint32, start, deadline time.Time) <-chan caught {
	ch := make(chan caught, 1)
	go func() {
		seen := map[string]uint32{}
		for {
			for _, zone := range secondaryZones {
				if _, done := seen[zone]; !done {
					if s, err := SOASerial(addr, zone); err == nil && s != old {
						seen[zone] = s
					}
				}
			}
			if len(seen) == len(secondaryZones) || time.Now().After(deadline) {
				ch <- caught{serials: seen, after: time.Since(start), ok: len(seen) == len(secondaryZones)}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return ch
}

// TestTransferUnderAllow transfers no IPSECA when the block has allow: the secondaries'
// clients are not the binary's to choose. The allowed client still gets the record by query.
func TestTransferUnderAllow(t *testing.T) {
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	keys := secondaryKeys(t)
	// Nobody listens at the to address: the NOTIFY after the first load goes unanswered.
	srv := StartCoreDNS(t, t.TempDir(), secondaryCorefile(keys, "127.0.0.1:"+FreePort(t), "        allow "+allowedClient+"/32\n"))
	if a := NewDig(dig, srv.Port).Query(t, "udp", "_500.ns1.example.com.", "TYPE65347", "-b", allowedClient); a.Status != "NOERROR" || len(Hexes(a.Sections["ANSWER"], 65347)) != 1 {
		t.Fatalf("_500.ns1.example.com. TYPE65347 from %s: %s, want the record\n%s", allowedClient, a.Status, a.Raw)
	}
	for _, zone := range secondaryZones {
		rrs, out := axfr(t, dig, srv.Port, allowedClient, zone)
		if len(rrs) < 3 || rrs[0].Type != dns.TypeSOA || rrs[len(rrs)-1].Type != dns.TypeSOA {
			t.Fatalf("AXFR %s: not a zone:\n%s", zone, out)
		}
		if len(Hexes(rrs, dns.TypeIPSECKEY)) == 0 || len(Hexes(rrs, 65347)) != 0 {
			t.Errorf("AXFR %s under allow: %d IPSECKEY and %d IPSECA records, want IPSECKEY and no IPSECA:\n%s",
				zone, len(Hexes(rrs, dns.TypeIPSECKEY)), len(Hexes(rrs, 65347)), out)
		}
	}
}

// TestSigningSecondaries has Knot DNS and BIND sign the zones they transfer, with keys of
// their own, as an organisation that keeps its DNSSEC keys on its own servers would: each
// serves every IPSECKEY and IPSECA of the binary, byte for byte, with its signature.
func TestSigningSecondaries(t *testing.T) {
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	knotd := NeedDaemon(t, "knotd", "knot")
	named := NeedDaemon(t, "named", "bind9")
	keys := secondaryKeys(t)
	knotPort, namedPort := FreePort(t), FreePort(t)
	for namedPort == knotPort {
		namedPort = FreePort(t)
	}
	srv := StartCoreDNS(t, t.TempDir(), secondaryCorefile(keys, "127.0.0.1:"+knotPort+" 127.0.0.1:"+namedPort, ""))
	names := zoneNames(t, dig, srv.Port)
	binary := NewDig(dig, srv.Port)
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) *Server
	}{
		{"knotd", func(t *testing.T) *Server { return StartKnot(t, knotd, knotPort, srv.Addr(), secondaryZones, true) }},
		{"named", func(t *testing.T) *Server { return StartNamed(t, named, namedPort, srv.Addr(), secondaryZones, true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDig(dig, tc.start(t).Port)
			signed := 0
			for _, name := range names {
				for _, qtype := range []string{"IPSECKEY", "TYPE65347"} {
					typ := Type(t, qtype)
					want := Set(Hexes(binary.Query(t, "udp", name, qtype).Sections["ANSWER"], typ))
					if len(want) == 0 {
						continue
					}
					a := d.Query(t, "tcp", name, qtype, "+dnssec")
					if got := Set(Hexes(a.Sections["ANSWER"], typ)); !slices.Equal(got, want) {
						t.Errorf("%s: %s\n got  %q\n want %q", tc.name, a.Question, got, want)
					}
					covered := false
					for _, sig := range Hexes(a.Sections["ANSWER"], dns.TypeRRSIG) {
						covered = covered || sig[:4] == fmt.Sprintf("%04x", typ)
					}
					if !covered {
						t.Errorf("%s: %s: no RRSIG over the records:\n%s", tc.name, a.Question, a.Raw)
					}
					signed++
				}
			}
			if signed < 6 {
				t.Errorf("%s: %d signed RRsets, want at least 6", tc.name, signed)
			}
		})
	}
}
