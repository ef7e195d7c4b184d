package index

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
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
	checkOnes(t, ix)
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

// ed25519Fields returns the key fields of a bundle of Ed25519 public keys, in order.
func ed25519Fields(t *testing.T, bundle []byte) [][]byte {
	t.Helper()
	var fields [][]byte
	for block, rest := pem.Decode(bundle); block != nil; block, rest = pem.Decode(rest) {
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		fields = append(fields, k.(ed25519.PublicKey))
	}
	return fields
}

// TestListsOfOne checks the key lists of names, those of one key held in the name's own
// record and the longer ones in the index's lists, as built and as a gateway prefix
// trims them.
func TestListsOfOne(t *testing.T) {
	per := ipseckeyWire(ed25519.PublicKeySize, 0)
	perGW := ipseckeyWire(ed25519.PublicKeySize, len("gw.example.com.")+1)
	for _, tc := range []struct {
		keys, want int // the owner's keys in its file, and those that fit beside the prefix's
	}{
		{0, 0}, {1, 1}, {2, 2}, {3, 3}, {3, 2}, {3, 1}, {3, 0}, {2, 1},
	} {
		// The prefix's records leave room for want of the owner's keys, and no more.
		gwKeys := 0
		for room := maxRRsetWire; min(tc.keys, room/per) != tc.want; room -= perGW {
			gwKeys++
		}
		dir := t.TempDir()
		owner := e2e.Ed25519Bundle(t, tc.keys)
		gw := e2e.Ed25519Bundle(t, max(1, gwKeys))
		if tc.keys > 0 {
			e2e.WriteFile(t, filepath.Join(dir, "10.1.2.3.pem"), owner)
		}
		e2e.WriteFile(t, filepath.Join(dir, "gw.example.com.pem"), gw)
		// A key read first: the owner's key ids then differ from where its list is.
		e2e.WriteFile(t, filepath.Join(dir, "0.example.com.pem"), e2e.Ed25519Bundle(t, 1))
		o := &Options{Precedence: 10, DANE: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}, Ports: []uint16{500}}
		if gwKeys > 0 {
			o.Gateways = []Gateway{{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Target: "gw.example.com.", Precedence: 20}}
		}
		_, ix := loadDir(t, dir, o)
		checkOnes(t, ix)
		name := fmt.Sprintf("keys %d, kept %d", tc.keys, tc.want)
		n, _ := ix.lookup("3.2.1.10.in-addr.arpa.")
		var got [][]byte
		for _, k := range n.keys() {
			if k.GatewayType == GatewayNone {
				got = append(got, k.Key)
			}
		}
		if want := ed25519Fields(t, owner)[:tc.want]; !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("%s: own keys %x, want %x", name, got, want)
		}
		if got := len(n.keys()) - len(got); got != gwKeys {
			t.Errorf("%s: %d gateway records, want %d", name, got, gwKeys)
		}
		if got := len(ix.lookupIPSECAs("_500.3.2.1.10.in-addr.arpa.")); got != tc.keys {
			t.Errorf("%s: %d IPSECA records, want %d", name, got, tc.keys)
		}
		if got := len(ix.lookupIPSECAs("_500.gw.example.com.")); got != max(1, gwKeys) {
			t.Errorf("%s: %d IPSECA records at the gateway, want %d", name, got, max(1, gwKeys))
		}
		// Only lists of two or more keys take room in lists: the owner's IPSECKEY and
		// IPSECA lists and the gateway's, as read; a trim leaves the room taken.
		room := 0
		for _, k := range []int{tc.keys, tc.keys, max(1, gwKeys), max(1, gwKeys)} {
			if k > 1 {
				room += k
			}
		}
		if len(ix.lists) != room {
			t.Errorf("%s: lists holds %d key ids, want %d", name, len(ix.lists), room)
		}
	}
}

// lookupIPSECAs returns the IPSECA rdata at name.
func (ix *Index) lookupIPSECAs(name string) []keyfile.Association {
	n, _ := ix.lookup(name)
	return n.IPSECAs(nil)
}

// TestSlotOf checks that a slot gives back its name id, whatever the hash, and that its
// hash half tells names apart only by their hashes' upper halves.
func TestSlotOf(t *testing.T) {
	for _, tc := range []struct {
		h  uint64
		id uint32
	}{
		{0, 0}, {1, 0}, {^uint64(0), 0}, {0xdeadbeef_00000000, 7}, {0x00000001_ffffffff, 1<<32 - 2}, {^uint64(0), 1<<32 - 2},
	} {
		v := slotOf(tc.h, tc.id)
		if v == 0 {
			t.Errorf("slotOf(%#x, %d) is 0, an empty slot", tc.h, tc.id)
		}
		if got := slotID(v); got != tc.id {
			t.Errorf("slotOf(%#x, %d): id %d", tc.h, tc.id, got)
		}
		if !sameHash(v, tc.h) || !sameHash(v, tc.h^0xffffffff) {
			t.Errorf("slotOf(%#x, %d): not the same hash as its own", tc.h, tc.id)
		}
		if sameHash(v, tc.h^1<<32) || sameHash(v, tc.h^1<<63) {
			t.Errorf("slotOf(%#x, %d): the same hash as another upper half", tc.h, tc.id)
		}
	}
}

// TestHint checks that a hint is kept at its own name alone, changes nothing the name
// answers, is dropped where there is no name, and that an index built again starts with
// none.
func TestHint(t *testing.T) {
	dir := t.TempDir()
	ed := e2e.Vector(t, "keys/ed25519.pub.pem")
	e2e.WriteFile(t, filepath.Join(dir, "192.0.2.1.pem"), ed)
	e2e.WriteFile(t, filepath.Join(dir, "192.0.2.2.pem"), ed)
	e2e.WriteFile(t, filepath.Join(dir, "host.example.com.pem"), ed)
	o := &Options{Ports: []uint16{500}, DANE: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}}
	files, _, err := ReadDir(dir, nil, o, nil)
	must(t, err)
	ix := Build(files, o, nil)
	names := []string{"1.2.0.192.in-addr.arpa.", "2.2.0.192.in-addr.arpa.", "_500.host.example.com.", "host.example.com.", "example.com."}
	for i, name := range names {
		n, _ := ix.lookup(name)
		if n.Hint() != 0 {
			t.Fatalf("%s: hint %d before any was kept", name, n.Hint())
		}
		n.SetHint(uint32(100 + i))
	}
	for i, name := range names {
		n, ok := ix.lookup(name)
		if got := n.Hint(); !ok || got != uint32(100+i) {
			t.Errorf("%s: hint %d, found %v; want %d", name, got, ok, 100+i)
		}
		if i < 2 && (len(n.keys()) != 1 || len(n.ipsecas()) != 0) || i == 2 && len(n.ipsecas()) != 1 {
			t.Errorf("%s: %d IPSECKEY, %d IPSECA after a hint was kept", name, len(n.keys()), len(n.ipsecas()))
		}
	}
	absent, _ := ix.lookup("3.2.0.192.in-addr.arpa.")
	absent.SetHint(7)
	var zero Node
	zero.SetHint(7)
	if absent.Hint() != 0 || zero.Hint() != 0 {
		t.Errorf("a name not in the index keeps hint %d, the zero Node %d", absent.Hint(), zero.Hint())
	}
	again := Build(files, o, nil)
	if n, _ := again.lookup(names[0]); n.Hint() != 0 {
		t.Errorf("a new index starts with hint %d", n.Hint())
	}
}
