package test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// maxFileSize is the size of the largest key file the plugin reads.
const maxFileSize = 1 << 20

// keyField is the IPSECKEY public key field of pub: RFC 3110 for RSA, RFC 6605 for ECDSA
// (the point without its 04 prefix), RFC 8080 for Ed25519.
func keyField(pub crypto.PublicKey) ([]byte, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		e := big.NewInt(int64(pub.E)).Bytes()
		var f []byte
		if len(e) < 256 {
			f = append(f, byte(len(e)))
		} else {
			f = append(f, 0, byte(len(e)>>8), byte(len(e)))
		}
		return append(append(f, e...), pub.N.Bytes()...), nil
	case *ecdsa.PublicKey:
		point, err := pub.Bytes()
		if err != nil {
			return nil, err
		}
		return point[1:], nil
	case ed25519.PublicKey:
		return pub, nil
	}
	return nil, fmt.Errorf("no IPSECKEY field for %T", pub)
}

// privateSecrets returns, for every private key in testdata/bad, the byte strings no answer
// may contain: the IPSECKEY field and SPKI of its public half, and its private scalar.
func privateSecrets(t *testing.T) map[string][][]byte {
	out := map[string][][]byte{}
	for name, reason := range BadFiles() {
		if reason != ReasonPrivate {
			continue
		}
		data := Testdata(t, filepath.Join("bad", name))
		var priv any
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			var err error
			switch b.Type {
			case "PRIVATE KEY":
				priv, err = x509.ParsePKCS8PrivateKey(b.Bytes)
			case "RSA PRIVATE KEY":
				priv, err = x509.ParsePKCS1PrivateKey(b.Bytes)
			case "EC PRIVATE KEY":
				priv, err = x509.ParseECPrivateKey(b.Bytes)
			case "OPENSSH PRIVATE KEY":
				priv, err = ssh.ParseRawPrivateKey(data)
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if priv == nil {
			t.Fatalf("%s: no private key found", name)
		}
		if p, ok := priv.(*ed25519.PrivateKey); ok {
			priv = *p // golang.org/x/crypto/ssh returns a pointer
		}
		pub := priv.(crypto.Signer).Public()
		spki, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		field, err := keyField(pub)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = [][]byte{field, spki, der[len(der)-32:]}
	}
	return out
}

// TestBadFilesInBinary starts the real binary with the whole bad corpus beside good keys, a
// symlink out of the directory, a symlink loop, an oversized file and 100,000 small files. It
// must serve the good keys, log and count each bad file once, and publish no private bytes.
func TestBadFilesInBinary(t *testing.T) {
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	bad := BadFiles()
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	outside := filepath.Join(dir, "outside")
	WriteFile(t, filepath.Join(keys, "gw.example.com.pem"), Vector(t, "keys/ed25519.pub.pem"))
	WriteFile(t, filepath.Join(keys, "192.0.2.1.pem"), Vector(t, "keys/rsa2048.pub.pem"))
	WriteFile(t, filepath.Join(keys, "certs", "ns1.crt"), Vector(t, "certs/ns1-ecp256.crt"))
	// Every bad file, under an owner name so the owner rule is not what refuses it.
	for name := range bad {
		owner := strings.NewReplacer(".pem", "", ".key", "", ".crt", "").Replace(name)
		if name == "wildcard.crt" {
			owner = "wildcard"
		} else {
			owner += ".example.com"
		}
		WriteFile(t, filepath.Join(keys, "bad", owner+filepath.Ext(name)), Testdata(t, filepath.Join("bad", name)))
	}
	WriteFile(t, filepath.Join(outside, "out.example.com.pem"), Vector(t, "keys/ecp256.pub.pem"))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(outside, "out.example.com.pem"), filepath.Join(keys, "out.example.com.pem")))
	must(os.Symlink("loop2.example.com.pem", filepath.Join(keys, "loop1.example.com.pem")))
	must(os.Symlink("loop1.example.com.pem", filepath.Join(keys, "loop2.example.com.pem")))
	WriteFile(t, filepath.Join(keys, "huge.example.com.pem"), bytes.Repeat([]byte("A"), maxFileSize+1))
	const many = 100_000
	manyDir := filepath.Join(keys, "many")
	must(os.MkdirAll(manyDir, 0o755))
	for i := range many {
		must(os.WriteFile(filepath.Join(manyDir, "h"+strconv.Itoa(i)+".example.com.pem"), []byte("not a key\n"), 0o644))
	}

	var metricsPort string
	s := StartCoreDNS(t, dir, func(port string) string {
		metricsPort = FreePort(t)
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n prometheus 127.0.0.1:%s\n ipsecoe example.com 2.0.192.in-addr.arpa {\n  keys %s\n  reload 1s\n  ipseca 53\n }\n}\n", port, metricsPort, keys)
	})
	d := NewDig(dig, s.Port)
	time.Sleep(2500 * time.Millisecond) // two more reloads: nothing may be logged or counted again

	// The good keys are served.
	for _, q := range [][2]string{{"gw.example.com.", "IPSECKEY"}, {"1.2.0.192.in-addr.arpa.", "IPSECKEY"}, {"ns1.example.com.", "IPSECKEY"}, {"_53.ns1.example.com.", "TYPE65347"}} {
		a := d.Query(t, "tcp", q[0], q[1])
		if a.Status != "NOERROR" || len(a.Sections["ANSWER"]) == 0 {
			t.Errorf("%s %s: %s\n%s", q[0], q[1], a.Status, a.Raw)
		}
	}

	// Each bad file logged exactly once.
	logText := s.Log.String()
	for name := range bad {
		owner := strings.NewReplacer(".pem", "", ".key", "", ".crt", "").Replace(name)
		pattern := regexp.QuoteMeta("bad/" + owner)
		if n := len(regexp.MustCompile(`\[ERROR\] plugin/ipsecoe: "`+pattern).FindAllString(logText, -1)); n != 1 {
			t.Errorf("%s: logged %d times, want once", name, n)
		}
	}
	for _, name := range []string{"out.example.com.pem", "loop1.example.com.pem", "loop2.example.com.pem", "huge.example.com.pem", "many/h99999.example.com.pem"} {
		if n := strings.Count(logText, "plugin/ipsecoe: "+strconv.Quote(name)+":"); n != 1 {
			t.Errorf("%s: logged %d times, want once", name, n)
		}
	}
	if n := strings.Count(logText, `plugin/ipsecoe: "many/`); n != many {
		t.Errorf("the %d small files were logged %d times", many, n)
	}

	// And counted once, by reason.
	want := map[string]int{}
	for _, r := range bad {
		want[r]++
	}
	want[ReasonSymlink] += 3
	want[ReasonSize]++
	want[ReasonParse] += many
	metrics := Fetch(t, "http://127.0.0.1:"+metricsPort+"/metrics")
	for reason, n := range want {
		re := regexp.MustCompile(`coredns_ipsecoe_load_errors_total\{reason="` + reason + `",server="dns://127.0.0.1:\d+",view="",zones="[^"]*"\} (\d+)`)
		m := re.FindStringSubmatch(metrics)
		if m == nil || m[1] != strconv.Itoa(n) {
			t.Errorf("load_errors_total{reason=%q} = %v, want %d", reason, m, n)
		}
	}

	// No answer holds a private key or the public half of a private-key file.
	secrets := privateSecrets(t)
	var all bytes.Buffer
	for _, name := range []string{"gw.example.com.", "1.2.0.192.in-addr.arpa.", "ns1.example.com.", "_53.ns1.example.com.", "_53.gw.example.com.", "example.com."} {
		for _, qt := range []string{"IPSECKEY", "TYPE65347", "ANY"} {
			all.WriteString(d.Query(t, "tcp", name, qt).Raw)
		}
	}
	for name := range bad {
		owner := strings.NewReplacer(".pem", "", ".key", "", ".crt", "").Replace(name) + ".example.com."
		for _, qt := range []string{"IPSECKEY", "TYPE65347", "ANY"} {
			a := d.Query(t, "tcp", owner, qt)
			if len(a.Sections["ANSWER"]) != 0 {
				t.Errorf("%s %s: refused file answered", owner, qt)
			}
			all.WriteString(a.Raw)
			all.WriteString(d.Query(t, "tcp", "_53."+owner, qt).Raw)
		}
	}
	text := strings.ToLower(strings.Join(strings.Fields(all.String()), ""))
	for name, list := range secrets {
		for _, b := range list {
			if strings.Contains(text, hex.EncodeToString(b)) || strings.Contains(strings.Join(strings.Fields(all.String()), ""), base64.StdEncoding.EncodeToString(b)) {
				t.Errorf("%s: private material or its public half is in an answer", name)
			}
		}
	}
	if strings.Contains(logText, "PRIVATE KEY") || strings.Contains(logText, "MII") {
		t.Error("the log quotes key material")
	}
}
