package keyfile

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/miekg/dns"
)

// TestShowhostkeyForms reads the key lines and records Libreswan prints and checks that the
// key published is byte for byte the one Libreswan's own --ipseckey record carries, and the
// one its --pem output gives.
func TestShowhostkeyForms(t *testing.T) {
	for _, alg := range []string{"rsa", "ecdsa"} {
		rrText := strings.TrimSpace(string(e2e.Testdata(t, filepath.Join("showhostkey", alg+".ipseckey"))))
		want, err := dns.NewRR(rrText)
		if err != nil {
			t.Fatal(err)
		}
		pemKeys, err := Parse(nil, e2e.Testdata(t, filepath.Join("showhostkey", alg+".pem")))
		if err != nil {
			t.Fatalf("%s.pem: %v", alg, err)
		}
		for _, form := range []string{"left", "right", "ipseckey"} {
			data := e2e.Testdata(t, filepath.Join("showhostkey", alg+"."+form))
			if data == nil {
				continue
			}
			keys, err := Parse(nil, data)
			if err != nil {
				t.Errorf("%s.%s: %v", alg, form, err)
				continue
			}
			if len(keys) != 1 {
				t.Errorf("%s.%s: %d keys", alg, form, len(keys))
				continue
			}
			k := keys[0]
			got := &dns.IPSECKEY{Hdr: *want.Header(), Precedence: 10, GatewayType: 0, Algorithm: k.Algorithm, PublicKey: b64std(k.Field)}
			if g, w := hex.EncodeToString(e2e.RDATA(t, got)), hex.EncodeToString(e2e.RDATA(t, want)); g != w {
				t.Errorf("%s.%s: record\n got %s\nwant %s (Libreswan's --ipseckey)", alg, form, g, w)
			}
			if !bytes.Equal(k.SPKI, pemKeys[0].SPKI) {
				t.Errorf("%s.%s: not the key of Libreswan's --pem output", alg, form)
			}
		}
	}
}

func TestShowhostkeyRefusals(t *testing.T) {
	for i, text := range []string{
		"leftrsasigkey=0s!!!!\n",
		"leftrsasigkey=0x0103\n",
		"leftrsasigkey=0sAQM=\n",
		"leftecdsakey=0sAAAA\n",
		"leftfoo=0sAAAA\n",
		"host. IN IPSECKEY 10 0 1 . AAAA\n",
		"host. IN IPSECKEY 10 0 3 . AAAA\n",
		"leftrsasigkey=0sAwEAAc\nsomething else\n",
	} {
		if keys, err := Parse(nil, []byte(text)); err == nil {
			t.Errorf("Test %d: %q accepted: %d keys", i, text, len(keys))
		}
	}
}

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
