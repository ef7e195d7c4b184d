package test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// These tests feed the binary key files that anyone who can write a Secret or request a
// certificate can make, sized at and past the limits of the index and of a DNS message.

// limitsCorefile serves example.com, 2001:db8::/32 and 10.0.0.0/8 from dir, polled every
// second; extra goes into the ipsecoe block, before it what goes into the server block.
func limitsCorefile(dir, before, extra string) func(port string) string {
	return func(port string) string {
		return ".:" + port + " {\n    bind 127.0.0.1\n" + before +
			"    ipsecoe example.com 2001:db8::/32 10.0.0.0/8 {\n        keys " + dir + "\n        reload 1s\n" + extra + "    }\n}\n"
	}
}

// waitLog waits up to 20 s for the server's log to contain s.
func waitLog(t *testing.T, srv *Server, s string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(srv.Log.String(), s) {
			return
		}
	}
	t.Fatalf("the log never said %q:\n%s", s, srv.Log.String())
}

// reverseName is the reverse name of ip.
func reverseName(t *testing.T, ip string) string {
	t.Helper()
	r, err := dns.ReverseAddr(ip)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestManySANsServed publishes every SAN of certificates whose owner lists pass 64 KiB: at
// startup, and copied into the directory of the running server.
func TestManySANsServed(t *testing.T) {
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	dir, keys := t.TempDir(), t.TempDir()
	v6 := Addrs("2001:db8::", 1000)
	WriteFile(t, filepath.Join(keys, "v6.crt"), PEM("CERTIFICATE", Cert(t, v6, nil, 0, 0)))
	// Sized so that a 16-bit owner-list length would wrap onto an entry boundary.
	edge := Addrs("2001:db8:1::", 872)
	WriteFile(t, filepath.Join(keys, "edge.crt"), PEM("CERTIFICATE", Cert(t, edge, []string{"edge.example.com"}, 0, 0)))
	WriteFile(t, filepath.Join(keys, "ns1.example.com.pem"), Vector(t, "keys/ed25519.pub.pem"))
	srv := StartCoreDNS(t, dir, limitsCorefile(keys, "", ""))
	d := NewDig(dig, srv.Port)

	names := []string{"edge.example.com."}
	for _, set := range [][]string{{v6[0].String(), v6[500].String(), v6[999].String()}, {edge[0].String(), edge[871].String()}} {
		for _, ip := range set {
			names = append(names, reverseName(t, ip))
		}
	}
	for _, name := range names {
		if a := d.Query(t, "tcp", name, "IPSECKEY"); a.Status != "NOERROR" || len(a.Sections["ANSWER"]) != 1 {
			t.Errorf("%s IPSECKEY: %s with %d records, want one", name, a.Status, len(a.Sections["ANSWER"]))
		}
	}

	// 2,400 IPv4 SANs arrive while the server runs: the next reload serves them.
	v4 := Addrs("10.0.0.1", 2400)
	WriteFile(t, filepath.Join(keys, "v4.crt"), PEM("CERTIFICATE", Cert(t, v4, nil, 0, 0)))
	last := reverseName(t, v4[2399].String())
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if Answers(srv.Port, last, dns.TypeIPSECKEY, dns.RcodeSuccess) {
			if a := d.Query(t, "tcp", last, "IPSECKEY"); len(a.Sections["ANSWER"]) == 1 {
				break
			}
		}
		select {
		case <-srv.Exited():
			t.Fatalf("the server exited with %d on the reload:\n%s", srv.ExitCode(), srv.Log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not served after the reload:\n%s", last, srv.Log.String())
		}
	}

	// The check before shipping says the same, without a panic.
	out, err := exec.Command(Command(t), "check", keys).CombinedOutput()
	if err != nil || strings.Contains(string(out), "panic") {
		t.Fatalf("ipsecoe check: %v\n%s", err, out)
	}
	for _, line := range []string{`ok      "v6.crt": ed25519 at `, `ok      "edge.crt": ed25519 at `, `ok      "v4.crt": ed25519 at `} {
		if !strings.Contains(string(out), line) {
			t.Errorf("ipsecoe check: no line %q", line)
		}
	}
	if n := strings.Count(string(out), ".ip6.arpa."); n != 1000+872 {
		t.Errorf("ipsecoe check lists %d IPv6 owners, want %d", n, 1000+872)
	}
}

// TestLargeCertificateServed publishes, for a certificate too large for a record, the
// digest of its real SubjectPublicKeyInfo and nothing else: no truncated certificate, no
// record made of bytes the certificate's author chose.
func TestLargeCertificateServed(t *testing.T) {
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	dir, keys := t.TempDir(), t.TempDir()
	// The extension is chosen by the certificate's author: were the certificate cut short
	// and the rest read as records, they would be made of its bytes.
	der := Cert(t, nil, []string{"victim.example.com"}, 70_000, 0xab)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, filepath.Join(keys, "victim.crt"), PEM("CERTIFICATE", der))
	WriteFile(t, filepath.Join(keys, "ns1.example.com.pem"), Vector(t, "keys/ed25519.pub.pem"))
	srv := StartCoreDNS(t, dir, limitsCorefile(keys, "", "        ipseca 500\n        dane 3 0 0\n        dane 3 1 1\n"))
	d := NewDig(dig, srv.Port)

	digest := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	want := "030101" + hex.EncodeToString(digest[:])
	a := d.Query(t, "tcp", "_500.victim.example.com.", "TYPE65347")
	got := Hexes(a.Sections["ANSWER"], 65347)
	if a.Status != "NOERROR" || len(got) != 1 || got[0] != want {
		t.Errorf("_500.victim.example.com: %s, records %q; want only %s", a.Status, got, want)
	}
	waitLog(t, srv, `"victim.crt": key 1: IPSECA 3 0 0 left out`)

	// ipsecoe check reports it, and fails.
	conf := filepath.Join(dir, "Corefile.check")
	WriteFile(t, conf, []byte(limitsCorefile(keys, "", "        ipseca 500\n        dane 3 0 0\n        dane 3 1 1\n")("1053")))
	out, err := exec.Command(Command(t), "check", "-conf", conf, keys).CombinedOutput()
	if code := exitCode(err); code != 1 || !strings.Contains(string(out), `OMITTED "victim.crt": key 1: IPSECA 3 0 0 left out`) {
		t.Errorf("ipsecoe check: exit %d, want 1 and an OMITTED line:\n%s", code, out)
	}
}

