package ipsecoe

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/ipsecoe/ipsecoe/internal/index"
	"github.com/ipsecoe/ipsecoe/internal/keyfile"

	"github.com/miekg/dns"
)

func dur(d time.Duration) *time.Duration { return &d }
func u8(n uint8) *uint8                  { return &n }

func TestSetup(t *testing.T) {
	tests := []struct {
		input string
		root  string   // dnsserver config Root, set before parse when not empty
		keys  []string // server block keys, set before parse when not nil

		shouldErr   bool
		errContains string

		dir        string         // "" means "/k"
		zones      []string       // the parsed p.Zones
		reload     *time.Duration // nil means defaultReload
		ttl        uint32         // 0 means defaultTTL
		precedence *uint8         // nil means defaultPrecedence
		gateways   []index.Gateway
		ports      []uint16
		dane       []keyfile.DANE // nil means the default "3 1 1"
		allow      []netip.Prefix
		fall       []string // p.Fall.Zones
	}{
		// keys
		{input: "ipsecoe {\n keys /k\n}"},
		{input: "ipsecoe {\n keys /etc/ipsecoe/keys/\n}", dir: "/etc/ipsecoe/keys/"},
		{input: "ipsecoe {\n keys /abs\n}", root: "/some/root", dir: "/abs"},
		{input: "ipsecoe {\n keys keys\n}", root: "/some/root", dir: "/some/root/keys"},
		{input: "ipsecoe {\n keys ./a/b/\n}", root: "/some/root", dir: "/some/root/a/b"},
		{input: "ipsecoe {\n keys ../k\n}", root: "/some/root", dir: "/some/k"},
		{input: "ipsecoe {\n keys rel\n}", dir: "rel"}, // no Root: left as is, as hosts does
		{input: "ipsecoe {\n keys /a\n keys /b\n}", shouldErr: true, errContains: "Testfile:3 - Error during parsing: keys given twice (first on line 2)"},
		{input: "ipsecoe {\n keys /k\n ttl 60\n ttl 60\n}", shouldErr: true, errContains: "Testfile:4 - Error during parsing: ttl given twice (first on line 3)"},
		{input: "ipsecoe {\n keys /k\n reload 5s\n reload 0\n}", shouldErr: true, errContains: "reload given twice"},
		{input: "ipsecoe {\n keys /k\n precedence 1\n precedence 2\n}", shouldErr: true, errContains: "precedence given twice"},
		{input: "ipsecoe {\n keys /k\n fallthrough\n fallthrough\n}", shouldErr: true, errContains: "fallthrough given twice"},
		{input: "ipsecoe", shouldErr: true, errContains: "keys DIR is required"},
		{input: "ipsecoe example.org", shouldErr: true, errContains: "keys DIR is required"},
		{input: "ipsecoe {\n ttl 60\n}", shouldErr: true, errContains: "keys DIR is required"},
		{input: "", shouldErr: true, errContains: "keys DIR is required"},
		{input: "ipsecoe {\n keys\n}", shouldErr: true, errContains: "Wrong argument count"},
		{input: "ipsecoe {\n keys /a /b\n}", shouldErr: true, errContains: "Wrong argument count or unexpected line ending after '/b'"},

		// reload
		{input: "ipsecoe {\n keys /k\n reload 30s\n}", reload: dur(30 * time.Second)},
		{input: "ipsecoe {\n keys /k\n reload 1m30s\n}", reload: dur(90 * time.Second)},
		{input: "ipsecoe {\n keys /k\n reload 0\n}", reload: dur(0)},
		{input: "ipsecoe {\n keys /k\n reload 0s\n}", reload: dur(0)},
		{input: "ipsecoe {\n keys /k\n reload -1s\n}", shouldErr: true, errContains: `reload must be a duration of 0 or more: "-1s"`},
		{input: "ipsecoe {\n keys /k\n reload soon\n}", shouldErr: true, errContains: `reload must be a duration of 0 or more: "soon"`},
		{input: "ipsecoe {\n keys /k\n reload 5\n}", shouldErr: true, errContains: `reload must be a duration of 0 or more: "5"`},
		{input: "ipsecoe {\n keys /k\n reload\n}", shouldErr: true, errContains: "Wrong argument count or unexpected line ending after 'reload'"},
		{input: "ipsecoe {\n keys /k\n reload 1s 2s\n}", shouldErr: true, errContains: "Wrong argument count"},

		// ttl
		{input: "ipsecoe {\n keys /k\n ttl 1\n}", ttl: 1},
		{input: "ipsecoe {\n keys /k\n ttl 300\n}", ttl: 300},
		{input: "ipsecoe {\n keys /k\n ttl 3600\n}", ttl: 3600},
		{input: "ipsecoe {\n keys /k\n ttl 0\n}", shouldErr: true, errContains: `ttl must be in range [1, 3600]: "0"`},
		{input: "ipsecoe {\n keys /k\n ttl 3601\n}", shouldErr: true, errContains: `ttl must be in range [1, 3600]: "3601"`},
		{input: "ipsecoe {\n keys /k\n ttl -1\n}", shouldErr: true, errContains: `ttl must be in range [1, 3600]: "-1"`},
		{input: "ipsecoe {\n keys /k\n ttl 1h\n}", shouldErr: true, errContains: `ttl must be in range [1, 3600]: "1h"`},
		{input: "ipsecoe {\n keys /k\n ttl 99999999999\n}", shouldErr: true, errContains: "ttl must be in range"},
		{input: "ipsecoe {\n keys /k\n ttl\n}", shouldErr: true, errContains: "Wrong argument count or unexpected line ending after 'ttl'"},
		{input: "ipsecoe {\n keys /k\n ttl 1 2\n}", shouldErr: true, errContains: "Wrong argument count"},

		// precedence
		{input: "ipsecoe {\n keys /k\n precedence 0\n}", precedence: u8(0)},
		{input: "ipsecoe {\n keys /k\n precedence 5\n}", precedence: u8(5)},
		{input: "ipsecoe {\n keys /k\n precedence 255\n}", precedence: u8(255)},
		{input: "ipsecoe {\n keys /k\n precedence 256\n}", shouldErr: true, errContains: `precedence must be in range [0, 255]: "256"`},
		{input: "ipsecoe {\n keys /k\n precedence -1\n}", shouldErr: true, errContains: `precedence must be in range [0, 255]: "-1"`},
		{input: "ipsecoe {\n keys /k\n precedence high\n}", shouldErr: true, errContains: `precedence must be in range [0, 255]: "high"`},
		{input: "ipsecoe {\n keys /k\n precedence\n}", shouldErr: true, errContains: "Wrong argument count or unexpected line ending after 'precedence'"},
		{input: "ipsecoe {\n keys /k\n precedence 1 2\n}", shouldErr: true, errContains: "Wrong argument count"},

		// gateway
		{
			input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 198.51.100.1\n}",
			keys:  []string{"arpa."}, zones: []string{"arpa."},
			gateways: []index.Gateway{{
				Prefix: netip.MustParsePrefix("192.0.2.0/24"), Target: "198.51.100.1",
				Addr: netip.MustParseAddr("198.51.100.1"), Precedence: defaultGatewayPre,
			}},
		},
		{
			input: "ipsecoe {\n keys /k\n gateway 2001:db8::/32 2001:DB8::1 7\n}",
			keys:  []string{"arpa."}, zones: []string{"arpa."},
			gateways: []index.Gateway{{
				Prefix: netip.MustParsePrefix("2001:db8::/32"), Target: "2001:db8::1",
				Addr: netip.MustParseAddr("2001:db8::1"), Precedence: 7,
			}},
		},
		{
			// An IPv4-mapped target is stored as the IPv4 address.
			input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 ::ffff:198.51.100.1\n}",
			keys:  []string{"arpa."}, zones: []string{"arpa."},
			gateways: []index.Gateway{{
				Prefix: netip.MustParsePrefix("192.0.2.0/24"), Target: "198.51.100.1",
				Addr: netip.MustParseAddr("198.51.100.1"), Precedence: defaultGatewayPre,
			}},
		},
		{
			input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 GW.Example.ORG\n}",
			keys:  []string{"arpa."}, zones: []string{"arpa."},
			gateways: []index.Gateway{{
				Prefix: netip.MustParsePrefix("192.0.2.0/24"), Target: "gw.example.org.",
				Precedence: defaultGatewayPre,
			}},
		},
		{
			input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 gw.example.org. 0\n gateway 198.51.100.0/25 198.51.100.1 255\n}",
			keys:  []string{"arpa."}, zones: []string{"arpa."},
			gateways: []index.Gateway{
				{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Target: "gw.example.org.", Precedence: 0},
				{
					Prefix: netip.MustParsePrefix("198.51.100.0/25"), Target: "198.51.100.1",
					Addr: netip.MustParseAddr("198.51.100.1"), Precedence: 255,
				},
			},
		},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.1/24 198.51.100.1\n}", shouldErr: true, errContains: `gateway prefix "192.0.2.1/24" has host bits set; did you mean 192.0.2.0/24?`},
		{input: "ipsecoe {\n keys /k\n gateway 2001:db8::1/64 gw.example.org\n}", shouldErr: true, errContains: `gateway prefix "2001:db8::1/64" has host bits set; did you mean 2001:db8::/64?`},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.1 198.51.100.1\n}", shouldErr: true, errContains: `gateway prefix must be a CIDR: "192.0.2.1"`},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/33 198.51.100.1\n}", shouldErr: true, errContains: `gateway prefix must be a CIDR: "192.0.2.0/33"`},
		{input: "ipsecoe {\n keys /k\n gateway example.org 198.51.100.1\n}", shouldErr: true, errContains: `gateway prefix must be a CIDR: "example.org"`},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 gw\n}", shouldErr: true, errContains: `gateway target must be an address or a host name: "gw"`},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 gw_bad!.example.org\n}", shouldErr: true, errContains: `gateway target must be an address or a host name: "gw_bad!.example.org"`},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 -gw.example.org\n}", shouldErr: true, errContains: "gateway target must be an address or a host name"},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 198.51.100.1/32\n}", shouldErr: true, errContains: `gateway target must be an address or a host name: "198.51.100.1/32"`},
		{input: "ipsecoe {\n keys /k\n gateway 2001:db8::/32 fe80::1%eth0\n}", shouldErr: true, errContains: `gateway target must not have a zone: "fe80::1%eth0"`},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 198.51.100.1 256\n}", shouldErr: true, errContains: `gateway precedence must be in range [0, 255]: "256"`},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 198.51.100.1 -1\n}", shouldErr: true, errContains: `gateway precedence must be in range [0, 255]: "-1"`},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 198.51.100.1 low\n}", shouldErr: true, errContains: `gateway precedence must be in range [0, 255]: "low"`},
		{input: "ipsecoe {\n keys /k\n gateway\n}", shouldErr: true, errContains: "Wrong argument count or unexpected line ending after 'gateway'"},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24\n}", shouldErr: true, errContains: "Wrong argument count"},
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 198.51.100.1 20 extra\n}", shouldErr: true, errContains: "Wrong argument count"},

		// ipseca
		{input: "ipsecoe {\n keys /k\n ipseca 500\n}", ports: []uint16{500}},
		{input: "ipsecoe {\n keys /k\n ipseca 500 4500 1 65535\n}", ports: []uint16{500, 4500, 1, 65535}},
		{input: "ipsecoe {\n keys /k\n ipseca 500 4500 500\n ipseca 4500 22\n}", ports: []uint16{500, 4500, 22}},
		{input: "ipsecoe {\n keys /k\n ipseca 0\n}", shouldErr: true, errContains: `ipseca port must be in range [1, 65535]: "0"`},
		{input: "ipsecoe {\n keys /k\n ipseca 500 65536\n}", shouldErr: true, errContains: `ipseca port must be in range [1, 65535]: "65536"`},
		{input: "ipsecoe {\n keys /k\n ipseca 0500\n}", shouldErr: true, errContains: `ipseca port must be in range [1, 65535]: "0500"`},
		{input: "ipsecoe {\n keys /k\n ipseca +500\n}", shouldErr: true, errContains: `ipseca port must be in range [1, 65535]: "+500"`},
		{input: "ipsecoe {\n keys /k\n ipseca -1\n}", shouldErr: true, errContains: `ipseca port must be in range [1, 65535]: "-1"`},
		{input: "ipsecoe {\n keys /k\n ipseca isakmp\n}", shouldErr: true, errContains: `ipseca port must be in range [1, 65535]: "isakmp"`},
		{input: "ipsecoe {\n keys /k\n ipseca\n}", shouldErr: true, errContains: "Wrong argument count or unexpected line ending after 'ipseca'"},

		// dane
		{input: "ipsecoe {\n keys /k\n}", dane: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}},
		{input: "ipsecoe {\n keys /k\n dane 2 0 1\n}", dane: []keyfile.DANE{{Usage: 2, Selector: 0, Matching: 1}}},
		{input: "ipsecoe {\n keys /k\n dane 0 0 0\n dane 3 1 2\n dane 0 0 0\n}", dane: []keyfile.DANE{{Usage: 0, Selector: 0, Matching: 0}, {Usage: 3, Selector: 1, Matching: 2}}},
		{input: "ipsecoe {\n keys /k\n dane 3 1 2\n dane 3 1 1\n}", dane: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 2}, {Usage: 3, Selector: 1, Matching: 1}}},
		{input: "ipsecoe {\n keys /k\n dane 4 1 1\n}", shouldErr: true, errContains: `dane usage must be in range [0, 3]: "4"`},
		{input: "ipsecoe {\n keys /k\n dane 3 2 1\n}", shouldErr: true, errContains: `dane selector must be in range [0, 1]: "2"`},
		{input: "ipsecoe {\n keys /k\n dane 3 1 3\n}", shouldErr: true, errContains: `dane matching type must be in range [0, 2]: "3"`},
		{input: "ipsecoe {\n keys /k\n dane -1 1 1\n}", shouldErr: true, errContains: `dane usage must be in range [0, 3]: "-1"`},
		{input: "ipsecoe {\n keys /k\n dane DANE-EE 1 1\n}", shouldErr: true, errContains: `dane usage must be in range [0, 3]: "DANE-EE"`},
		{input: "ipsecoe {\n keys /k\n dane 3 1 256\n}", shouldErr: true, errContains: `dane matching type must be in range [0, 2]: "256"`},
		{input: "ipsecoe {\n keys /k\n dane\n}", shouldErr: true, errContains: "Wrong argument count or unexpected line ending after 'dane'"},
		{input: "ipsecoe {\n keys /k\n dane 3 1\n}", shouldErr: true, errContains: "Wrong argument count"},
		{input: "ipsecoe {\n keys /k\n dane 3 1 1 1\n}", shouldErr: true, errContains: "Wrong argument count"},

		// allow
		{
			input: "ipsecoe {\n keys /k\n allow 192.0.2.0/24 2001:db8::/32\n}",
			allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")},
		},
		{
			input: "ipsecoe {\n keys /k\n allow 192.0.2.1 2001:db8::1\n allow 10.1.2.3/8 ::ffff:198.51.100.7\n}",
			allow: []netip.Prefix{
				netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("2001:db8::1/128"),
				netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("198.51.100.7/32"),
			},
		},
		{input: "ipsecoe {\n keys /k\n allow everyone\n}", shouldErr: true, errContains: `allow needs an address or CIDR: "everyone"`},
		{input: "ipsecoe {\n keys /k\n allow 192.0.2.0/24 192.0.2.0/33\n}", shouldErr: true, errContains: `allow needs an address or CIDR: "192.0.2.0/33"`},
		// a prefix outside the zones; one overlapping them, and a target outside them, are fine
		{input: "ipsecoe {\n keys /k\n gateway 192.0.2.0/24 198.51.100.1\n}", keys: []string{"example.org.", "100.51.198.in-addr.arpa."}, shouldErr: true, errContains: "Testfile:3 - Error during parsing: gateway prefix 192.0.2.0/24 is outside the zones"},
		{input: "ipsecoe {\n keys /k\n gateway 2001:db8::/32 gw.example.org\n}", keys: []string{"in-addr.arpa."}, shouldErr: true, errContains: "gateway prefix 2001:db8::/32 is outside the zones"},
		{input: "ipsecoe {\n keys /k\n gateway 10.0.0.0/8 gw.example.org\n}", keys: []string{"1.10.in-addr.arpa."}, zones: []string{"1.10.in-addr.arpa."},
			gateways: []index.Gateway{{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Target: "gw.example.org.", Precedence: defaultGatewayPre}}},
		{input: "ipsecoe {\n keys /k\n gateway 10.1.2.0/24 gw.example.org\n}", keys: []string{"10.in-addr.arpa."}, zones: []string{"10.in-addr.arpa."},
			gateways: []index.Gateway{{Prefix: netip.MustParsePrefix("10.1.2.0/24"), Target: "gw.example.org.", Precedence: defaultGatewayPre}}},
		{input: "ipsecoe {\n keys /k\n gateway 2001:db8::/64 gw.example.org\n}", keys: []string{"."}, zones: []string{"."},
			gateways: []index.Gateway{{Prefix: netip.MustParsePrefix("2001:db8::/64"), Target: "gw.example.org.", Precedence: defaultGatewayPre}}},
		{input: "ipsecoe {\n keys /k\n allow 192.0.2.0/\n}", shouldErr: true, errContains: `allow needs an address or CIDR: "192.0.2.0/"`},
		{input: "ipsecoe {\n keys /k\n allow\n}", shouldErr: true, errContains: "Wrong argument count or unexpected line ending after 'allow'"},

		// fallthrough
		{input: "ipsecoe {\n keys /k\n fallthrough\n}", fall: []string{"."}},
		{input: "ipsecoe {\n keys /k\n fallthrough Example.ORG 2.0.192.in-addr.arpa\n}", keys: []string{"example.org.", "in-addr.arpa."},
			zones: []string{"example.org.", "in-addr.arpa."}, fall: []string{"example.org.", "2.0.192.in-addr.arpa."}},
		{input: "ipsecoe {\n keys /k\n fallthrough in-addr.arpa\n}", keys: []string{"2.0.192.in-addr.arpa."}, zones: []string{"2.0.192.in-addr.arpa."}, fall: []string{"in-addr.arpa."}},
		{input: "ipsecoe {\n keys /k\n fallthrough example.net\n}", keys: []string{"example.org."}, shouldErr: true, errContains: `Testfile:3 - Error during parsing: fallthrough zone "example.net" is outside the zones`},

		// unknown property and a second ipsecoe
		{input: "ipsecoe {\n keys /k\n zones example.org\n}", shouldErr: true, errContains: "unknown property 'zones'"},
		{input: "ipsecoe {\n keys /k\n TTL 60\n}", shouldErr: true, errContains: "unknown property 'TTL'"},
		{input: "ipsecoe {\n keys /k\n}\nipsecoe {\n keys /k\n}", shouldErr: true, errContains: plugin.ErrOnce.Error()},
		{input: "ipsecoe\nipsecoe", shouldErr: true, errContains: plugin.ErrOnce.Error()},

		// zones
		{input: "ipsecoe example.org {\n keys /k\n}", zones: []string{"example.org."}},
		{input: "ipsecoe Example.ORG. 2.0.192.in-addr.arpa {\n keys /k\n}", zones: []string{"example.org.", "2.0.192.in-addr.arpa."}},
		{input: "ipsecoe 192.0.2.0/24 {\n keys /k\n}", zones: []string{"2.0.192.in-addr.arpa."}},
		{input: "ipsecoe {\n keys /k\n}", keys: []string{"192.0.2.0/24"}, zones: []string{"2.0.192.in-addr.arpa."}},
		{input: "ipsecoe {\n keys /k\n}", keys: []string{"example.org:53", "dns://2001:db8::/32"}, zones: []string{"example.org.", "8.b.d.0.1.0.0.2.ip6.arpa."}},
		{input: "ipsecoe example.net {\n keys /k\n}", keys: []string{"example.org."}, zones: []string{"example.net."}},

		// everything at once
		{
			input: `ipsecoe example.org 192.0.2.0/24 {
				keys keys
				reload 0
				ttl 60
				precedence 1
				gateway 192.0.2.0/24 gw.example.org 5
				ipseca 500 4500
				dane 3 0 1
				allow 10.0.0.0/8
				fallthrough example.org
			}`,
			root:   "/some/root",
			dir:    "/some/root/keys",
			zones:  []string{"example.org.", "2.0.192.in-addr.arpa."},
			reload: dur(0), ttl: 60, precedence: u8(1),
			gateways: []index.Gateway{{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Target: "gw.example.org.", Precedence: 5}},
			ports:    []uint16{500, 4500},
			dane:     []keyfile.DANE{{Usage: 3, Selector: 0, Matching: 1}},
			allow:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			fall:     []string{"example.org."},
		},

		// the error names the Corefile line
		{input: "ipsecoe {\n keys /k\n precedence 5\n ttl 0\n}", shouldErr: true, errContains: "Testfile:4 - Error during parsing: ttl must be in range"},
		{input: "ipsecoe {\n keys /k\n\n\n gateway 192.0.2.1/24 gw.example.org\n}", shouldErr: true, errContains: "Testfile:5 - Error during parsing: gateway prefix"},
		{input: "ipsecoe {\n keys /k\n bogus\n}", shouldErr: true, errContains: "Testfile:3 - Error during parsing: unknown property 'bogus'"},
		{input: "ipsecoe {\n keys /k\n reload\n}", shouldErr: true, errContains: "Testfile:3 - Error during parsing: Wrong argument count"},
	}

	for i, tc := range tests {
		c := caddy.NewTestController("dns", tc.input)
		if tc.root != "" {
			dnsserver.GetConfig(c).Root = tc.root
		}
		if tc.keys != nil {
			c.ServerBlockKeys = tc.keys
		}
		p, err := parse(c)

		if tc.shouldErr {
			if err == nil {
				t.Errorf("Test %d: expected error for input %q, got none", i, tc.input)
				continue
			}
			if !strings.Contains(err.Error(), tc.errContains) {
				t.Errorf("Test %d: expected error containing %q, got %q", i, tc.errContains, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Test %d: expected no error for input %q, got %v", i, tc.input, err)
			continue
		}

		dir := tc.dir
		if dir == "" {
			dir = "/k"
		}
		if p.dir != dir {
			t.Errorf("Test %d: expected dir %q, got %q", i, dir, p.dir)
		}
		if !slices.Equal(p.Zones, tc.zones) {
			t.Errorf("Test %d: expected zones %q, got %q", i, tc.zones, p.Zones)
		}
		reload := defaultReload
		if tc.reload != nil {
			reload = *tc.reload
		}
		if p.reload != reload {
			t.Errorf("Test %d: expected reload %v, got %v", i, reload, p.reload)
		}
		ttl := tc.ttl
		if ttl == 0 {
			ttl = defaultTTL
		}
		if p.ttl != ttl {
			t.Errorf("Test %d: expected ttl %d, got %d", i, ttl, p.ttl)
		}
		precedence := uint8(defaultPrecedence)
		if tc.precedence != nil {
			precedence = *tc.precedence
		}
		if p.opts.Precedence != precedence {
			t.Errorf("Test %d: expected precedence %d, got %d", i, precedence, p.opts.Precedence)
		}
		if !slices.Equal(p.opts.Gateways, tc.gateways) {
			t.Errorf("Test %d: expected gateways %+v, got %+v", i, tc.gateways, p.opts.Gateways)
		}
		if !slices.Equal(p.opts.Ports, tc.ports) {
			t.Errorf("Test %d: expected ports %v, got %v", i, tc.ports, p.opts.Ports)
		}
		dane := tc.dane
		if dane == nil {
			dane = []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}
		}
		if !slices.Equal(p.opts.DANE, dane) {
			t.Errorf("Test %d: expected dane %+v, got %+v", i, dane, p.opts.DANE)
		}
		if !slices.Equal(p.allow, tc.allow) {
			t.Errorf("Test %d: expected allow %v, got %v", i, tc.allow, p.allow)
		}
		if !slices.Equal(p.Fall.Zones, tc.fall) {
			t.Errorf("Test %d: expected fallthrough zones %q, got %q", i, tc.fall, p.Fall.Zones)
		}
		if p.Next != nil || p.idx.Load() != nil || p.stop != nil || p.done != nil {
			t.Errorf("Test %d: parse must not load keys or start anything", i)
		}
	}
}

