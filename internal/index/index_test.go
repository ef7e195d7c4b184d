package index

import (
	"net/netip"
	"path/filepath"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

// TestIndexRecords checks the packed index against what the key files say: one record per
// distinct key at a name, however many files give it, IPSECA at _PORT names, and the
// empty non-terminals above every owner.
func TestIndexRecords(t *testing.T) {
	dir := t.TempDir()
	rsa, ed := e2e.Vector(t, "keys/rsa2048.pub.pem"), e2e.Vector(t, "keys/ed25519.pub.pem")
	e2e.WriteFile(t, filepath.Join(dir, "a/192.0.2.1.pem"), rsa)
	e2e.WriteFile(t, filepath.Join(dir, "b/192.0.2.1.pem"), rsa) // the same key again
	e2e.WriteFile(t, filepath.Join(dir, "c/192.0.2.1.pem"), ed)  // a second key
	e2e.WriteFile(t, filepath.Join(dir, "_500.host.example.com.pem"), ed)
	e2e.WriteFile(t, filepath.Join(dir, "host.example.com.pem"), ed)
	o := &Options{Precedence: 10, Ports: []uint16{53}, DANE: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}, {Usage: 3, Selector: 1, Matching: 2}}}
	files, _, err := ReadDir(dir, nil, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix := Build(files, o, nil)
	tests := []struct {
		name          string
		exists        bool
		keys, ipsecas int
	}{
		{"1.2.0.192.in-addr.arpa.", true, 2, 0},
		{"_53.1.2.0.192.in-addr.arpa.", true, 0, 4}, // two keys, two dane lines
		{"2.0.192.in-addr.arpa.", true, 0, 0},       // empty non-terminal
		{"in-addr.arpa.", true, 0, 0},
		{"host.example.com.", true, 1, 0},
		{"_500.host.example.com.", true, 0, 2},
		{"_53.host.example.com.", true, 0, 2},
		{"example.com.", true, 0, 0},
		{"2.2.0.192.in-addr.arpa.", false, 0, 0},
		{"_54.host.example.com.", false, 0, 0},
	}
	for _, tc := range tests {
		n, ok := ix.lookup(tc.name)
		if ok != tc.exists || len(n.keys()) != tc.keys || len(n.ipsecas()) != tc.ipsecas {
			t.Errorf("%s: exists %v, %d IPSECKEY, %d IPSECA; want %v, %d, %d", tc.name, ok, len(n.keys()), len(n.ipsecas()), tc.exists, tc.keys, tc.ipsecas)
		}
	}
	if ix.records["IPSECKEY"] != 3 || ix.records["IPSECA"] != 8 {
		t.Errorf("records %v, want 3 IPSECKEY and 8 IPSECA", ix.records)
	}
	if ix.algCount["rsa"] != 1 || ix.algCount["ed25519"] != 1 {
		t.Errorf("distinct keys %v, want one rsa and one ed25519", ix.algCount)
	}

	// A second build from the packed keys alone (no file parsed again) gives the same.
	for _, f := range files {
		if f.src != ix || ix.stage != nil {
			t.Fatalf("%s: not packed into the index", f.Path)
		}
	}
	again := Build(files, o, nil)
	if again.serial != ix.serial || len(again.names) != len(ix.names) || again.records["IPSECA"] != 8 {
		t.Errorf("rebuilt from the packed keys: serial %d, %d names, %v; want %d, %d, the same records",
			again.serial, len(again.names), again.records, ix.serial, len(ix.names))
	}
}

