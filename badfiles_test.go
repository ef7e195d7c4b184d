package ipsecoe

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// badCorpus is every file of testdata/bad and the reason it must be refused for.
var badCorpus = map[string]string{
	"empty.pem":        reasonParse,
	"junk.pem":         reasonParse,
	"truncated.pem":    reasonParse,
	"bad-base64.pem":   reasonParse,
	"not-der.pem":      reasonParse,
	"rsa-pkcs1.key":    reasonPrivate,
	"pkcs8.key":        reasonPrivate,
	"sec1.key":         reasonPrivate,
	"openssh.key":      reasonPrivate,
	"pub-and-priv.pem": reasonPrivate,
	"rsa1024.pem":      reasonWeak,
	"dsa2048.pem":      reasonUnsupported,
	"p521.pem":         reasonUnsupported,
	"x25519.pem":       reasonUnsupported,
	"wildcard.crt":     reasonOwner,
}

func TestBadCorpusReasons(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(badCorpus) {
		t.Errorf("testdata/bad has %d files, the table %d", len(entries), len(badCorpus))
	}
	files, err := readKeyDir(filepath.Join("testdata", "bad"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		want, ok := badCorpus[f.path]
		if !ok {
			t.Errorf("%s: not in the table", f.path)
			continue
		}
		if f.err == nil || len(f.keys) != 0 || reasonOf(f.err) != want {
			t.Errorf("%s: %d keys, %v (reason %s); want refused for %s", f.path, len(f.keys), f.err, reasonOf(f.err), want)
		}
		if strings.Contains(f.err.Error(), "BEGIN") || strings.Contains(f.err.Error(), "MII") {
			t.Errorf("%s: the error quotes the file: %v", f.path, f.err)
		}
	}
}

// privateSecrets returns, for every private key in testdata/bad, the byte strings no answer
// may contain: the IPSECKEY field and SPKI of its public half, and its private scalar.
func privateSecrets(t *testing.T) map[string][][]byte {
	out := map[string][][]byte{}
	for name, reason := range badCorpus {
		if reason != reasonPrivate {
			continue
		}
		data := readTestdata(t, filepath.Join("bad", name))
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
		k, err := fromPublic(pub, spki)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = [][]byte{k.field(), spki, der[len(der)-32:]}
	}
	return out
}

// TestBadFilesInBinary starts the real binary with the whole bad corpus beside good keys, a
// symlink out of the directory, a symlink loop, an oversized file and 100,000 small files. It
// must serve the good keys, log and count each bad file once, and publish no private bytes.
func TestBadFilesInBinary(t *testing.T) {
	dig := needTool(t, "dig", "bind9-dnsutils")
	bin := integCoreDNS(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	outside := filepath.Join(dir, "outside")
	writeFile(t, filepath.Join(keys, "gw.example.com.pem"), readVector(t, "keys/ed25519.pub.pem"))
	writeFile(t, filepath.Join(keys, "192.0.2.1.pem"), readVector(t, "keys/rsa2048.pub.pem"))
	writeFile(t, filepath.Join(keys, "certs", "ns1.crt"), readVector(t, "certs/ns1-ecp256.crt"))
	// Every bad file, under an owner name so the owner rule is not what refuses it.
	for name := range badCorpus {
		owner := strings.NewReplacer(".pem", "", ".key", "", ".crt", "").Replace(name)
		if name == "wildcard.crt" {
			owner = "wildcard"
		} else {
			owner += ".example.com"
		}
		writeFile(t, filepath.Join(keys, "bad", owner+filepath.Ext(name)), readTestdata(t, filepath.Join("bad", name)))
	}
	writeFile(t, filepath.Join(outside, "out.example.com.pem"), readVector(t, "keys/ecp256.pub.pem"))
	must(t, os.Symlink(filepath.Join(outside, "out.example.com.pem"), filepath.Join(keys, "out.example.com.pem")))
	must(t, os.Symlink("loop2.example.com.pem", filepath.Join(keys, "loop1.example.com.pem")))
	must(t, os.Symlink("loop1.example.com.pem", filepath.Join(keys, "loop2.example.com.pem")))
	writeFile(t, filepath.Join(keys, "huge.example.com.pem"), bytes.Repeat([]byte("A"), maxFileSize+1))
	const many = 100_000
	manyDir := filepath.Join(keys, "many")
	must(t, os.MkdirAll(manyDir, 0o755))
	for i := range many {
		must(t, os.WriteFile(filepath.Join(manyDir, "h"+strconv.Itoa(i)+".example.com.pem"), []byte("not a key\n"), 0o644))
	}

	var metricsPort string
	s := integStart(t, bin, dig, dir, func(port string) string {
		metricsPort = integFreePort(t)
		return fmt.Sprintf(".:%s {\n bind 127.0.0.1\n prometheus 127.0.0.1:%s\n ipsecoe example.com 2.0.192.in-addr.arpa {\n  keys %s\n  reload 1s\n  ipseca 53\n }\n}\n", port, metricsPort, keys)
	})
	time.Sleep(2500 * time.Millisecond) // two more reloads: nothing may be logged or counted again

	// The good keys are served.
	for _, q := range [][2]string{{"gw.example.com.", "IPSECKEY"}, {"1.2.0.192.in-addr.arpa.", "IPSECKEY"}, {"ns1.example.com.", "IPSECKEY"}, {"_53.ns1.example.com.", "TYPE65347"}} {
		a := s.query(t, "tcp", q[0], q[1])
		if a.status != "NOERROR" || len(a.sections["ANSWER"]) == 0 {
			t.Errorf("%s %s: %s\n%s", q[0], q[1], a.status, a.raw)
		}
	}

	// Each bad file logged exactly once.
	logText := s.log.String()
	for name := range badCorpus {
		owner := strings.NewReplacer(".pem", "", ".key", "", ".crt", "").Replace(name)
		pattern := regexp.QuoteMeta("bad/" + owner)
		if n := len(regexp.MustCompile(`\[ERROR\] plugin/ipsecoe: `+pattern).FindAllString(logText, -1)); n != 1 {
			t.Errorf("%s: logged %d times, want once", name, n)
		}
	}
	for _, name := range []string{"out.example.com.pem", "loop1.example.com.pem", "loop2.example.com.pem", "huge.example.com.pem", "many/h99999.example.com.pem"} {
		if n := strings.Count(logText, "plugin/ipsecoe: "+name+":"); n != 1 {
			t.Errorf("%s: logged %d times, want once", name, n)
		}
	}
	if n := strings.Count(logText, "plugin/ipsecoe: many/"); n != many {
		t.Errorf("the %d small files were logged %d times", many, n)
	}

	// And counted once, by reason.
	want := map[string]int{}
	for _, r := range badCorpus {
		want[r]++
	}
	want[reasonSymlink] += 3
	want[reasonSize]++
	want[reasonParse] += many
	metrics := fetch(t, "http://127.0.0.1:"+metricsPort+"/metrics")
	for reason, n := range want {
		re := regexp.MustCompile(`coredns_ipsecoe_load_errors_total\{reason="` + reason + `"\} (\d+)`)
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
			all.WriteString(s.query(t, "tcp", name, qt).raw)
		}
	}
	for name := range badCorpus {
		owner := strings.NewReplacer(".pem", "", ".key", "", ".crt", "").Replace(name) + ".example.com."
		for _, qt := range []string{"IPSECKEY", "TYPE65347", "ANY"} {
			a := s.query(t, "tcp", owner, qt)
			if len(a.sections["ANSWER"]) != 0 {
				t.Errorf("%s %s: refused file answered", owner, qt)
			}
			all.WriteString(a.raw)
			all.WriteString(s.query(t, "tcp", "_53."+owner, qt).raw)
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

func fetch(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
