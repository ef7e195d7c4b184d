package ipsecoe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/ipsecoe/ipsecoe/internal/index"
	"github.com/ipsecoe/ipsecoe/internal/keyfile"

	"github.com/miekg/dns"
)

// keysAt returns the IPSECKEY rdata at n.
func keysAt(n index.Node) []index.Record { return n.IPSECKEYs(nil) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// kubeletDir lays files out as the kubelet does for a Secret volume: a timestamped
// folder, ..data pointing at it, and visible names that are symlinks through ..data.
func kubeletDir(t testing.TB, dir, stamp string, files map[string][]byte) {
	t.Helper()
	ts := filepath.Join(dir, "..2026_11_22_"+stamp)
	for name, data := range files {
		writeFile(t, filepath.Join(ts, name), data)
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err != nil {
			must(t, os.Symlink(filepath.Join("..data", name), link))
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	must(t, os.Symlink(filepath.Base(ts), tmp))
	must(t, os.Rename(tmp, filepath.Join(dir, "..data"))) // atomic swap
}

func TestReloadKubeletSwap(t *testing.T) {
	dir := t.TempDir()
	rsa := e2e.Vector(t, "keys/rsa2048.pub.pem")
	ed := e2e.Vector(t, "keys/ed25519.pub.pem")
	kubeletDir(t, dir, "01", map[string][]byte{"gw.example.com.pem": rsa, "192.0.2.1.pem": ed})
	p := newTestPlugin(t, dir, "")
	first := p.idx.Load()
	n, _ := first.Lookup("gw.example.com.")
	if len(keysAt(n)) != 1 || keysAt(n)[0].Algorithm != keyfile.AlgRSA {
		t.Fatalf("first load: %v", keysAt(n))
	}
	if first.FileCount() != 2 {
		t.Fatalf("read %d files, want 2 (the ..data folders are not read twice)", first.FileCount())
	}

	// Nothing changed: the index stays the same object.
	p.load()
	if p.idx.Load() != first {
		t.Error("an unchanged directory swapped the index")
	}

	// The kubelet swaps ..data: gw gets the Ed25519 key, 192.0.2.1 breaks and keeps its key.
	kubeletDir(t, dir, "02", map[string][]byte{"gw.example.com.pem": ed, "192.0.2.1.pem": []byte("garbage")})
	p.load()
	second := p.idx.Load()
	if second == first {
		t.Fatal("the swap was not seen")
	}
	if n, _ := second.Lookup("gw.example.com."); len(keysAt(n)) != 1 || keysAt(n)[0].Algorithm != keyfile.AlgEdDSA {
		t.Errorf("after swap gw.example.com has %v", keysAt(n))
	}
	if n, ok := second.Lookup("1.2.0.192.in-addr.arpa."); !ok || len(keysAt(n)) != 1 {
		t.Error("a file that stopped parsing lost its last good key")
	}
	if second.Serial() == first.Serial() {
		t.Error("the serial did not change with the key set")
	}
	f := second.PrevFile("192.0.2.1.pem")
	if f == nil || f.Err == nil || !f.Kept {
		t.Errorf("broken file not marked as kept: %+v", f)
	}

	// A removed file's records go.
	must(t, os.Remove(filepath.Join(dir, "192.0.2.1.pem")))
	p.load()
	if _, ok := p.idx.Load().Lookup("1.2.0.192.in-addr.arpa."); ok {
		t.Error("a removed file's records stayed")
	}
}

func TestReloadDirectorySymlinkSwap(t *testing.T) {
	// git-sync style: the key directory itself is a symlink that is swapped.
	base := t.TempDir()
	a, b := filepath.Join(base, "rev-a"), filepath.Join(base, "rev-b")
	writeFile(t, filepath.Join(a, "gw.example.com.pem"), e2e.Vector(t, "keys/rsa2048.pub.pem"))
	writeFile(t, filepath.Join(b, "gw.example.com.pem"), e2e.Vector(t, "keys/ecp256.pub.pem"))
	link := filepath.Join(base, "keys")
	must(t, os.Symlink("rev-a", link))
	p := newTestPlugin(t, link, "")
	tmp := filepath.Join(base, "keys.tmp")
	must(t, os.Symlink("rev-b", tmp))
	must(t, os.Rename(tmp, link))
	p.load()
	if n, _ := p.idx.Load().Lookup("gw.example.com."); len(keysAt(n)) != 1 || keysAt(n)[0].Algorithm != keyfile.AlgECDSA {
		t.Errorf("after the directory swap gw.example.com has %v", keysAt(n))
	}
}

func TestGatewayWithoutKey(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "gw.example.com.pem"), e2e.Vector(t, "keys/ed25519.pub.pem"))
	writeFile(t, filepath.Join(dir, "192.0.2.254.pem"), e2e.Vector(t, "keys/rsa2048.pub.pem"))
	writeFile(t, filepath.Join(dir, "2001-db8--4.pem"), e2e.Vector(t, "keys/ecp256.pub.pem"))
	p := newTestPlugin(t, dir, "gateway 10.9.0.0/16 192.0.2.77")
	ix := p.idx.Load()
	if len(ix.Errors()) != 1 || keyfile.Reason(ix.Errors()[0]) != keyfile.ReasonGateway || !strings.Contains(ix.Errors()[0].Error(), "192.0.2.77") {
		t.Errorf("gateway errors: %v", ix.Errors())
	}
	// The other gateways and keys still serve.
	if n, ok := ix.Lookup("1.1.1.10.in-addr.arpa."); !ok || len(keysAt(n)) != 1 {
		t.Error("10.1.0.0/16 gateway lost")
	}
	if _, ok := ix.Lookup("1.1.9.10.in-addr.arpa."); ok {
		t.Error("a gateway without a key answers")
	}
}

func TestReloadInPlace(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gw.example.com.pem")
	writeFile(t, file, e2e.Vector(t, "keys/rsa2048.pub.pem"))
	c := caddy.NewTestController("dns", "ipsecoe example.com {\n keys "+dir+"\n}")
	p, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if p.Ready() {
		t.Fatal("ready before the first load")
	}
	p.load()
	if !p.Ready() {
		t.Fatal("not ready after the first load")
	}
	// Rewritten in place, with a new modification time: read again.
	writeFile(t, file, e2e.Vector(t, "keys/ed25519.pub.pem"))
	must(t, os.Chtimes(file, time.Now().Add(time.Minute), time.Now().Add(time.Minute)))
	p.load()
	if n, _ := p.idx.Load().Lookup("gw.example.com."); len(keysAt(n)) != 1 || keysAt(n)[0].Algorithm != keyfile.AlgEdDSA {
		t.Errorf("in-place rewrite not seen: %v", keysAt(n))
	}
	// A new file appears.
	writeFile(t, filepath.Join(dir, "new.example.com.pem"), e2e.Vector(t, "keys/ecp256.pub.pem"))
	p.load()
	if _, ok := p.idx.Load().Lookup("new.example.com."); !ok {
		t.Error("a new file's key did not appear")
	}
}

func TestNotReadyWithoutDirectory(t *testing.T) {
	c := caddy.NewTestController("dns", "ipsecoe example.com {\n keys "+filepath.Join(t.TempDir(), "missing")+"\n}")
	p, err := parse(c)
	if err != nil {
		t.Fatalf("a missing key directory must not stop setup: %v", err)
	}
	p.load()
	if p.Ready() {
		t.Error("ready without a key directory")
	}
	rcode, err := p.ServeDNS(context.Background(), dnstest.NewRecorder(&test.ResponseWriter{}), test.Case{Qname: "gw.example.com.", Qtype: dns.TypeIPSECKEY}.Msg())
	if rcode != dns.RcodeServerFailure || err == nil {
		t.Errorf("before the first load: rcode %d, err %v; want SERVFAIL", rcode, err)
	}
}

// TestFullScanDue checks how often a large directory whose directories did not change has
// every file stat'ed: every fullScanEvery polls, or after ten times as long as the last
// full read took, paced.
func TestFullScanDue(t *testing.T) {
	tests := []struct {
		reload, took time.Duration
		polls        int
		due          bool
	}{
		{5 * time.Second, 100 * time.Millisecond, fullScanEvery - 1, false},
		{5 * time.Second, 100 * time.Millisecond, fullScanEvery, true},
		{5 * time.Second, 40 * time.Second, fullScanEvery, false},
		{5 * time.Second, 40 * time.Second, 80, false},
		{5 * time.Second, 40 * time.Second, 81, true},
		{time.Minute, 40 * time.Second, fullScanEvery, true},
		{0, time.Hour, fullScanEvery, true},
	}
	for i, tc := range tests {
		p := &IPSecOE{reload: tc.reload, polls: tc.polls, scanTook: tc.took}
		if got := p.fullScanDue(); got != tc.due {
			t.Errorf("Test %d: reload %s, last full read %s, %d polls since: due %v, want %v", i, tc.reload, tc.took, tc.polls, got, tc.due)
		}
	}
}

// TestPacedTook checks what a full read counts as for the rest after it: a paced read its
// own time, a first load, flat out, the time its work takes at a tenth of one CPU.
func TestPacedTook(t *testing.T) {
	tests := []struct {
		wall, cpu time.Duration
		paced     bool
		want      time.Duration
	}{
		{40 * time.Second, 4 * time.Second, true, 40 * time.Second},
		{40 * time.Second, 0, true, 40 * time.Second},
		// A million keys on two CPUs, files cached: 6 s, 6.5 s of CPU.
		{6 * time.Second, 6500 * time.Millisecond, false, 65 * time.Second},
		// The same, from a cold page cache: the disk's time is not the CPU's.
		{32 * time.Second, 12 * time.Second, false, 120 * time.Second},
		{6 * time.Second, 0, false, 60 * time.Second}, // CPU time unknown
	}
	for i, tc := range tests {
		if got := pacedTook(tc.wall, tc.cpu, tc.paced); got != tc.want {
			t.Errorf("Test %d: %s, %s of CPU, paced %v: %s, want %s", i, tc.wall, tc.cpu, tc.paced, got, tc.want)
		}
	}
	// With the default reload, the first full scan after a 6 s first load is about eleven
	// minutes away, not one.
	p := &IPSecOE{reload: 5 * time.Second, scanTook: pacedTook(6*time.Second, 6500*time.Millisecond, false)}
	for p.polls = 0; !p.fullScanDue(); p.polls++ {
	}
	if after := time.Duration(p.polls) * p.reload; after < 10*time.Minute || after > 11*time.Minute {
		t.Errorf("first full scan %s after a 6 s first load; want about eleven minutes", after)
	}
}

// TestQuickPoll checks that a large directory is stat'ed file by file only when one of its
// directories changed, or every fullScanEvery polls.
func TestQuickPoll(t *testing.T) {
	dir := t.TempDir()
	for i := range quickPollFiles {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("junk%d.example.com.pem", i)), []byte("x"), 0o644))
	}
	file := filepath.Join(dir, "gw.example.com.pem")
	writeFile(t, file, e2e.Vector(t, "keys/rsa2048.pub.pem"))
	// reload 0: full scans every fullScanEvery polls, however long the first load took.
	p := newTestPlugin(t, dir, "reload 0")
	alg := func() uint8 {
		n, _ := p.idx.Load().Lookup("gw.example.com.")
		return keysAt(n)[0].Algorithm
	}
	// Rewritten in place: no directory changes, so only a full scan sees it.
	writeFile(t, file, e2e.Vector(t, "keys/ed25519.pub.pem"))
	must(t, os.Chtimes(file, time.Now().Add(time.Minute), time.Now().Add(time.Minute)))
	p.load()
	if alg() != keyfile.AlgRSA {
		t.Fatal("a quick poll read the files")
	}
	for i := 0; i < fullScanEvery && alg() != keyfile.AlgEdDSA; i++ {
		p.load()
	}
	if alg() != keyfile.AlgEdDSA {
		t.Fatalf("not seen after %d polls", fullScanEvery)
	}
	// A new file changes the directory: seen at the next poll.
	writeFile(t, filepath.Join(dir, "new.example.com.pem"), e2e.Vector(t, "keys/ecp256.pub.pem"))
	p.load()
	if _, ok := p.idx.Load().Lookup("new.example.com."); !ok {
		t.Error("a new file was not seen at the next poll")
	}
}
