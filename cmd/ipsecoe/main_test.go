package main

// The tests of the ipsecoe command call run directly, with the repository's key fixtures
// and the test vectors (testdata/vectors), read through the test package: check on good
// and bad directories, its JSON form and gateway lines from a Corefile, usage errors, and
// the zone text of records against the vectors' RDATA. They start no process. The tests
// that run other programs (anchor against dnssec-keygen's keys and dnssec-dsfromkey, the
// command's output in named-checkzone, ldns, delv, unbound and the CoreDNS binary) are in
// the test package (anchor_test.go, tooling_*_test.go).

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ipsecoe/ipsecoe/test"

	"github.com/miekg/dns"
)

// cmdResult is one run of the command.
type cmdResult struct {
	code           int
	stdout, stderr string
}

func (r cmdResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func runCmd(args ...string) cmdResult {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return cmdResult{code, out.String(), errb.String()}
}

// goodFiles is a key directory of public keys only, each under a name the file name rule
// reads as an owner (file name -> file of testdata).
var goodFiles = test.PublicLayout()

// goodKeyDir writes goodFiles into a new directory.
func goodKeyDir(t testing.TB) string {
	t.Helper()
	return test.TestdataKeys(t, goodFiles)
}

// listFiles returns the regular files under dir, relative, without dot names.
func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

var (
	okLine      = regexp.MustCompile(`^ok      ("(?:[^"\\]|\\.)*"): (\S.*) at (\S.*)$`)
	refusedLine = regexp.MustCompile(`^REFUSED ("(?:[^"\\]|\\.)*"): (.+) \(([a-z_]+)\)$`)
)

// checkLines splits check's text output into ok lines (path -> "KINDS at OWNERS"),
// refused file lines (path -> reason), gateway lines and warnings. Any other line fails.
func checkLines(t *testing.T, out string) (ok, refused map[string]string, gateways, warnings []string) {
	t.Helper()
	ok, refused = map[string]string{}, map[string]string{}
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "REFUSED gateway "), strings.HasPrefix(line, "REFUSED name "):
			gateways = append(gateways, line)
		case strings.HasPrefix(line, "WARNING "):
			warnings = append(warnings, line)
		case okLine.MatchString(line):
			m := okLine.FindStringSubmatch(line)
			m[1] = unquote(t, m[1])
			if _, dup := ok[m[1]]; dup {
				t.Errorf("%s: two ok lines", m[1])
			}
			ok[m[1]] = m[2] + " at " + m[3]
		case refusedLine.MatchString(line):
			m := refusedLine.FindStringSubmatch(line)
			m[1] = unquote(t, m[1])
			if _, dup := refused[m[1]]; dup {
				t.Errorf("%s: two REFUSED lines", m[1])
			}
			refused[m[1]] = m[3]
		default:
			t.Errorf("unexpected check line %q", line)
		}
	}
	return ok, refused, gateways, warnings
}

// unquote reads a path check printed with %q.
func unquote(t *testing.T, s string) string {
	t.Helper()
	u, err := strconv.Unquote(s)
	if err != nil {
		t.Errorf("path %s is not quoted: %v", s, err)
	}
	return u
}

func TestCheckGood(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  string
		want map[string]string // some ok lines, exactly
	}{
		{"examples/keys", test.Repo("examples", "keys"), map[string]string{
			"192.0.2.1.pem":      "rsa at 1.2.0.192.in-addr.arpa.",
			"gw.example.com.crt": "ecdsa-p256 at 10.2.0.192.in-addr.arpa. gw.example.com.",
		}},
		{"vectors", goodKeyDir(t), map[string]string{
			"192.0.2.1.pem":         "rsa at 1.2.0.192.in-addr.arpa.",
			"certs/ns1-ecp256.crt":  "ecdsa-p256 at 1.2.0.192.in-addr.arpa. ns1.example.com.",
			"gw.example.com.pem":    "ed25519 at gw.example.com.",
			"192.0.2.5.pub":         "rsa at 5.2.0.192.in-addr.arpa.",
			"ecdsa.example.com.pem": "ecdsa-p256 at ecdsa.example.com.",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := listFiles(t, tc.dir)
			for _, args := range [][]string{{"check", tc.dir}, {"check", "-zone", "example.com", tc.dir}} {
				r := runCmd(args...)
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("%v: want exit 0 and nothing on stderr\n%s", args, r)
				}
				ok, refused, gw, _ := checkLines(t, r.stdout)
				if len(refused) != 0 || len(gw) != 0 {
					t.Errorf("%v: refused %v %v", args, refused, gw)
				}
				if got := slices.Sorted(maps.Keys(ok)); !slices.Equal(got, files) {
					t.Errorf("%v: ok lines for\n %q\nwant one per file\n %q", args, got, files)
				}
				for path, want := range tc.want {
					if ok[path] != want {
						t.Errorf("%v: %s: %q, want %q", args, path, ok[path], want)
					}
				}
			}
		})
	}
}

