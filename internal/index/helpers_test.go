package index

import (
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// readKeyDir reads every key file under dir for the default options.
func readKeyDir(dir string, prev *Index) ([]*File, error) {
	files, _, err := ReadDir(dir, prev, nil, nil)
	return files, err
}

// keyCount is the number of keys the file gives.
func (f *File) keyCount() int { return int(f.rec().keys.n) }

// keys returns n's IPSECKEY rdata.
func (n Node) keys() []Record { return n.IPSECKEYs(nil) }

// ipsecas returns n's IPSECA rdata as text: "USAGE SELECTOR MATCHING HEX".
func (n Node) ipsecas() []string {
	var out []string
	for _, a := range n.IPSECAs(nil) {
		out = append(out, fmt.Sprintf("%d %d %d %x", a.Usage, a.Selector, a.Matching, a.Data))
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func byPath(files []*File) map[string]*File {
	m := map[string]*File{}
	for _, f := range files {
		m[f.Path] = f
	}
	return m
}

// ipseckeyRRs returns n's IPSECKEY records at owner, as answers carry them.
func ipseckeyRRs(n Node, owner string) []dns.RR {
	var rrs []dns.RR
	for _, r := range n.IPSECKEYs(nil) {
		gw := r.GatewayHost
		if r.GatewayType != GatewayHost {
			gw = "."
		}
		rrs = append(rrs, &dns.IPSECKEY{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeIPSECKEY, Class: dns.ClassINET, Ttl: 3600},
			Precedence: r.Precedence, GatewayType: r.GatewayType, Algorithm: r.Algorithm, GatewayAddr: r.GatewayAddr, GatewayHost: gw, PublicKey: base64.StdEncoding.EncodeToString(r.Key)})
	}
	return rrs
}

// checkOnes checks that every name with one key holds that key's rdata, as its lists
// finally give it (after every record that did not fit was left out), and no other does.
func checkOnes(t testing.TB, ix *Index) {
	t.Helper()
	for id := range ix.names {
		nr := &ix.names[id]
		var want span
		var alg uint8
		switch {
		case nr.keys.n == 1:
			want, alg = ix.keys[nr.keys.off].field, ix.keys[nr.keys.off].alg
		case nr.ipseca.n == 1:
			want = ix.keys[nr.ipseca.off].ipseca
		}
		if nr.one != want || nr.alg != alg {
			t.Fatalf("%s: holds %+v, algorithm %d; its lists give %+v, %d", ix.name(id), nr.one, nr.alg, want, alg)
		}
	}
}
