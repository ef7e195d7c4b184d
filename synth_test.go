package ipsecoe

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"strings"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/ipsecoe/ipsecoe/internal/index"
	"github.com/ipsecoe/ipsecoe/internal/keyfile"
	"github.com/miekg/dns"
)

// vector is one case of testdata/vectors/vectors.json.
type vector struct {
	ID          string `json:"id"`
	RRType      string `json:"rrtype"`
	KeyFile     string `json:"key_file"`
	KeyFileDER  string `json:"key_file_der"`
	CertFile    string `json:"cert_file"`
	Precedence  uint8  `json:"precedence"`
	GatewayType uint8  `json:"gateway_type"`
	Gateway     string `json:"gateway"`
	Algorithm   uint8  `json:"algorithm"`
	KeyB64      string `json:"key_b64"`
	Usage       uint8  `json:"usage"`
	Selector    uint8  `json:"selector"`
	Matching    uint8  `json:"matching"`
	WireHex     string `json:"wire_hex"`
	Owner       string `json:"owner"`
	OwnerV4     string `json:"owner_v4"`
	AddressV4   string `json:"address_v4"`
	AddressV6   string `json:"address_v6"`
	TLSA        string `json:"tlsa_equivalent"`
}

type vectorFile struct {
	Cases     []vector `json:"cases"`
	BadInputs []struct {
		File  string `json:"file"`
		Naive *struct {
			KeyB64 string `json:"key_b64"`
		} `json:"naive_derived_ipseckey"`
	} `json:"bad_inputs"`
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	var v vectorFile
	if err := json.Unmarshal(e2e.Vector(t, "vectors.json"), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("no vector cases")
	}
	return v
}

// rdata packs rr and returns its RDATA bytes.
func rdata(t testing.TB, rr dns.RR) []byte {
	t.Helper()
	buf := make([]byte, 4096)
	off, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("packing %s: %v", rr, err)
	}
	hdr := len(dns.Fqdn(rr.Header().Name)) + 1 + 10
	if rr.Header().Name == "." {
		hdr = 11
	}
	return buf[hdr:off]
}

func TestVectorsIPSECKEY(t *testing.T) {
	n := 0
	for _, v := range loadVectors(t).Cases {
		if v.RRType != "IPSECKEY" {
			continue
		}
		for _, file := range []string{v.KeyFile, v.KeyFileDER} {
			keys, err := keyfile.Parse(nil, e2e.Vector(t, file))
			if err != nil || len(keys) != 1 {
				t.Fatalf("%s %s: %d keys, %v", v.ID, file, len(keys), err)
			}
			k := keys[0]
			d := &index.Record{Precedence: v.Precedence, GatewayType: v.GatewayType, Algorithm: k.Algorithm,
				Key: k.Field}
			switch v.GatewayType {
			case index.GatewayIPv4, index.GatewayIPv6:
				d.GatewayAddr = net.ParseIP(v.Gateway)
			case index.GatewayHost:
				d.GatewayHost = v.Gateway
			}
			rr := newIPSECKEY(v.OwnerV4, 3600, d)
			if got := hex.EncodeToString(rdata(t, rr)); got != v.WireHex {
				t.Errorf("%s from %s:\n got %s\nwant %s", v.ID, file, got, v.WireHex)
			}
			if b64 := base64.StdEncoding.EncodeToString(d.Key); b64 != v.KeyB64 || k.Algorithm != v.Algorithm {
				t.Errorf("%s from %s: algorithm %d key %s", v.ID, file, k.Algorithm, b64)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no IPSECKEY vectors")
	}
}

func TestVectorsIPSECA(t *testing.T) {
	n := 0
	for _, v := range loadVectors(t).Cases {
		if v.RRType != "IPSECA" {
			continue
		}
		keys, err := keyfile.Parse(nil, e2e.Vector(t, v.CertFile))
		if err != nil || len(keys) != 1 {
			t.Fatalf("%s: %d keys, %v", v.ID, len(keys), err)
		}
		d := keys[0].Associations(nil, []keyfile.DANE{{Usage: v.Usage, Selector: v.Selector, Matching: v.Matching}})
		if len(d) != 1 {
			t.Fatalf("%s: %d associations", v.ID, len(d))
		}
		rr := ipseca(v.Owner, 3600, d[0])
		if got := hex.EncodeToString(rdata(t, rr)); got != v.WireHex {
			t.Errorf("%s:\n got %s\nwant %s", v.ID, got, v.WireHex)
		}
		// Presentation: IPSECA u s m hex, and it parses back to the same bytes.
		want := v.Owner + "\t3600\tIN\tIPSECA\t" + v.TLSA
		if rr.String() != want {
			t.Errorf("%s: prints %q, want %q", v.ID, rr.String(), want)
		}
		back, err := dns.NewRR(rr.String())
		if err != nil || back.Header().Rrtype != TypeIPSECA || hex.EncodeToString(rdata(t, back)) != v.WireHex {
			t.Errorf("%s: round trip through text: %v %v", v.ID, back, err)
		}
		// dns.Copy (used by the cache plugin) must work on it.
		if c := dns.Copy(rr); c.String() != rr.String() {
			t.Errorf("%s: copy differs", v.ID)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no IPSECA vectors")
	}
}

func TestIPSECAWireType(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("_53.ns1.example.com.", TypeIPSECA)
	m.Answer = []dns.RR{ipseca("_53.ns1.example.com.", 60, keyfile.Association{Usage: 3, Selector: 1, Matching: 1, Data: []byte{0xab, 0xcd}})}
	buf, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	// Unregistered, the same bytes read as RFC 3597 TYPE65347.
	dns.PrivateHandleRemove(TypeIPSECA)
	defer dns.PrivateHandle("IPSECA", TypeIPSECA, func() dns.PrivateRdata { return new(IPSECA) })
	var u dns.Msg
	if err := u.Unpack(buf); err != nil {
		t.Fatal(err)
	}
	if got := u.Answer[0].String(); !strings.HasSuffix(got, "TYPE65347\t\\# 5 030101abcd") {
		t.Errorf("generic form %q", got)
	}
}