// badKeyDir is goodKeyDir plus every file of testdata/bad twice: under its own name in
// bad/, and under an owner name in named/ (so the owner rule is not what refuses it; the
// SAN-less wildcard certificate keeps a name that is no owner). It returns the directory
// and the reason each bad path must be refused for.
func badKeyDir(t *testing.T) (string, map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(test.Repo("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	badCorpus := test.BadFiles()
	if want := slices.Sorted(maps.Keys(badCorpus)); !slices.Equal(names, want) {
		t.Fatalf("testdata/bad holds %q, the table %q: update test.BadFiles", names, want)
	}
	dir := goodKeyDir(t)
	want := map[string]string{}
	for name, reason := range badCorpus {
		data := test.Testdata(t, "bad/"+name)
		test.WriteFile(t, filepath.Join(dir, "bad", name), data)
		want["bad/"+name] = reason
		ext := filepath.Ext(name)
		owner := strings.TrimSuffix(name, ext) + ".example.com"
		if name == "wildcard.crt" {
			owner = "wildcard"
		}
		test.WriteFile(t, filepath.Join(dir, "named", owner+ext), data)
		want["named/"+owner+ext] = reason
	}
	return dir, want
}

func TestCheckBadCorpus(t *testing.T) {
	dir, want := badKeyDir(t)
	r := runCmd("check", dir)
	if r.code != 1 || r.stderr != "" {
		t.Fatalf("want exit 1 and nothing on stderr\n%s", r)
	}
	ok, refused, gw, warnings := checkLines(t, r.stdout)
	if len(gw) != 0 {
		t.Errorf("gateway lines without gateways: %q", gw)
	}
	for path, reason := range want {
		if refused[path] != reason {
			t.Errorf("%s: refused for %q, want %q", path, refused[path], reason)
		}
	}
	for path := range refused {
		if _, bad := want[path]; !bad {
			t.Errorf("%s: a good file is refused", path)
		}
	}
	for path := range goodFiles {
		if _, found := ok[path]; !found {
			t.Errorf("%s: no ok line beside the bad files", path)
		}
	}
	if n := len(ok) + len(refused); n != len(listFiles(t, dir)) {
		t.Errorf("%d file lines for %d files", n, len(listFiles(t, dir)))
	}
	// The SAN-less wildcard certificate also warns that its SAN was skipped.
	for _, p := range []string{"bad/wildcard.crt", "named/wildcard.crt"} {
		if !slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, "WARNING "+strconv.Quote(p)+": ") }) {
			t.Errorf("%s: no WARNING line (%q)", p, warnings)
		}
	}
	// A refusal names the file and the reason, never the key material.
	for _, bad := range []string{"BEGIN", "MII", "PRIVATE KEY-----"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("check's output quotes key material (%q)", bad)
		}
	}
}

// fileReport is the JSON object check -json prints per file; unknown fields are refused.
type fileReport struct {
	Path     string   `json:"path"`
	Owners   []string `json:"owners"`
	Keys     []string `json:"keys"`
	Refused  string   `json:"refused"`
	Error    string   `json:"error"`
	Warnings []string `json:"warnings"`
}