// TestSetupRegistered runs setup, the function registered with CoreDNS: a valid block adds
// the handler to the server config, an invalid one returns a "plugin/ipsecoe:" error and
// adds nothing.
func TestSetupRegistered(t *testing.T) {
	tests := []struct {
		input       string
		shouldErr   bool
		errContains string
	}{
		{input: "ipsecoe example.org {\n keys /k\n ttl 60\n}"},
		{input: "ipsecoe {\n keys /k\n ttl 0\n}", shouldErr: true, errContains: "Testfile:3 - Error during parsing: ttl must be in range [1, 3600]"},
		{input: "ipsecoe", shouldErr: true, errContains: "keys DIR is required"},
		{input: "ipsecoe {\n keys /k\n}\nipsecoe {\n keys /k\n}", shouldErr: true, errContains: plugin.ErrOnce.Error()},
	}

	for i, tc := range tests {
		c := caddy.NewTestController("dns", tc.input)
		err := setup(c)
		cfg := dnsserver.GetConfig(c)

		if tc.shouldErr {
			if err == nil {
				t.Errorf("Test %d: expected error for input %q, got none", i, tc.input)
				continue
			}
			if !strings.HasPrefix(err.Error(), "plugin/ipsecoe: ") {
				t.Errorf("Test %d: expected error starting with %q, got %q", i, "plugin/ipsecoe: ", err)
			}
			if !strings.Contains(err.Error(), tc.errContains) {
				t.Errorf("Test %d: expected error containing %q, got %q", i, tc.errContains, err)
			}
			if tc.errContains == plugin.ErrOnce.Error() && !errors.Is(err, plugin.ErrOnce) {
				t.Errorf("Test %d: expected error wrapping plugin.ErrOnce, got %v", i, err)
			}
			if len(cfg.Plugin) != 0 {
				t.Errorf("Test %d: expected no plugin added on error, got %d", i, len(cfg.Plugin))
			}
			continue
		}
		if err != nil {
			t.Errorf("Test %d: expected no error for input %q, got %v", i, tc.input, err)
			continue
		}
		if len(cfg.Plugin) != 1 {
			t.Errorf("Test %d: expected 1 plugin added, got %d", i, len(cfg.Plugin))
			continue
		}
		// A handler that records its call: the plugin's Next must be this one.
		called := false
		next := plugin.HandlerFunc(func(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) {
			called = true
			return dns.RcodeSuccess, nil
		})
		h, ok := cfg.Plugin[0](next).(*IPSecOE)
		if !ok {
			t.Errorf("Test %d: expected the handler to be *IPSecOE, got %T", i, cfg.Plugin[0](next))
			continue
		}
		if h.Name() != "ipsecoe" {
			t.Errorf("Test %d: expected name %q, got %q", i, "ipsecoe", h.Name())
		}
		if h.Next == nil {
			t.Errorf("Test %d: expected Next to be set by the plugin closure", i)
		} else if h.Next.ServeDNS(context.Background(), nil, nil); !called {
			t.Errorf("Test %d: expected Next to be the handler given to the plugin closure, got %T", i, h.Next)
		}
		if !slices.Equal(h.Zones, []string{"example.org."}) || h.ttl != 60 || h.dir != "/k" {
			t.Errorf("Test %d: unexpected handler zones %q, ttl %d, dir %q", i, h.Zones, h.ttl, h.dir)
		}
	}
}