func exitCode(err error) int {
	if e, ok := err.(*exec.ExitError); ok {
		return e.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestBundleFitsMessage keeps a name's RRset within one TCP message with its signatures:
// 2,000 Ed25519 keys in one file give a complete, signed answer that delv validates, and a
// log line names what was left out.
func TestBundleFitsMessage(t *testing.T) {
	v := NeedValidators(t)
	dir, keys := t.TempDir(), t.TempDir()
	WriteFile(t, filepath.Join(keys, "bundle.example.com.pem"), Ed25519Bundle(t, 2000))
	WriteFile(t, filepath.Join(keys, "ns1.example.com.pem"), Vector(t, "keys/ed25519.pub.pem"))
	base, key := Keygen(t, v.Keygen, dir, "example.com.", true)
	delvAnchor, _ := WriteAnchors(t, dir, "anchor", []*dns.DNSKEY{key})
	srv := StartCoreDNS(t, dir, limitsCorefile(keys, "    dnssec example.com {\n        key file "+base+"\n    }\n", ""))
	d := NewDig(v.Dig, srv.Port)

	a := d.Query(t, "tcp", "bundle.example.com.", "IPSECKEY", "+dnssec")
	keysServed := 0
	for _, rr := range a.Sections["ANSWER"] {
		if rr.Type == dns.TypeIPSECKEY {
			keysServed++
		}
	}
	if a.Status != "NOERROR" || a.Flag("tc") || keysServed != 1319 || len(Hexes(a.Sections["ANSWER"], dns.TypeRRSIG)) == 0 {
		t.Errorf("bundle over TCP: %s, tc %v, %d IPSECKEY, %d RRSIG; want 1319 and a signature, whole",
			a.Status, a.Flag("tc"), keysServed, len(Hexes(a.Sections["ANSWER"], dns.TypeRRSIG)))
	}
	if out := Delv(t, v.Delv, srv.Port, delvAnchor, "example.com.", "bundle.example.com.", "IPSECKEY"); !strings.Contains(out, "; fully validated") {
		t.Errorf("delv: not validated:\n%.2000s", out)
	}
	waitLog(t, srv, `name "bundle.example.com.": 681 of its 2000 records left out (from "bundle.example.com.pem")`)
}

// TestForgedLogLines quotes file names in the log and in check's output, so that a name
// with line breaks or terminal escapes forges nothing.
func TestForgedLogLines(t *testing.T) {
	dir, keys := t.TempDir(), t.TempDir()
	evil := "x.pem: bad\n[INFO] plugin/ipsecoe: loaded 5 IPSECKEY records, all files ok\n\x1b[31m[ERROR] evil.pem"
	WriteFile(t, filepath.Join(keys, evil), []byte("junk")) // a directory "x.pem: bad\n[INFO] plugin" and a file in it
	WriteFile(t, filepath.Join(keys, "ns1.example.com.pem"), Vector(t, "keys/ed25519.pub.pem"))
	srv := StartCoreDNS(t, dir, limitsCorefile(keys, "", ""))
	waitLog(t, srv, `[ERROR] plugin/ipsecoe: "x.pem: bad\n[INFO] plugin/ipsecoe: loaded 5 IPSECKEY records, all files ok\n\x1b[31m[ERROR] evil.pem": `)
	out, _ := exec.Command(Command(t), "check", keys).CombinedOutput()
	for name, text := range map[string]string{"log": srv.Log.String(), "ipsecoe check": string(out)} {
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "[INFO] plugin/ipsecoe: loaded 5") || strings.HasPrefix(line, "[ERROR] evil.pem") || strings.ContainsRune(line, 0x1b) {
				t.Errorf("%s: forged line %q", name, line)
			}
		}
	}
}

// TestSharedOwnerLogged names the files that publish one name.
func TestSharedOwnerLogged(t *testing.T) {
	dir, keys := t.TempDir(), t.TempDir()
	WriteFile(t, filepath.Join(keys, "gw.example.com.pem"), Vector(t, "keys/ed25519.pub.pem"))
	WriteFile(t, filepath.Join(keys, "tenant-b.crt"), PEM("CERTIFICATE", Cert(t, nil, []string{"gw.example.com"}, 0, 0)))
	srv := StartCoreDNS(t, dir, limitsCorefile(keys, "", ""))
	waitLog(t, srv, `[WARNING] plugin/ipsecoe: name "gw.example.com." is published from several files: "gw.example.com.pem", "tenant-b.crt"`)
	m := new(dns.Msg)
	m.SetQuestion("gw.example.com.", dns.TypeIPSECKEY)
	r, err := dns.Exchange(m, srv.Addr())
	if err != nil || len(r.Answer) != 2 {
		t.Errorf("gw.example.com: %v %v; want both keys", err, r)
	}
}
