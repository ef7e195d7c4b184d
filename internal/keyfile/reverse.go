package keyfile

import (
	"net/netip"
	"strconv"
	"strings"
	"unsafe"
)

// The reverse trees of IPv4 (RFC 1035) and IPv6 (RFC 3596) addresses.
const (
	In4Arpa = "in-addr.arpa."
	In6Arpa = "ip6.arpa."
)

// reverseName is the reverse name of a, as dns.ReverseAddr writes it, made without
// going through the address's text.
func reverseName(a netip.Addr) string {
	const hex = "0123456789abcdef"
	if a.Is4() {
		b := make([]byte, 0, 4*4+len(In4Arpa))
		v4 := a.As4()
		for i := 3; i >= 0; i-- {
			b = strconv.AppendUint(b, uint64(v4[i]), 10)
			b = append(b, '.')
		}
		return built(append(b, In4Arpa...))
	}
	b := make([]byte, 0, 16*4+len(In6Arpa))
	v6 := a.As16()
	for i := 15; i >= 0; i-- {
		b = append(b, hex[v6[i]&0xf], '.', hex[v6[i]>>4], '.')
	}
	return built(append(b, In6Arpa...))
}

// built is b as a string without a copy: b is not written again.
func built(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// IsReverseZone reports whether lower-case fq is in-addr.arpa. or ip6.arpa. or below them.
func IsReverseZone(fq string) bool {
	return hasLabelSuffix(fq, In4Arpa) || hasLabelSuffix(fq, In6Arpa)
}

func hasLabelSuffix(fq, suffix string) bool {
	return fq == suffix || len(fq) > len(suffix)+1 && strings.HasSuffix(fq, "."+suffix)
}

// ParseReverse reads a lower-case reverse name. For the name of one address full is true
// and p is that address's host prefix; for a shorter name, p is the prefix of every
// address below it (1.10.in-addr.arpa. is 10.1.0.0/16). ok is false for anything that is
// not a canonical reverse name, such as labels past the address or "01" for "1".
func ParseReverse(fq string) (a netip.Addr, full, ok bool) {
	p, ok := ReversePrefix(fq)
	if !ok {
		return netip.Addr{}, false, false
	}
	return p.Addr(), p.IsSingleIP(), true
}

// ReversePrefix is ParseReverse as a prefix.
func ReversePrefix(fq string) (netip.Prefix, bool) {
	switch {
	case hasLabelSuffix(fq, In4Arpa):
		return reverse4(strings.TrimSuffix(strings.TrimSuffix(fq, In4Arpa), "."))
	case hasLabelSuffix(fq, In6Arpa):
		return reverse6(strings.TrimSuffix(strings.TrimSuffix(fq, In6Arpa), "."))
	}
	return netip.Prefix{}, false
}

func reverse4(s string) (netip.Prefix, bool) {
	var b [4]byte
	n := 0
	for s != "" {
		if n == 4 {
			return netip.Prefix{}, false
		}
		var label string
		if i := strings.LastIndexByte(s, '.'); i >= 0 {
			label, s = s[i+1:], s[:i]
			if s == "" {
				return netip.Prefix{}, false
			}
		} else {
			label, s = s, ""
		}
		v, ok := octet(label)
		if !ok {
			return netip.Prefix{}, false
		}
		b[n] = v
		n++
	}
	return netip.PrefixFrom(netip.AddrFrom4(b), 8*n), true
}

func octet(l string) (byte, bool) {
	if l == "" || len(l) > 3 || (len(l) > 1 && l[0] == '0') {
		return 0, false
	}
	v := 0
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return 0, false
		}
		v = v*10 + int(l[i]-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}

func reverse6(s string) (netip.Prefix, bool) {
	var b [16]byte
	if s == "" {
		return netip.PrefixFrom(netip.AddrFrom16(b), 0), true
	}
	if len(s)%2 != 1 || len(s) > 63 {
		return netip.Prefix{}, false
	}
	n := (len(s) + 1) / 2
	for i := 0; i < n; i++ {
		c := s[len(s)-1-2*i]
		if i < n-1 && s[len(s)-2-2*i] != '.' {
			return netip.Prefix{}, false
		}
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			return netip.Prefix{}, false
		}
		if i%2 == 0 {
			b[i/2] |= v << 4
		} else {
			b[i/2] |= v
		}
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), 4*n), true
}