// jsonLines decodes check -json's output: file objects, then gateway objects.
func jsonLines(t *testing.T, out string) (map[string]fileReport, []string) {
	t.Helper()
	files := map[string]fileReport{}
	var gateways []string
	for line := range strings.Lines(out) {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("not one JSON object per line: %q: %v", line, err)
		}
		if g, isGW := raw["gateway"]; isGW {
			var s string
			if err := json.Unmarshal(g, &s); err != nil || len(raw) != 1 {
				t.Fatalf("bad gateway object %q", line)
			}
			gateways = append(gateways, s)
			continue
		}
		if len(gateways) != 0 {
			t.Errorf("file object after a gateway object: %q", line)
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var f fileReport
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if f.Path == "" {
			t.Fatalf("no path in %q", line)
		}
		if _, dup := files[f.Path]; dup {
			t.Errorf("%s: two objects", f.Path)
		}
		files[f.Path] = f
	}
	return files, gateways
}

func TestCheckJSON(t *testing.T) {
	dir, want := badKeyDir(t)
	r := runCmd("check", "-json", dir)
	if r.code != 1 || r.stderr != "" {
		t.Fatalf("want exit 1 and nothing on stderr\n%s", r)
	}
	files, gw := jsonLines(t, r.stdout)
	if len(gw) != 0 {
		t.Errorf("gateway objects without gateways: %q", gw)
	}
	if got, all := slices.Sorted(maps.Keys(files)), listFiles(t, dir); !slices.Equal(got, all) {
		t.Errorf("objects for\n %q\nwant one per file\n %q", got, all)
	}
	for path, f := range files {
		if reason, bad := want[path]; bad {
			if f.Refused != reason || f.Error == "" || len(f.Keys) != 0 || len(f.Owners) != 0 {
				t.Errorf("%s: %+v, want refused %q with an error, no keys or owners", path, f, reason)
			}
			continue
		}
		if f.Refused != "" || f.Error != "" || len(f.Keys) == 0 || len(f.Owners) == 0 {
			t.Errorf("%s: %+v, want keys and owners, not refused", path, f)
		}
	}
	ns1 := files["certs/ns1-ecp256.crt"]
	if !slices.Equal(ns1.Keys, []string{"ecdsa-p256"}) || !slices.Equal(ns1.Owners, []string{"1.2.0.192.in-addr.arpa.", "ns1.example.com."}) {
		t.Errorf("certs/ns1-ecp256.crt: %+v", ns1)
	}
	if w := files["named/wildcard.crt"].Warnings; len(w) != 1 || !strings.Contains(w[0], "*.example.com") {
		t.Errorf("named/wildcard.crt: warnings %q", w)
	}

	// A good directory: exit 0, the same objects without refusals.
	r = runCmd("check", goodKeyDir(t), "-json")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("good directory: want exit 0\n%s", r)
	}
	if files, _ := jsonLines(t, r.stdout); len(files) != len(goodFiles) {
		t.Errorf("good directory: %d objects, want %d", len(files), len(goodFiles))
	}
}

