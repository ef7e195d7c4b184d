package keyfile

import (
	"bytes"
	"encoding/pem"
	"strings"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"
)

// pemCases are PEM texts of every shape: quick says whether quickPEM decodes the first
// block itself; whatever it says, nextPEM must return what pem.Decode returns.
var pemCases = []struct {
	name  string
	text  string
	quick bool
}{
	{"usual", "-----BEGIN PUBLIC KEY-----\nAAEC\nAwQF\n-----END PUBLIC KEY-----\n", true},
	{"no final newline", "-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----", true},
	{"CRLF", "-----BEGIN PUBLIC KEY-----\r\nAAEC\r\nAwQF\r\n-----END PUBLIC KEY-----\r\nrest", true},
	{"spaces after the armor", "-----BEGIN X-----  \t\nAAEC\n-----END X----- \t\r\nrest\n", true},
	{"two blocks", "-----BEGIN A-----\nAAEC\n-----END A-----\n-----BEGIN B-----\nAwQF\n-----END B-----\n", true},
	{"padding", "-----BEGIN A-----\nAAE=\n-----END A-----\n", true},
	{"lines of whole quanta", "-----BEGIN A-----\nAAECAwQF\nBgcICQoL\nDA0=\n-----END A-----\n", true},
	{"lines split inside a quantum", "-----BEGIN A-----\nAAECA\nwQFBgc\nICQoL\n-----END A-----\n", true},
	{"CR inside a line", "-----BEGIN A-----\nAA\rEC\nAwQF\n-----END A-----\n", true},
	{"padding before the last line", "-----BEGIN A-----\nAAE=\nAwQF\n-----END A-----\n", false},
	{"padding alone on the last line", "-----BEGIN A-----\nAAE\n=\n-----END A-----\n", true},
	{"text before", "x\n-----BEGIN A-----\nAAEC\n-----END A-----\n", false},
	{"indented", "  -----BEGIN A-----\nAAEC\n-----END A-----\n", false},
	{"headers", "-----BEGIN A-----\nProc-Type: 4,ENCRYPTED\n\nAAEC\n-----END A-----\n", false},
	{"colon in the body", "-----BEGIN A-----\nAA:EC\n-----END A-----\n", false},
	{"spaces in the body", "-----BEGIN A-----\nAA EC\n\tAwQF\n-----END A-----\n", false},
	{"empty body", "-----BEGIN A-----\n-----END A-----\n", false},
	{"empty line as body", "-----BEGIN A-----\n\n-----END A-----\n", false},
	{"other END type", "-----BEGIN A-----\nAAEC\n-----END B-----\n", false},
	{"END type longer", "-----BEGIN A-----\nAAEC\n-----END AB-----\n", false},
	{"text after END", "-----BEGIN A-----\nAAEC\n-----END A----- x\n", false},
	{"armor not closed", "-----BEGIN A\nAAEC\n-----END A\n", false},
	{"no END", "-----BEGIN A-----\nAAEC\n", false},
	{"second BEGIN", "-----BEGIN A-----\n-----BEGIN A-----\nAAEC\n-----END A-----\n", false},
	{"BEGIN inside a line", "-----BEGIN A-----\nAA-----BEGIN A-----\n-----END A-----\n", false},
	{"bad base64", "-----BEGIN A-----\nAA!C\n-----END A-----\n-----BEGIN B-----\nAwQF\n-----END B-----\n", false},
	{"bad base64 alone", "-----BEGIN A-----\nAAE\n-----END A-----\n", false},
	{"nothing", "", false},
	{"no armor", "AAEC\n", false},
}

// checkNextPEM fails t unless nextPEM returns for data what pem.Decode returns.
func checkNextPEM(t *testing.T, data []byte) {
	t.Helper()
	got, gotRest, ok := nextPEM(nil, data)
	want, wantRest := pem.Decode(data)
	if ok != (want != nil) {
		t.Fatalf("nextPEM found a block: %v; pem.Decode: %v", ok, want != nil)
	}
	if ok && (got.typ != want.Type || !bytes.Equal(got.der, want.Bytes)) {
		t.Fatalf("nextPEM: %q %x; pem.Decode: %q %x", got.typ, got.der, want.Type, want.Bytes)
	}
	if !bytes.Equal(gotRest, wantRest) {
		t.Fatalf("nextPEM leaves %q; pem.Decode leaves %q", gotRest, wantRest)
	}
}

func TestNextPEM(t *testing.T) {
	for _, tc := range pemCases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, ok := quickPEM(nil, []byte(tc.text)); ok != tc.quick {
				t.Errorf("quickPEM took it: %v, want %v", ok, tc.quick)
			}
			for rest := []byte(tc.text); ; {
				checkNextPEM(t, rest)
				var ok bool
				if _, rest, ok = nextPEM(nil, rest); !ok {
					break
				}
			}
		})
	}
}

// TestNextPEMVectors checks the key and certificate vectors, as written and with CRLF
// lines, all of which quickPEM decodes itself.
func TestNextPEMVectors(t *testing.T) {
	for _, name := range []string{"keys/rsa2048.pub.pem", "keys/ecp256.pub.pem", "keys/ed25519.pub.pem", "keys/lsw_rsa_122269ea.pub.pem", "certs/ns1-ecp256.crt"} {
		for _, crlf := range []bool{false, true} {
			data := e2e.Vector(t, name)
			if crlf {
				data = bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
			}
			if _, _, ok := quickPEM(nil, data); !ok {
				t.Errorf("%s (CRLF %v): quickPEM did not take it", name, crlf)
			}
			checkNextPEM(t, data)
		}
	}
}

// FuzzNextPEM compares nextPEM with pem.Decode on any input.
func FuzzNextPEM(f *testing.F) {
	for _, tc := range pemCases {
		f.Add([]byte(tc.text))
	}
	f.Add([]byte(strings.Repeat("-----BEGIN A-----\nAAEC\n-----END A-----\n", 3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkNextPEM(t, data)
	})
}

// BenchmarkNextPEM decodes an RSA-2048 public key with nextPEM, against pem.Decode in the
// same run.
func BenchmarkNextPEM(b *testing.B) {
	data := e2e.Vector(b, "keys/rsa2048.pub.pem")
	b.Run("nextPEM", func(b *testing.B) {
		for b.Loop() {
			nextPEM(nil, data)
		}
	})
	b.Run("pem.Decode", func(b *testing.B) {
		for b.Loop() {
			pem.Decode(data)
		}
	})
}