func TestSetupNS(t *testing.T) {
	for i, tc := range []struct {
		input, ns string
		err       string
	}{
		{"ipsecoe example.org {\n keys /k\n}", "ns1.example.org.", ""},
		{"ipsecoe example.org {\n keys /k\n ns NS.Example.NET\n}", "ns.example.net.", ""},
		{"ipsecoe example.org {\n keys /k\n ns ns.example.net.\n}", "ns.example.net.", ""},
		{"ipsecoe example.org {\n keys /k\n ns ns_1.example.net\n}", "", `ns must be a host name: "ns_1.example.net"`},
		{"ipsecoe example.org {\n keys /k\n ns a.example.net b.example.net\n}", "", "Wrong argument count"},
		{"ipsecoe example.org {\n keys /k\n ns a.example.net\n ns b.example.net\n}", "", "ns given twice"},
	} {
		p, err := parse(caddy.NewTestController("dns", tc.input))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Test %d: error %v, want %q", i, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Test %d: %v", i, err)
		}
		a := p.apexes["example.org."]
		if s, n := soa(a, 60, 1), ns(a, 60); s.Ns != tc.ns || n.Ns != tc.ns {
			t.Errorf("Test %d: SOA MNAME %s, NS %s; want %s", i, s.Ns, n.Ns, tc.ns)
		}
	}
}