func TestCheckGateway(t *testing.T) {
	dir := goodKeyDir(t)
	conf := func(gateways ...string) string {
		path := filepath.Join(t.TempDir(), "Corefile")
		var b strings.Builder
		// The block's own keys (an empty directory) are replaced by the command's DIR.
		fmt.Fprintf(&b, ".:1053 {\n    bind 127.0.0.1\n    ipsecoe example.com 192.0.2.0/24 198.51.100.0/24 2001:db8::/32 {\n        keys %s\n", t.TempDir())
		for _, g := range gateways {
			fmt.Fprintf(&b, "        gateway %s\n", g)
		}
		b.WriteString("    }\n}\nexample.net:1053 {\n    whoami\n}\n")
		test.WriteFile(t, path, []byte(b.String()))
		return path
	}
	good := []string{"2001:db8:1::/64 gw.example.com 20", "192.0.2.128/25 192.0.2.254", "198.51.100.0/24 2001:db8::d"}

	// Every target has a key: exit 0.
	for _, args := range [][]string{{"check", dir, "-conf", conf(good...)}, {"check", "-conf", conf(good...), "-zone", "example.com", dir}} {
		if r := runCmd(args...); r.code != 0 || strings.Contains(r.stdout, "REFUSED") {
			t.Errorf("%v: all gateways have keys; want exit 0\n%s", args, r)
		}
	}

	// Targets without a key: an IPv4 address, a host name, an IPv6 address.
	missing := map[string]string{
		"gateway 198.51.100.0/24 192.0.2.77":      "77.2.0.192.in-addr.arpa.",
		"gateway 192.0.2.0/26 nokey.example.com.": "nokey.example.com.",
		"gateway 2001:db8:2::/64 2001:db8::99":    "9.9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
	}
	c := conf(append(slices.Clone(good), "198.51.100.0/24 192.0.2.77 30", "192.0.2.0/26 nokey.example.com", "2001:db8:2::/64 2001:db8::99")...)
	r := runCmd("check", dir, "-conf", c)
	if r.code != 1 {
		t.Fatalf("gateways without keys: want exit 1\n%s", r)
	}
	ok, refused, gw, _ := checkLines(t, r.stdout)
	if len(refused) != 0 || len(ok) != len(goodFiles) {
		t.Errorf("the files: %d ok, refused %v; want all %d ok", len(ok), refused, len(goodFiles))
	}
	if len(gw) != len(missing) {
		t.Errorf("%d gateway lines, want %d: %q", len(gw), len(missing), gw)
	}
	for prefix, target := range missing {
		if !slices.ContainsFunc(gw, func(l string) bool {
			return strings.HasPrefix(l, "REFUSED "+prefix+": ") && strings.Contains(l, "no key for "+strconv.Quote(target))
		}) {
			t.Errorf("no REFUSED line for %q (no key for %s) in\n%s", prefix, target, r.stdout)
		}
	}
	for _, g := range good {
		f := strings.Fields(g)
		if strings.Contains(r.stdout, "REFUSED gateway "+f[0]+" "+f[1]) {
			t.Errorf("gateway %s has a key but is refused", g)
		}
	}

	// The same with -json: one gateway object per refused gateway, after the files.
	r = runCmd("check", "-json", "-conf", c, dir)
	if r.code != 1 {
		t.Fatalf("-json: want exit 1\n%s", r)
	}
	files, gws := jsonLines(t, r.stdout)
	if len(files) != len(goodFiles) || len(gws) != len(missing) {
		t.Errorf("-json: %d file and %d gateway objects, want %d and %d\n%s", len(files), len(gws), len(goodFiles), len(missing), r.stdout)
	}
	for _, g := range gws {
		if !slices.Contains(gw, "REFUSED "+g) {
			t.Errorf("-json gateway %q is not a text line", g)
		}
	}

	// A gateway prefix outside the block's zones is a Corefile error, naming the line.
	if r := runCmd("check", dir, "-conf", conf("10.0.0.0/8 gw.example.com")); r.code != 1 || !strings.Contains(r.stderr, "Corefile:5 - Error during parsing: gateway prefix 10.0.0.0/8 is outside the zones") {
		t.Errorf("gateway outside the zones: want exit 1 and the Corefile line\n%s", r)
	}

	// A Corefile without an ipsecoe block for the zone is an error, not a check.
	if r := runCmd("check", dir, "-conf", c, "-zone", "example.org"); r.code != 1 || !strings.Contains(r.stderr, "no ipsecoe block serves example.org.") || r.stdout != "" {
		t.Errorf("-zone example.org: want exit 1 and an error\n%s", r)
	}
}

func TestUsage(t *testing.T) {
	dir := goodKeyDir(t)
	for i, args := range [][]string{
		nil,
		{"check"},
		{"records"},
		{"anchor"},
		{"check", "-json"},
		{"check", dir, dir},
		{"records", dir, "-zone", "example.com", dir},
		{"anchor", "a.key", "b.key"},
		{"nope", dir},
		{"help"},
		{"check", "-nope", dir},
		{"check", dir, "-zone"},
		{"check", dir, "-json=maybe"},
	} {
		r := runCmd(args...)
		if r.code != 2 || r.stdout != "" || r.stderr == "" {
			t.Errorf("Test %d: %q: want exit 2, nothing on stdout, a message on stderr\n%s", i, args, r)
		}
	}
	// Errors that are not usage errors exit 1.
	for i, args := range [][]string{
		{"check", filepath.Join(dir, "nonexistent")},
		{"records", filepath.Join(dir, "nonexistent")},
		{"check", dir, "-conf", filepath.Join(dir, "nonexistent")},
		{"anchor", filepath.Join(dir, "nonexistent.key")},
		{"anchor", filepath.Join(dir, "gw.example.com.pem")},
	} {
		r := runCmd(args...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, "ipsecoe "+args[0]+": ") {
			t.Errorf("Test %d: %q: want exit 1 and an error\n%s", i, args, r)
		}
	}
}

