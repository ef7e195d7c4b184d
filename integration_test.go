package ipsecoe

// The integration test builds the real CoreDNS binary of cmd/coredns, serves a key directory
// made from the test vectors and asks it with the real dig, over UDP and TCP. It checks
// the RDATA bytes against the vectors, the header of every answer, truncation of a large
// RRset, and that a private key in the directory never leaks into any answer.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// integVectorsDir holds the test vectors (testdata/README.md).
var integVectorsDir = filepath.Join("testdata", "vectors")

// integBuild holds the CoreDNS binary built for the integration tests. It is built the first
// time a test asks for it (so other tests never pay for it) and removed when the last test
// using it has finished; a later test builds it again, from the warm build cache.
var integBuild struct {
	mu    sync.Mutex
	users int
	dir   string
	path  string
}

// integCoreDNS returns the path of the custom CoreDNS binary, building it once.
func integCoreDNS(t *testing.T) string {
	t.Helper()
	b := &integBuild
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.users == 0 {
		goTool, err := exec.LookPath("go")
		if err != nil {
			t.Fatalf("go tool not found: %v", err)
		}
		dir, err := os.MkdirTemp("", "ipsecoe-coredns-")
		if err != nil {
			t.Fatalf("temp dir for the binary: %v", err)
		}
		path := filepath.Join(dir, "coredns")
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", path, "./cmd/coredns")
		if out, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			t.Fatalf("go build ./cmd/coredns: %v\n%s", err, out)
		}
		b.dir, b.path = dir, path
	}
	b.users++
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.users--
		if b.users == 0 {
			os.RemoveAll(b.dir)
			b.dir, b.path = "", ""
		}
	})
	return b.path
}

// integVectors is the part of vectors.json the test uses.
type integVectors struct {
	Cases []struct {
		ID      string `json:"id"`
		WireHex string `json:"wire_hex"`
	} `json:"cases"`
	BadInputs []struct {
		File  string `json:"file"`
		Naive *struct {
			Alg    int    `json:"alg"`
			KeyB64 string `json:"key_b64"`
		} `json:"naive_derived_ipseckey"`
	} `json:"bad_inputs"`
}

func integReadVector(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(integVectorsDir, name))
	if err != nil {
		t.Fatalf("vector file: %v", err)
	}
	return data
}

// integSyncBuffer collects the server's output; exec writes it from its own goroutines.
type integSyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *integSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *integSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// integRR is one record as dig prints it with +unknownformat.
type integRR struct {
	name  string
	ttl   uint32
	class string
	typ   uint16
	hex   string // lower-case RDATA hex
}

// integAnswer is one dig run, parsed.
type integAnswer struct {
	question string // what was asked: "NAME QTYPE over PROTO"
	raw      string
	status   string
	flags    []string
	proto    string // UDP or TCP, from dig's SERVER line
	sections map[string][]integRR
}

func (a *integAnswer) flag(f string) bool { return slices.Contains(a.flags, f) }

// integParseDig reads dig's default output. RDATA must be in the RFC 3597 form (+unknownformat)
// for records in the sections to parse; the presentation form is kept in raw only.
func integParseDig(out string, unknownFormat bool) (*integAnswer, error) {
	a := &integAnswer{raw: out, sections: map[string][]integRR{}}
	section := ""
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.Contains(line, "->>HEADER<<-"):
			_, rest, _ := strings.Cut(line, "status: ")
			a.status, _, _ = strings.Cut(rest, ",")
		case strings.HasPrefix(line, ";; flags:"):
			f, _, _ := strings.Cut(strings.TrimPrefix(line, ";; flags:"), ";")
			a.flags = strings.Fields(f)
		case strings.HasPrefix(line, ";; SERVER:"):
			if i := strings.LastIndexByte(line, '('); i >= 0 {
				a.proto = strings.TrimSuffix(line[i+1:], ")")
			}
		case strings.HasPrefix(line, ";; ") && strings.HasSuffix(line, " SECTION:"):
			section = strings.TrimSuffix(strings.TrimPrefix(line, ";; "), " SECTION:")
			if _, ok := a.sections[section]; !ok {
				a.sections[section] = []integRR{}
			}
		case line == "" || strings.HasPrefix(line, ";"):
			section = ""
		case section != "" && unknownFormat:
			rr, err := integParseRR(line)
			if err != nil {
				return nil, fmt.Errorf("%s section: %w", section, err)
			}
			a.sections[section] = append(a.sections[section], rr)
		}
	}
	if a.status == "" {
		return nil, errors.New("no header in dig output")
	}
	return a, nil
}

