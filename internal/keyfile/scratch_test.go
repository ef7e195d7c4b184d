package keyfile

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"
)

// sameKeys reports how got and want differ, or "" when they hold the same keys.
func sameKeys(got, want []*Key) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d keys, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		switch {
		case g.Algorithm != w.Algorithm || g.Kind != w.Kind || g.Expired != w.Expired:
			return fmt.Sprintf("key %d: %d %s %v, want %d %s %v", i, g.Algorithm, g.Kind, g.Expired, w.Algorithm, w.Kind, w.Expired)
		case !bytes.Equal(g.Field, w.Field) || !bytes.Equal(g.SPKI, w.SPKI) || !bytes.Equal(g.Cert, w.Cert):
			return fmt.Sprintf("key %d: field, SPKI or certificate differ", i)
		case !slices.Equal(g.SANIPs, w.SANIPs) || !slices.Equal(g.SANNames, w.SANNames) || !slices.Equal(g.Owners, w.Owners):
			return fmt.Sprintf("key %d: SANs or owners differ: %v %v %v", i, g.SANIPs, g.SANNames, g.Owners)
		}
	}
	return ""
}

// TestParseScratch parses files of every form in turn with one Scratch, forwards and then
// backwards, and checks each against Parse: nothing of one file shows in the next, and
// the owners a key is given land in its own room.
func TestParseScratch(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey))
	rsaPEM := e2e.Vector(t, "keys/rsa2048.pub.pem")
	files := []struct{ name, base string }{
		{"keys/rsa2048.pub.pem", "10.0.0.1.pem"},
		{"keys/ecp256.pub.pem", "host.example.com.pem"},
		{"keys/ed25519.pub.der", "10.0.0.2.der"},
		{"keys/lsw_rsa_122269ea.pub.pem", "2001-db8--1.pem"},
		{"certs/ns1-ecp256.crt", "ns1.crt"},
		{"bad/private-ecp256.pkcs8.pem", "10.0.0.3.pem"},
		{"bad/truncated.pub.pem", "10.0.0.4.pem"},
	}
	type input struct {
		name, base string
		data       []byte
	}
	var inputs []input
	for _, f := range files {
		inputs = append(inputs, input{f.name, f.base, e2e.Vector(t, f.name)})
	}
	inputs = append(inputs,
		input{"a bundle of RSA, Ed25519, ECDSA and RSA again", "bundle.example.com.pem",
			slices.Concat(rsaPEM, e2e.Ed25519Bundle(t, 2), e2e.Vector(t, "keys/ecp256.pub.pem"), rsaPEM)},
		input{"40 Ed25519 keys", "many.example.com.pem", e2e.Ed25519Bundle(t, 40)},
		input{"an RSA PUBLIC KEY block", "10.0.0.5.pem", pkcs1},
		input{"empty", "10.0.0.6.pem", nil},
	)
	var lines []DANE
	for _, sel := range []uint8{0, 1} {
		for _, m := range []uint8{0, 1, 2} {
			lines = append(lines, DANE{Usage: 3, Selector: sel, Matching: m})
		}
	}
	var s Scratch
	check := func(in input) {
		t.Helper()
		want, wantErr := Parse(nil, in.data)
		got, gotErr := Parse(&s, in.data)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("%s: error %v, want %v", in.name, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		_, wantErr = AssignOwners(in.base, want)
		_, gotErr = AssignOwners(in.base, got)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("%s: owners: error %v, want %v", in.name, gotErr, wantErr)
		}
		if d := sameKeys(got, want); d != "" {
			t.Errorf("%s: %s", in.name, d)
			return
		}
		for i := range got {
			g, w := got[i].Associations(&s, lines), want[i].Associations(nil, lines)
			if !slices.EqualFunc(g, w, func(a, b Association) bool {
				return a.Usage == b.Usage && a.Selector == b.Selector && a.Matching == b.Matching && bytes.Equal(a.Data, b.Data)
			}) {
				t.Errorf("%s: key %d: IPSECA %x, want %x", in.name, i, g, w)
			}
		}
	}
	for _, in := range inputs {
		check(in)
	}
	for _, in := range slices.Backward(inputs) {
		check(in)
	}
}

// TestParseScratchAllocs checks that a PEM file of one RSA key, parsed with a Scratch that
// has parsed one before, and its IPSECA rdata allocate nothing.
func TestParseScratchAllocs(t *testing.T) {
	data := e2e.Vector(t, "keys/rsa2048.pub.pem")
	lines := []DANE{{Usage: 3, Selector: 1, Matching: 1}, {Usage: 3, Selector: 1, Matching: 2}}
	var s Scratch
	parse := func() {
		keys, err := Parse(&s, data)
		if err != nil || len(keys[0].Associations(&s, lines)) != 2 {
			t.Fatal(err)
		}
	}
	parse()
	allocs := testing.AllocsPerRun(100, parse)
	if allocs != 0 {
		t.Errorf("%.1f allocations a file, want 0", allocs)
	}
}
