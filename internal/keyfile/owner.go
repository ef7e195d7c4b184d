package keyfile

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Owner is a name a key is published at.
type Owner struct {
	Name string     // lower-case FQDN: a reverse name, a host name, or _PORT.<name>
	Addr netip.Addr // the address behind a reverse name; invalid for host names
	Port uint16     // non-zero for an explicit IPSECA owner (_PORT.<name>)
}

// MaxNameLen is the longest name in presentation form with its final dot: 255 octets on the wire.
const MaxNameLen = 254

// keyExtensions are the file name extensions stripped before the name is read as an owner.
var keyExtensions = []string{".pem", ".crt", ".cer", ".der", ".pub"}

// OwnerFromFileName reads the owner a bare key's (or SAN-less certificate's) file name
// gives: 192.0.2.10.pem, 2001-db8--10.pem, 10.2.0.192.in-addr.arpa.pem,
// gw1.example.com.pem or _53.ns1.example.com.pem. "key.pub.pem" loses both extensions.
func OwnerFromFileName(base string) (Owner, error) {
	name := base
	for i, ext := range keyExtensions {
		if len(name) > len(ext) && strings.EqualFold(name[len(name)-len(ext):], ext) {
			name = name[:len(name)-len(ext)]
			if i != len(keyExtensions)-1 && len(name) >= len(".pub") && strings.EqualFold(name[len(name)-len(".pub"):], ".pub") {
				name = name[:len(name)-len(".pub")]
			}
			break
		}
	}
	name = strings.TrimSuffix(name, ".")
	if port, rest, ok := SplitPort(name); ok {
		o, err := ownerFromText(rest)
		if err != nil {
			return Owner{}, err
		}
		o.Name, o.Port = PortName(port, o.Name), port
		if len(o.Name) > MaxNameLen {
			return Owner{}, Refuse(ReasonOwner, "%q is longer than a domain name may be", base)
		}
		return o, nil
	}
	return ownerFromText(name)
}

// SplitPort splits "_53.rest" into 53 and "rest".
func SplitPort(name string) (uint16, string, bool) {
	if !strings.HasPrefix(name, "_") {
		return 0, "", false
	}
	label, rest, ok := strings.Cut(name[1:], ".")
	if !ok {
		return 0, "", false
	}
	port, err := ParsePort(label)
	if err != nil {
		return 0, "", false
	}
	return port, rest, true
}

// ParsePort parses a decimal port 1-65535 without sign or leading zeros.
func ParsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || s[0] == '0' || s[0] == '+' {
		return 0, Refuse(ReasonOwner, "bad port %q", s)
	}
	return uint16(n), nil
}

// PortName is the IPSECA owner for port at name: _PORT.name.
func PortName(port uint16, name string) string {
	return string(AppendPortName(nil, port, []byte(name)))
}

// AppendPortName appends _PORT.name to dst.
func AppendPortName(dst []byte, port uint16, name []byte) []byte {
	dst = strconv.AppendUint(append(dst, '_'), uint64(port), 10)
	return append(append(dst, '.'), name...)
}

// ownerFromText reads an address, an IPv6 address with '-' for ':', a reverse name or a
// host name of at least two labels.
func ownerFromText(s string) (Owner, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return AddrOwner(a), nil
	}
	if strings.Contains(s, "-") && !strings.Contains(s, ".") {
		if a, err := netip.ParseAddr(strings.ReplaceAll(s, "-", ":")); err == nil && a.Is6() && a.Zone() == "" {
			return AddrOwner(a), nil
		}
	}
	fq := strings.ToLower(dns.Fqdn(s))
	if IsReverseZone(fq) {
		a, full, ok := ParseReverse(fq)
		if !ok || !full {
			return Owner{}, Refuse(ReasonOwner, "%q is not the reverse name of one address", s)
		}
		return AddrOwner(a), nil
	}
	if !IsHostName(fq) {
		return Owner{}, Refuse(ReasonOwner, "file name %q is not an address, reverse name, host name or _PORT.name", s)
	}
	return Owner{Name: fq}, nil
}

// AddrOwner is the owner at the reverse name of a.
func AddrOwner(a netip.Addr) Owner {
	a = a.Unmap()
	return Owner{Name: reverseName(a), Addr: a}
}

// IsHostName accepts letter-digit-hyphen labels (RFC 952/1123), two at least.
func IsHostName(fq string) bool {
	if _, ok := dns.IsDomainName(fq); !ok || dns.CountLabel(fq) < 2 || len(fq) > MaxNameLen {
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
func hostOwner(san string) (Owner, error) {
	fq := strings.ToLower(dns.Fqdn(san))
	if strings.Contains(fq, "*") {
		return Owner{}, Refuse(ReasonOwner, "wildcard SAN %q skipped", san)
	}
	if !IsHostName(fq) {
		return Owner{}, Refuse(ReasonOwner, "DNS SAN %q is not a host name", san)
	}
	return Owner{Name: fq}, nil
}

// AssignOwners sets the owners of every key read from the file named base: a certificate's
// IP and DNS SANs, else the file name. It returns warnings for skipped SANs, and an error
// when a key has no Owner at all.
func AssignOwners(base string, keys []*Key) (warnings []error, err error) {
	var fromName Owner
	var nameRead bool
	var nameErr error
	nameOwner := func() (Owner, error) { // read once, for the first key that needs it
		if !nameRead {
			fromName, nameErr = OwnerFromFileName(base)
			nameRead = true
		}
		return fromName, nameErr
	}
	for i, k := range keys {
		k.Owners = k.Owners[:0]
		for _, ip := range k.SANIPs {
			a, perr := netip.ParseAddr(ip)
			if perr != nil {
				continue
			}
			k.Owners = append(k.Owners, AddrOwner(a))
		}
		for _, san := range k.SANNames {
			o, oerr := hostOwner(san)
			if oerr != nil {
				warnings = append(warnings, oerr)
				continue
			}
			k.Owners = append(k.Owners, o)
		}
		if len(k.Owners) > 0 {
			continue
		}
		o, oerr := nameOwner()
		if oerr != nil {
			if k.Cert != nil {
				return warnings, Refuse(ReasonOwner, "certificate %d has no usable SAN and %v", i+1, oerr)
			}
			return warnings, oerr
		}
		k.Owners = append(k.Owners, o)
	}
	return warnings, nil
}