// integParseRR reads "NAME TTL CLASS TYPE \# LEN HEX...".
func integParseRR(line string) (integRR, error) {
	f := strings.Fields(line)
	if len(f) < 6 || f[4] != `\#` {
		return integRR{}, fmt.Errorf("not an RFC 3597 record: %q", line)
	}
	ttl, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return integRR{}, fmt.Errorf("bad TTL in %q", line)
	}
	var typ uint16
	if n, ok := strings.CutPrefix(f[3], "TYPE"); ok {
		v, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return integRR{}, fmt.Errorf("bad type in %q", line)
		}
		typ = uint16(v)
	} else if typ, ok = dns.StringToType[f[3]]; !ok {
		return integRR{}, fmt.Errorf("unknown type in %q", line)
	}
	n, err := strconv.Atoi(f[5])
	if err != nil {
		return integRR{}, fmt.Errorf("bad RDATA length in %q", line)
	}
	h := strings.ToLower(strings.Join(f[6:], ""))
	if b, err := hex.DecodeString(h); err != nil || len(b) != n {
		return integRR{}, fmt.Errorf("RDATA is not %d bytes of hex in %q", n, line)
	}
	return integRR{name: f[0], ttl: uint32(ttl), class: f[2], typ: typ, hex: h}, nil
}

// integServer is a running CoreDNS and the dig answers it gave.
type integServer struct {
	dig  string
	port string
	log  *integSyncBuffer

	mu   sync.Mutex
	seen []*integAnswer // every answer of the test, for the private key checks
}

// integFreePort finds a port free for both UDP and TCP on 127.0.0.1.
func integFreePort(t *testing.T) string {
	t.Helper()
	for range 20 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			continue
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		tl.Close()
		if err != nil {
			continue
		}
		ul.Close()
		return strconv.Itoa(port)
	}
	t.Fatal("no port free for both UDP and TCP on 127.0.0.1")
	return ""
}

// integStart runs bin with the Corefile made by corefile(port) and waits until it answers.
// It retries with another port when the server dies at once (the port was taken meanwhile).
func integStart(t *testing.T, bin, dig, dir string, corefile func(port string) string) *integServer {
	t.Helper()
	var lastLog string
	for attempt := range 3 {
		port := integFreePort(t)
		conf := filepath.Join(dir, fmt.Sprintf("Corefile.%d", attempt))
		if err := os.WriteFile(conf, []byte(corefile(port)), 0o644); err != nil {
			t.Fatal(err)
		}
		s := &integServer{dig: dig, port: port, log: &integSyncBuffer{}}
		cmd := exec.Command(bin, "-conf", conf)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = s.log, s.log
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting coredns: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			select {
			case <-exited:
				return
			default:
			}
			cmd.Process.Kill() // this server's own PID
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Errorf("coredns (pid %d) did not exit after kill", cmd.Process.Pid)
			}
		}
		if s.waitReady(exited) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("coredns output:\n%s", s.log.String())
				}
			})
			return s
		}
		stop()
		lastLog = s.log.String()
	}
	t.Fatalf("coredns did not start answering; its last output:\n%s", lastLog)
	return nil
}

