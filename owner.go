package ipsecoe

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// owner is a name a key is published at.
type owner struct {
	name string     // lower-case FQDN: a reverse name, a host name, or _PORT.<name>
	addr netip.Addr // the address behind a reverse name; invalid for host names
	port uint16     // non-zero for an explicit IPSECA owner (_PORT.<name>)
}

// maxNameLen is the longest name in presentation form with its final dot: 255 octets on the wire.
const maxNameLen = 254

// keyExtensions are the file name extensions stripped before the name is read as an owner.
var keyExtensions = []string{".pem", ".crt", ".cer", ".der", ".pub"}

// ownerFromFileName reads the owner a bare key's (or SAN-less certificate's) file name
// gives: 192.0.2.10.pem, 2001-db8--10.pem, 10.2.0.192.in-addr.arpa.pem,
// gw1.example.com.pem or _53.ns1.example.com.pem. "key.pub.pem" loses both extensions.
func ownerFromFileName(base string) (owner, error) {
	name := base
	for i, ext := range keyExtensions {
		if len(name) > len(ext) && strings.EqualFold(name[len(name)-len(ext):], ext) {
			name = name[:len(name)-len(ext)]
			if i != len(keyExtensions)-1 && strings.HasSuffix(strings.ToLower(name), ".pub") {
				name = name[:len(name)-len(".pub")]
			}
			break
		}
	}
	name = strings.TrimSuffix(name, ".")
	if port, rest, ok := splitPort(name); ok {
		o, err := ownerFromText(rest)
		if err != nil {
			return owner{}, err
		}
		o.name, o.port = portName(port, o.name), port
		if len(o.name) > maxNameLen {
			return owner{}, refuse(reasonOwner, "%q is longer than a domain name may be", base)
		}
		return o, nil
	}
	return ownerFromText(name)
}

// splitPort splits "_53.rest" into 53 and "rest".
func splitPort(name string) (uint16, string, bool) {
	if !strings.HasPrefix(name, "_") {
		return 0, "", false
	}
	label, rest, ok := strings.Cut(name[1:], ".")
	if !ok {
		return 0, "", false
	}
	port, err := parsePort(label)
	if err != nil {
		return 0, "", false
	}
	return port, rest, true
}

// parsePort parses a decimal port 1-65535 without sign or leading zeros.
func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || s[0] == '0' || s[0] == '+' {
		return 0, refuse(reasonOwner, "bad port %q", s)
	}
	return uint16(n), nil
}

func portName(port uint16, name string) string {
	return "_" + strconv.Itoa(int(port)) + "." + name
}

// ownerFromText reads an address, an IPv6 address with '-' for ':', a reverse name or a
// host name of at least two labels.
func ownerFromText(s string) (owner, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return addrOwner(a), nil
	}
	if strings.Contains(s, "-") && !strings.Contains(s, ".") {
		if a, err := netip.ParseAddr(strings.ReplaceAll(s, "-", ":")); err == nil && a.Is6() && a.Zone() == "" {
			return addrOwner(a), nil
		}
	}
	fq := strings.ToLower(dns.Fqdn(s))
	if isReverseZone(fq) {
		a, full, ok := parseReverse(fq)
		if !ok || !full {
			return owner{}, refuse(reasonOwner, "%q is not the reverse name of one address", s)
		}
		return addrOwner(a), nil
	}
	if !isHostName(fq) {
		return owner{}, refuse(reasonOwner, "file name %q is not an address, reverse name, host name or _PORT.name", s)
	}
	return owner{name: fq}, nil
}

// addrOwner is the owner at the reverse name of a.
func addrOwner(a netip.Addr) owner {
	a = a.Unmap()
	r, _ := dns.ReverseAddr(a.String())
	return owner{name: r, addr: a}
}

// isHostName accepts letter-digit-hyphen labels (RFC 952/1123), two at least.
func isHostName(fq string) bool {
	if _, ok := dns.IsDomainName(fq); !ok || dns.CountLabel(fq) < 2 || len(fq) > maxNameLen {
		return false
	}
	labels := dns.SplitDomainName(fq)
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return false // RFC 1123 2.1: the top label is not all-numeric, so 192.0.2.256 is no name
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// hostOwner is the owner for a certificate DNS SAN; wildcards are refused.
func hostOwner(san string) (owner, error) {
	fq := strings.ToLower(dns.Fqdn(san))
	if strings.Contains(fq, "*") {
		return owner{}, refuse(reasonOwner, "wildcard SAN %q skipped", san)
	}
	if !isHostName(fq) {
		return owner{}, refuse(reasonOwner, "DNS SAN %q is not a host name", san)
	}
	return owner{name: fq}, nil
}

// assignOwners sets the owners of every key read from the file named base: a certificate's
// IP and DNS SANs, else the file name. It returns warnings for skipped SANs, and an error
// when a key has no owner at all.
func assignOwners(base string, keys []*pubKey) (warnings []error, err error) {
	var fromName *owner
	nameOwner := func() (owner, error) {
		if fromName == nil {
			o, err := ownerFromFileName(base)
			if err != nil {
				return owner{}, err
			}
			fromName = &o
		}
		return *fromName, nil
	}
	for i, k := range keys {
		k.owners = k.owners[:0]
		for _, ip := range k.sanIPs {
			a, perr := netip.ParseAddr(ip)
			if perr != nil {
				continue
			}
			k.owners = append(k.owners, addrOwner(a))
		}
		for _, san := range k.sanNames {
			o, oerr := hostOwner(san)
			if oerr != nil {
				warnings = append(warnings, oerr)
				continue
			}
			k.owners = append(k.owners, o)
		}
		if len(k.owners) > 0 {
			continue
		}
		o, oerr := nameOwner()
		if oerr != nil {
			if k.cert != nil {
				return warnings, refuse(reasonOwner, "certificate %d has no usable SAN and %v", i+1, oerr)
			}
			return warnings, oerr
		}
		k.owners = append(k.owners, o)
	}
	return warnings, nil
}