// TestIndexDedupAcrossLists checks that leaving a duplicate out of one name's list does not
// upset the next name's, compacted in the same array right after it.
func TestIndexDedupAcrossLists(t *testing.T) {
	dir := t.TempDir()
	rsa, ed := e2e.Vector(t, "keys/rsa2048.pub.pem"), e2e.Vector(t, "keys/ed25519.pub.pem")
	// Files are read in path order: 192.0.2.1 gets one key twice, then 192.0.2.2 gets
	// rsa, ed, rsa, whose third must be seen as a repeat of its first.
	for path, key := range map[string][]byte{
		"a/192.0.2.1.pem": rsa, "b/192.0.2.1.pem": rsa,
		"c/192.0.2.2.pem": rsa, "d/192.0.2.2.pem": ed, "e/192.0.2.2.pem": rsa,
	} {
		e2e.WriteFile(t, filepath.Join(dir, path), key)
	}
	o := &Options{Precedence: 10}
	files, _, err := ReadDir(dir, nil, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix := Build(files, o, nil)
	for name, want := range map[string]int{"1.2.0.192.in-addr.arpa.": 1, "2.2.0.192.in-addr.arpa.": 2} {
		if n, _ := ix.lookup(name); len(n.keys()) != want {
			t.Errorf("%s: %d keys, want %d", name, len(n.keys()), want)
		}
	}
	if ix.records["IPSECKEY"] != 3 {
		t.Errorf("%d IPSECKEY records, want 3", ix.records["IPSECKEY"])
	}
}

// TestIndexOwnerInGateway checks that an owner inside a gateway prefix answers its own key
// and the prefix's records, and an address beside it the prefix's alone, in both families.
func TestIndexOwnerInGateway(t *testing.T) {
	dir := t.TempDir()
	e2e.WriteFile(t, filepath.Join(dir, "10.1.2.3.pem"), e2e.Vector(t, "keys/rsa2048.pub.pem"))
	e2e.WriteFile(t, filepath.Join(dir, "2001-db8-1--5.pem"), e2e.Vector(t, "keys/rsa2048.pub.pem"))
	e2e.WriteFile(t, filepath.Join(dir, "gw.example.com.pem"), e2e.Vector(t, "keys/ed25519.pub.pem"))
	o := &Options{Precedence: 10, Gateways: []Gateway{
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Target: "gw.example.com.", Precedence: 20},
		{Prefix: netip.MustParsePrefix("2001:db8:1::/64"), Target: "gw.example.com.", Precedence: 20},
	}}
	files, _, err := ReadDir(dir, nil, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix := Build(files, o, nil)
	tests := []struct {
		name    string
		own, gw int
	}{
		{"3.2.1.10.in-addr.arpa.", 1, 1},
		{"4.2.1.10.in-addr.arpa.", 0, 1},
		{"3.2.2.10.in-addr.arpa.", 0, 0},
		{"5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", 1, 1},
		{"6.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", 0, 1},
	}
	for _, tc := range tests {
		n, _ := ix.lookup(tc.name)
		own, gw := 0, 0
		for _, k := range n.keys() {
			switch {
			case k.GatewayType == GatewayNone && k.Algorithm == keyfile.AlgRSA:
				own++
			case k.GatewayType == GatewayHost && k.GatewayHost == "gw.example.com." && k.Precedence == 20:
				gw++
			default:
				t.Errorf("%s: unexpected record %v", tc.name, k)
			}
		}
		if own != tc.own || gw != tc.gw {
			t.Errorf("%s: %d own and %d gateway records, want %d and %d", tc.name, own, gw, tc.own, tc.gw)
		}
	}
}

// TestRecordHash checks that the records' hash sees a change of any one octet, at any place,
// and of the length alone.
func TestRecordHash(t *testing.T) {
	for n := range 20 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(7 * i)
		}
		h := recordHash(b)
		if recordHash(append(b, 0)) == h {
			t.Errorf("length %d: a zero octet more leaves the hash as it was", n)
		}
		for i := range b {
			for _, d := range []byte{1, 0x80, 0xff} {
				c := append([]byte(nil), b...)
				c[i] ^= d
				if recordHash(c) == h {
					t.Errorf("length %d: octet %d xor %#x leaves the hash as it was", n, i, d)
				}
			}
		}
	}
}