// vectorWire returns the RDATA hex of the vector cases, by id.
func vectorWire(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range test.LoadVectors(t).Cases {
		out[c.ID] = strings.ToLower(c.WireHex)
		if want := fmt.Sprintf(`\# %d %s`, len(c.WireHex)/2, strings.ToLower(c.WireHex)); c.RFC3597 != "" && strings.ToLower(c.RFC3597) != want {
			t.Fatalf("vector %s: rfc3597 %q and wire_hex disagree", c.ID, c.RFC3597)
		}
	}
	return out
}

// spki311 is the RDATA of IPSECA 3 1 1 for the public key of a PEM or DER file.
func spki311(t *testing.T, data []byte) string {
	t.Helper()
	if b, _ := pem.Decode(data); b != nil {
		data = b.Bytes
	}
	if _, err := x509.ParsePKIXPublicKey(data); err != nil {
		t.Fatalf("not a SubjectPublicKeyInfo: %v", err)
	}
	return test.IPSECA311(data)
}

// exportRR is one record line of records' output.
type exportRR struct {
	line string
	rr   dns.RR
	hex  string
}

// parseExport splits records' output into comment lines and records, each record parsed
// on its own with dns.NewRR.
func parseExport(t *testing.T, out string) (comments []string, rrs []exportRR) {
	t.Helper()
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, ";"):
			comments = append(comments, line)
		case strings.TrimSpace(line) == "":
			t.Errorf("blank line in the export")
		default:
			rr := test.NewRR(t, line)
			rrs = append(rrs, exportRR{line, rr, test.RDataHex(t, rr)})
		}
	}
	return comments, rrs
}

// key of an RRset: lower-case owner and type.
func rrsetKey(name string, typ uint16) string {
	if typ == 65347 {
		return strings.ToLower(name) + " TYPE65347"
	}
	return strings.ToLower(name) + " " + dns.Type(typ).String()
}

