package keyfile

import (
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"
)

func TestDANECombinations(t *testing.T) {
	keys, err := Parse(nil, e2e.Vector(t, "certs/ns1-ecp256.crt"))
	if err != nil {
		t.Fatal(err)
	}
	cert, bare := keys[0], &Key{SPKI: keys[0].SPKI}
	lens := map[uint8]int{1: 32, 2: 64}
	for u := uint8(0); u <= 3; u++ {
		for s := uint8(0); s <= 1; s++ {
			for m := uint8(0); m <= 2; m++ {
				d, ok := associate(nil, cert, DANE{Usage: u, Selector: s, Matching: m})
				if !ok || d.Usage != u || d.Selector != s || d.Matching != m {
					t.Fatalf("%d %d %d: %v", u, s, m, d)
				}
				want := lens[m]
				if m == 0 {
					want = len(cert.SPKI)
					if s == 0 {
						want = len(cert.Cert)
					}
				}
				if len(d.Data) != want {
					t.Errorf("%d %d %d: %d bytes of data, want %d", u, s, m, len(d.Data), want)
				}
				if b, ok := associate(nil, bare, DANE{Usage: u, Selector: s, Matching: m}); ok == (s == 0) {
					t.Errorf("%d %d %d: bare key gave %v", u, s, m, b)
				}
			}
		}
	}
}
