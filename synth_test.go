package ipsecoe

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net"
	"strings"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"

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
	if err := json.Unmarshal(readVector(t, "vectors.json"), &v); err != nil {
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
	return e2e.RDATA(t, rr)
}

func TestVectorsIPSECKEY(t *testing.T) {
	n := 0
	for _, v := range loadVectors(t).Cases {
		if v.RRType != "IPSECKEY" {
			continue
		}
		for _, file := range []string{v.KeyFile, v.KeyFileDER} {
			keys, err := parseKeyFile(readVector(t, file))
			if err != nil || len(keys) != 1 {
				t.Fatalf("%s %s: %d keys, %v", v.ID, file, len(keys), err)
			}
			k := keys[0]
			d := &ipseckeyData{precedence: v.Precedence, gwType: v.GatewayType, algorithm: k.algorithm,
				publicKey: base64.StdEncoding.EncodeToString(k.field())}
			switch v.GatewayType {
			case gwTypeIPv4, gwTypeIPv6:
				d.gwAddr = net.ParseIP(v.Gateway)
			case gwTypeHost:
				d.gwHost = v.Gateway
			}
			rr := ipseckey(v.OwnerV4, 3600, d)
			if got := hex.EncodeToString(rdata(t, rr)); got != v.WireHex {
				t.Errorf("%s from %s:\n got %s\nwant %s", v.ID, file, got, v.WireHex)
			}
			if d.publicKey != v.KeyB64 || k.algorithm != v.Algorithm {
				t.Errorf("%s from %s: algorithm %d key %s", v.ID, file, k.algorithm, d.publicKey)
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
		keys, err := parseKeyFile(readVector(t, v.CertFile))
		if err != nil || len(keys) != 1 {
			t.Fatalf("%s: %d keys, %v", v.ID, len(keys), err)
		}
		d := associate(keys[0], daneConf{v.Usage, v.Selector, v.Matching})
		rr := ipseca(v.Owner, 3600, d)
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
	m.Answer = []dns.RR{ipseca("_53.ns1.example.com.", 60, &IPSECA{3, 1, 1, []byte{0xab, 0xcd}})}
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

func TestDANECombinations(t *testing.T) {
	keys, err := parseKeyFile(readVector(t, "certs/ns1-ecp256.crt"))
	if err != nil {
		t.Fatal(err)
	}
	cert, bare := keys[0], &pubKey{spki: keys[0].spki}
	lens := map[uint8]int{1: 32, 2: 64}
	for u := uint8(0); u <= 3; u++ {
		for s := uint8(0); s <= 1; s++ {
			for m := uint8(0); m <= 2; m++ {
				d := associate(cert, daneConf{u, s, m})
				if d == nil || d.Usage != u || d.Selector != s || d.MatchingType != m {
					t.Fatalf("%d %d %d: %v", u, s, m, d)
				}
				want := lens[m]
				if m == 0 {
					want = len(cert.spki)
					if s == 0 {
						want = len(cert.cert)
					}
				}
				if len(d.Data) != want {
					t.Errorf("%d %d %d: %d bytes of data, want %d", u, s, m, len(d.Data), want)
				}
				if b := associate(bare, daneConf{u, s, m}); (b == nil) != (s == 0) {
					t.Errorf("%d %d %d: bare key gave %v", u, s, m, b)
				}
			}
		}
	}
}