// waitReady polls with dig for up to 60 seconds (a loaded machine, a large key directory)
// until the server gives an SOA.
func (s *integServer) waitReady(exited <-chan struct{}) bool {
	deadline := time.Now().Add(60 * time.Second)
	for range 600 {
		select {
		case <-exited:
			return false
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		out, err := s.run(3*time.Second, "+time=1", "+tries=1", "example.com.", "SOA")
		if err == nil && strings.Contains(out, "status: NOERROR") {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func (s *integServer) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args = append([]string{"@127.0.0.1", "-p", s.port, "+norec"}, args...)
	out, err := exec.CommandContext(ctx, s.dig, args...).CombinedOutput()
	return string(out), err
}

// query asks name/qtype over proto ("udp" or "tcp") with +unknownformat and parses the reply.
// Over UDP it passes +ignore, so a truncated reply is seen as such, not retried over TCP.
func (s *integServer) query(t *testing.T, proto, name, qtype string, extra ...string) *integAnswer {
	t.Helper()
	return s.ask(t, true, proto, name, qtype, extra...)
}

func (s *integServer) ask(t *testing.T, unknownFormat bool, proto, name, qtype string, extra ...string) *integAnswer {
	t.Helper()
	args := []string{"+time=3", "+tries=1"}
	if unknownFormat {
		args = append(args, "+unknownformat")
	}
	wantProto := "UDP"
	switch proto {
	case "udp":
		args = append(args, "+ignore")
	case "tcp":
		args = append(args, "+tcp")
		wantProto = "TCP"
	default:
		t.Fatalf("bad proto %q", proto)
	}
	args = append(append(args, extra...), name, qtype)
	out, err := s.run(15*time.Second, args...)
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	a, err := integParseDig(out, unknownFormat)
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	a.question = name + " " + qtype + " over " + wantProto
	if a.proto != wantProto {
		t.Fatalf("dig %s: answered over %q, want %s\n%s", strings.Join(args, " "), a.proto, wantProto, out)
	}
	s.mu.Lock()
	s.seen = append(s.seen, a)
	s.mu.Unlock()
	return a
}

// integIPSECA311 is the RDATA of "IPSECA 3 1 1" for a SubjectPublicKeyInfo.
func integIPSECA311(spki []byte) string {
	sum := sha256.Sum256(spki)
	return "030101" + hex.EncodeToString(sum[:])
}

// integRSAHostKey is the RDATA of "IPSECKEY 10 0 2 . <key>" for an RSA key with e = 65537.
func integRSAHostKey(t *testing.T, pub *rsa.PublicKey) string {
	t.Helper()
	if pub.E != 65537 {
		t.Fatalf("exponent %d, want 65537", pub.E)
	}
	// RFC 3110: exponent length 3, exponent 01 00 01, modulus.
	return "0a0002" + "03010001" + hex.EncodeToString(pub.N.Bytes())
}

func integSet(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}

func integHexes(rrs []integRR, typ uint16) []string {
	var out []string
	for _, rr := range rrs {
		if rr.typ == typ {
			out = append(out, rr.hex)
		}
	}
	return out
}

func TestIntegration(t *testing.T) {
	dig := needTool(t, "dig", "bind9-dnsutils")
	if _, err := os.Stat(filepath.Join(integVectorsDir, "vectors.json")); err != nil {
		t.Fatalf("test vectors: %v", err)
	}

	var vf integVectors
	if err := json.Unmarshal(integReadVector(t, "vectors.json"), &vf); err != nil {
		t.Fatalf("vectors.json: %v", err)
	}
	wire := map[string]string{}
	for _, c := range vf.Cases {
		wire[c.ID] = strings.ToLower(c.WireHex)
	}
	vec := func(id string) string {
		t.Helper()
		h, ok := wire[id]
		if !ok || h == "" {
			t.Fatalf("vectors.json has no case %s", id)
		}
		return h
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
		rsa311 = integIPSECA311(integReadVector(t, "keys/rsa2048.pub.der"))
		ecp311 = integIPSECA311(integReadVector(t, "keys/ecp256.pub.der"))
		ed311  = integIPSECA311(integReadVector(t, "keys/ed25519.pub.der"))
		lsw311 = integIPSECA311(integReadVector(t, "keys/lsw_rsa_122269ea.pub.der"))
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
	rsaPEM := integReadVector(t, "keys/rsa2048.pub.pem")
	ecpPEM := integReadVector(t, "keys/ecp256.pub.pem")
	privPEM := integReadVector(t, "bad/private-ecp256.pkcs8.pem")
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
	put("2001-db8--d.der", integReadVector(t, "keys/lsw_rsa_122269ea.pub.der"))
	put("4.2.0.192.in-addr.arpa.pem", ecpPEM)
	put("gw.example.com.pem", integReadVector(t, "keys/ed25519.pub.pem"))
	put("198.51.100.5.pem", ecpPEM) // a host with its own key inside a gateway prefix
	put("ns1-ecp256.crt", integReadVector(t, "certs/ns1-ecp256.crt"))
	put("private-ecp256.pkcs8.pem", privPEM)
	put("truncated.pub.pem", integReadVector(t, "bad/truncated.pub.pem"))
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
		bigKeys = append(bigKeys, integRSAHostKey(t, &k.PublicKey))
		big311 = append(big311, integIPSECA311(spki))
	}
	put("big.example.com.pem", bigPEM...)

	bin := integCoreDNS(t)
	srv := integStart(t, bin, dig, t.TempDir(), func(port string) string {
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

	rev := func(a string) string {
		t.Helper()
		r, err := dns.ReverseAddr(a)
		if err != nil {
			t.Fatal(err)
		}
		return r
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
					a := srv.query(t, proto, tc.name, tc.qtype)
					if a.status != "NOERROR" {
						t.Errorf("Test %d: %s %s: status %s, want NOERROR", i, tc.name, tc.qtype, a.status)
					}
					if !a.flag("aa") {
						t.Errorf("Test %d: %s %s: no aa flag (flags %v)", i, tc.name, tc.qtype, a.flags)
					}
					if a.flag("tc") {
						t.Errorf("Test %d: %s %s: tc flag set", i, tc.name, tc.qtype)
					}
					ans := a.sections["ANSWER"]
					for _, rr := range ans {
						if rr.typ != qt || !strings.EqualFold(rr.name, tc.name) || rr.class != "CLASS1" {
							t.Errorf("Test %d: %s %s: unexpected answer record %s %s TYPE%d", i, tc.name, tc.qtype, rr.name, rr.class, rr.typ)
						}
						if qt != dns.TypeNS && rr.ttl != defaultTTL {
							t.Errorf("Test %d: %s %s: TTL %d, want %d", i, tc.name, tc.qtype, rr.ttl, defaultTTL)
						}
					}
					got := integHexes(ans, qt)
					if len(got) != len(tc.want) {
						t.Errorf("Test %d: %s %s: %d records, want %d", i, tc.name, tc.qtype, len(got), len(tc.want))
					}
					if g, w := integSet(got), integSet(tc.want); !slices.Equal(g, w) {
						t.Errorf("Test %d: %s %s: RRset\n got  %q\n want %q", i, tc.name, tc.qtype, g, w)
					}
					if n := len(a.sections["AUTHORITY"]); n != 0 {
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
				a := srv.query(t, proto, zone, "SOA")
				ans := a.sections["ANSWER"]
				if a.status != "NOERROR" || !a.flag("aa") || len(ans) != 1 || ans[0].typ != dns.TypeSOA || !strings.EqualFold(ans[0].name, zone) {
					t.Errorf("Test %d: %s SOA over %s: status %s flags %v answer %+v, want NOERROR aa and one SOA at the apex", i, zone, proto, a.status, a.flags, ans)
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
					a := srv.query(t, proto, tc.name, tc.qtype)
					if a.status != tc.rcode {
						t.Errorf("Test %d: %s %s: status %s, want %s", i, tc.name, tc.qtype, a.status, tc.rcode)
					}
					if !a.flag("aa") {
						t.Errorf("Test %d: %s %s: no aa flag (flags %v)", i, tc.name, tc.qtype, a.flags)
					}
					if n := len(a.sections["ANSWER"]); n != 0 {
						t.Errorf("Test %d: %s %s: %d answer records, want none", i, tc.name, tc.qtype, n)
					}
					ns := a.sections["AUTHORITY"]
					if len(ns) != 1 || ns[0].typ != dns.TypeSOA || !strings.EqualFold(ns[0].name, tc.zone) {
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
			a := srv.query(t, "udp", big, "IPSECKEY", tc.opts...)
			if !a.flag("tc") {
				t.Errorf("Test %d: %s over UDP (%s): no tc flag (flags %v, %d answers)", i, big, tc.name, a.flags, len(a.sections["ANSWER"]))
			}
		}
		a := srv.query(t, "tcp", big, "IPSECKEY")
		if a.status != "NOERROR" || !a.flag("aa") || a.flag("tc") {
			t.Errorf("%s over TCP: status %s flags %v, want NOERROR aa, no tc", big, a.status, a.flags)
		}
		got := integHexes(a.sections["ANSWER"], dns.TypeIPSECKEY)
		if len(got) != 6 || !slices.Equal(integSet(got), integSet(bigKeys)) {
			t.Errorf("%s over TCP: %d records\n got  %q\n want %q", big, len(got), integSet(got), integSet(bigKeys))
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
				srv.query(t, "tcp", o, qt)
			}
			for _, qt := range []string{"IPSECKEY", "ANY"} {
				srv.ask(t, false, "tcp", o, qt) // presentation form: keys in base64
			}
		}

		srv.mu.Lock()
		seen := slices.Clone(srv.seen)
		srv.mu.Unlock()
		if len(seen) < 100 {
			t.Fatalf("only %d answers were collected", len(seen))
		}
		for i, a := range seen {
			flat := strings.Join(strings.Fields(a.raw), "")
			if strings.Contains(flat, naive) {
				t.Errorf("Test %d: %s: the private key's public half (base64) is in the answer:\n%s", i, a.question, a.raw)
			}
			lower := strings.ToLower(flat)
			for what, h := range forbiddenHex {
				if strings.Contains(lower, h) {
					t.Errorf("Test %d: %s: %s is in the answer:\n%s", i, a.question, what, a.raw)
				}
			}
			for _, line := range pemLines {
				if strings.Contains(flat, line) {
					t.Errorf("Test %d: %s: private key file content is in the answer:\n%s", i, a.question, a.raw)
				}
			}
			for _, rrs := range a.sections {
				for _, rr := range rrs {
					for what, h := range forbiddenHex {
						if strings.Contains(rr.hex, h) {
							t.Errorf("Test %d: %s: %s is in the RDATA of %s TYPE%d", i, a.question, what, rr.name, rr.typ)
						}
					}
				}
			}
		}
	})

	t.Run("log", func(t *testing.T) {
		out := srv.log.String()
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
