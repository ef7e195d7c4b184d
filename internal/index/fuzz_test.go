package index

import (
	"path/filepath"
	"testing"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
	e2e "github.com/ipsecoe/ipsecoe/test"
)

// FuzzIndexFile packs one key file into an index and checks that every owner and record the
// parser gave comes out of the index, and nothing else: no length may wrap. The seeds sit at
// and past the limits, where small random inputs never reach: a certificate with thousands
// of SANs, certificates around the largest IPSECA data, a bundle of keys past one message.
//
//	go test -run XXX -fuzz FuzzIndexFile -fuzztime 60s ./internal/index
func FuzzIndexFile(f *testing.F) {
	f.Add(e2e.Vector(f, "keys/ed25519.pub.pem"))
	f.Add(e2e.PEM("CERTIFICATE", e2e.Cert(f, e2e.Addrs("2001:db8::", 863), []string{"edge.example.com"}, 0, 0)))
	f.Add(e2e.PEM("CERTIFICATE", e2e.Cert(f, e2e.Addrs("10.0.0.0", 2400), nil, 0, 0)))
	f.Add(e2e.PEM("CERTIFICATE", e2e.CertOfSize(f, maxIPSECAData, "big.example.com")))
	f.Add(e2e.PEM("CERTIFICATE", e2e.CertOfSize(f, maxIPSECAData+1, "big.example.com")))
	f.Add(e2e.PEM("CERTIFICATE", e2e.Cert(f, nil, []string{"big.example.com"}, 70_000, 0xab)))
	f.Add(e2e.Ed25519Bundle(f, 1400))
	o := &Options{Precedence: 10, Ports: []uint16{500}, DANE: []keyfile.DANE{{Usage: 3, Selector: 0, Matching: 0}, {Usage: 3, Selector: 1, Matching: 1}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := keyfile.Parse(nil, data)
		if err == nil {
			_, err = keyfile.AssignOwners("fuzz.example.com.pem", keys)
		}
		dir := t.TempDir()
		e2e.WriteFile(t, filepath.Join(dir, "fuzz.example.com.pem"), data)
		files, ix := loadDir(t, dir, o)
		if err != nil || files[0].Err != nil {
			if len(ix.keys) != 0 {
				t.Fatalf("a refused file gave %d keys", len(ix.keys))
			}
			return
		}
		if len(ix.keys) != len(keys) {
			t.Fatalf("%d keys parsed, %d packed", len(keys), len(ix.keys))
		}
		for i, k := range keys {
			kr := ix.keys[i]
			if string(kr.field.of(ix.blob)) != string(k.Field) || kr.alg != k.Algorithm {
				t.Fatalf("key %d: field or algorithm changed in packing", i)
			}
			owners := ix.owners[kr.owners.off : kr.owners.off+kr.owners.n]
			if len(owners) != len(k.Owners) {
				t.Fatalf("key %d: %d owners parsed, %d packed", i, len(k.Owners), len(owners))
			}
			for j, ow := range owners {
				if string(ow.name.of(ix.blob)) != k.Owners[j].Name || ow.port != k.Owners[j].Port {
					t.Fatalf("key %d owner %d: %q, want %q", i, j, ow.name.of(ix.blob), k.Owners[j].Name)
				}
			}
			// The IPSECA records packed are those of the dane lines that fit, each whole.
			want := map[string]bool{}
			for _, a := range k.Associations(nil, o.DANE) {
				want[string([]byte{a.Usage, a.Selector, a.Matching})+string(a.Data)] = true
			}
			it := ipsecaIter{kr.ipseca.of(ix.blob)}
			for u, s, m, d, ok := it.next(); ok; u, s, m, d, ok = it.next() {
				if !want[string([]byte{u, s, m})+string(d)] {
					t.Fatalf("key %d: IPSECA %d %d %d of %d octets is not one of its own", i, u, s, m, len(d))
				}
			}
			if len(it.b) != 0 {
				t.Fatalf("key %d: %d octets of IPSECA data left unread", i, len(it.b))
			}
		}
		// Whatever a name holds fits one message with its signatures.
		for id := range ix.names {
			n := Node{ix: ix, id: int32(id)}
			size := 0
			for _, r := range n.IPSECKEYs(nil) {
				size += ipseckeyWire(len(r.Key), 0)
			}
			for _, a := range n.IPSECAs(nil) {
				size += rrOverhead + 3 + len(a.Data)
			}
			if size > maxRRsetWire {
				t.Fatalf("%s: %d octets of records", ix.name(id), size)
			}
		}
	})
}