func TestRecords(t *testing.T) {
	dir := goodKeyDir(t)
	wire := vectorWire(t)
	vec := func(id string) string {
		t.Helper()
		h, ok := wire[id]
		if !ok {
			t.Fatalf("vectors.json has no case %s", id)
		}
		return h
	}
	showhostkey := func(name string) string {
		t.Helper()
		return test.RDataHex(t, test.NewRR(t, strings.TrimSpace(string(test.Testdata(t, "showhostkey/"+name)))))
	}
	conf := filepath.Join(t.TempDir(), "Corefile")
	test.WriteFile(t, conf, []byte(fmt.Sprintf(`.:1053 {
    ipsecoe example.com 192.0.2.0/24 2001:db8::/32 {
        keys %s
        ttl 300
        ipseca 53
        dane 3 1 1
        dane 3 0 2
        gateway 192.0.2.128/25 192.0.2.254 10
        gateway 2001:db8:1::/64 gw.example.com 10
    }
}
`, t.TempDir())))
	var (
		rsa311  = spki311(t, test.Vector(t, "keys/rsa2048.pub.der"))
		ecp311  = spki311(t, test.Vector(t, "keys/ecp256.pub.der"))
		ed311   = spki311(t, test.Vector(t, "keys/ed25519.pub.der"))
		lsw311  = spki311(t, test.Vector(t, "keys/lsw_rsa_122269ea.pub.der"))
		sRSA311 = spki311(t, test.Testdata(t, "showhostkey/rsa.pem"))
		sEC311  = spki311(t, test.Testdata(t, "showhostkey/ecdsa.pem"))
		v6d     = "d.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
	)
	const ipseca = "TYPE65347"
	want := map[string][]string{
		"1.2.0.192.in-addr.arpa. IPSECKEY":        {vec("ipseckey/rsa2048/gw0"), vec("ipseckey/ecp256/gw0")},
		"_53.1.2.0.192.in-addr.arpa. " + ipseca:   {rsa311, vec("ipseca/ns1-ecp256/311"), vec("ipseca/ns1-ecp256/302")},
		"4.2.0.192.in-addr.arpa. IPSECKEY":        {vec("ipseckey/ecp256/gw0")},
		"_53.4.2.0.192.in-addr.arpa. " + ipseca:   {ecp311},
		"5.2.0.192.in-addr.arpa. IPSECKEY":        {showhostkey("rsa.ipseckey")},
		"_53.5.2.0.192.in-addr.arpa. " + ipseca:   {sRSA311},
		"254.2.0.192.in-addr.arpa. IPSECKEY":      {vec("ipseckey/rsa2048/gw0"), vec("ipseckey/rsa2048/gw1")}, // inside its own prefix
		"_53.254.2.0.192.in-addr.arpa. " + ipseca: {rsa311},
		v6d + " IPSECKEY":                         {vec("ipseckey/lsw_rsa_122269ea/gw0")},
		"_53." + v6d + " " + ipseca:               {lsw311},
		"ecdsa.example.com. IPSECKEY":             {showhostkey("ecdsa.ipseckey")},
		"_53.ecdsa.example.com. " + ipseca:        {sEC311},
		"gw.example.com. IPSECKEY":                {vec("ipseckey/ed25519/gw0")},
		"_53.gw.example.com. " + ipseca:           {ed311},
		"ns1.example.com. IPSECKEY":               {vec("ipseckey/ecp256/gw0")},
		"_53.ns1.example.com. " + ipseca:          {vec("ipseca/ns1-ecp256/311"), vec("ipseca/ns1-ecp256/302")},
	}
	wantZones := map[string]string{"example.com.": "", "2.0.192.in-addr.arpa.": "", "8.b.d.0.1.0.0.2.ip6.arpa.": ""}

	r := runCmd("records", dir, "-conf", conf)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("want exit 0\n%s", r)
	}
	comments, rrs := parseExport(t, r.stdout)
	got := map[string][]string{}
	for _, e := range rrs {
		h := e.rr.Header()
		if h.Ttl != 300 || h.Class != dns.ClassINET || h.Name != strings.ToLower(h.Name) {
			t.Errorf("%q: want class IN, TTL 300, a lower-case owner", e.line)
		}
		k := rrsetKey(h.Name, h.Rrtype)
		got[k] = append(got[k], e.hex)
		switch h.Rrtype {
		case 65347:
			// RFC 3597 text, as other servers load it: TYPE65347 \# LEN HEX.
			if f := strings.Fields(e.line); len(f) != 7 || f[3] != ipseca || f[4] != `\#` || f[5] != fmt.Sprint(len(e.hex)/2) || f[6] != e.hex {
				t.Errorf("IPSECA line %q: want NAME TTL IN TYPE65347 \\# LEN HEX", e.line)
			}
		case dns.TypeIPSECKEY:
			if !strings.Contains(e.line, "\tIPSECKEY\t") {
				t.Errorf("IPSECKEY line %q is not in presentation form", e.line)
			}
		default:
			t.Errorf("unexpected record %q", e.line)
		}
	}
	for k, w := range want {
		if g := got[k]; !slices.Equal(slices.Sorted(slices.Values(g)), slices.Sorted(slices.Values(w))) {
			t.Errorf("%s:\n got  %q\n want %q", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected RRset %s: %q", k, got[k])
		}
	}
	// Names in DNSSEC canonical order, the records of one name together.
	for i := 1; i < len(rrs); i++ {
		a, b := rrs[i-1].rr.Header().Name, rrs[i].rr.Header().Name
		if a != b && test.CanonicalCompare(a, b) > 0 {
			t.Errorf("records out of canonical order: %s before %s", a, b)
		}
	}

	// The comments: a header naming the directory and the zones, then one per gateway key,
	// "every address in PREFIX: IPSECKEY RDATA", in the gateway's RDATA.
	if len(comments) != 3 {
		t.Fatalf("comments %q, want a header and two gateway lines", comments)
	}
	if h := comments[0]; !strings.HasPrefix(h, "; records of the key directory "+dir+" for ") {
		t.Errorf("header %q", h)
	} else {
		for _, z := range strings.Fields(strings.TrimPrefix(h, "; records of the key directory "+dir+" for ")) {
			delete(wantZones, z)
		}
		if len(wantZones) != 0 {
			t.Errorf("header %q lacks zones %v", h, wantZones)
		}
	}
	for prefix, id := range map[string]string{"192.0.2.128/25": "ipseckey/rsa2048/gw1", "2001:db8:1::/64": "ipseckey/ed25519/gw3"} {
		found := false
		for _, c := range comments[1:] {
			rest, ok := strings.CutPrefix(c, "; every address in "+prefix+": IPSECKEY ")
			if !ok {
				continue
			}
			found = true
			if g := test.RDataHex(t, test.NewRR(t, "x. 0 IN IPSECKEY "+rest)); g != vec(id) {
				t.Errorf("gateway comment %q: RDATA %s, want %s (%s)", c, g, vec(id), id)
			}
		}
		if !found {
			t.Errorf("no comment for the gateway prefix %s in %q", prefix, comments)
		}
	}

	// -zone limits the records to one zone; the zones together give the whole export.
	var union []string
	for zone := range map[string]bool{"example.com.": true, "2.0.192.in-addr.arpa.": true, "8.b.d.0.1.0.0.2.ip6.arpa.": true} {
		r := runCmd("records", "-zone", zone, "-conf", conf, dir)
		if r.code != 0 {
			t.Fatalf("-zone %s: want exit 0\n%s", zone, r)
		}
		_, zrrs := parseExport(t, r.stdout)
		if len(zrrs) == 0 {
			t.Errorf("-zone %s: no records", zone)
		}
		for _, e := range zrrs {
			if !dns.IsSubDomain(zone, e.rr.Header().Name) {
				t.Errorf("-zone %s: %q is outside the zone", zone, e.line)
			}
			union = append(union, e.line)
		}
	}
	var all []string
	for _, e := range rrs {
		all = append(all, e.line)
	}
	slices.Sort(union)
	slices.Sort(all)
	if !slices.Equal(union, all) {
		t.Errorf("the per-zone exports (%d records) differ from the whole export (%d)", len(union), len(all))
	}

	// Without -conf: host keys only, no IPSECA, no gateway comments; every owner of the
	// directory, whatever the zone (the block is for the root zone).
	r = runCmd("records", dir)
	if r.code != 0 {
		t.Fatalf("without -conf: want exit 0\n%s", r)
	}
	comments, rrs = parseExport(t, r.stdout)
	if len(comments) != 1 {
		t.Errorf("without -conf: comments %q, want the header only", comments)
	}
	for _, e := range rrs {
		if e.rr.Header().Rrtype != dns.TypeIPSECKEY || !strings.HasPrefix(e.hex, "0a00") || e.rr.Header().Ttl != 3600 {
			t.Errorf("without -conf: %q, want host IPSECKEY records with TTL 3600", e.line)
		}
	}
	if n, w := len(rrs), 9; n != w {
		t.Errorf("without -conf: %d records, want %d", n, w)
	}
}

// TestRecordsZoneCIDR: -zone in the CIDR form the Corefile accepts (192.0.2.0/24) must
// either export that reverse zone or fail; it must not print an empty export that
// looks like a key directory without keys.
func TestRecordsZoneCIDR(t *testing.T) {
	dir := goodKeyDir(t)
	byName := runCmd("records", dir, "-zone", "2.0.192.in-addr.arpa")
	_, want := parseExport(t, byName.stdout)
	if byName.code != 0 || len(want) == 0 {
		t.Fatalf("-zone 2.0.192.in-addr.arpa: want records\n%s", byName)
	}
	r := runCmd("records", dir, "-zone", "192.0.2.0/24")
	if r.code == 0 {
		if _, got := parseExport(t, r.stdout); len(got) != len(want) {
			t.Errorf("records %s -zone 192.0.2.0/24: exit 0 with %d records; -zone 2.0.192.in-addr.arpa gives %d\n%s", dir, len(got), len(want), r)
		}
	}
}
