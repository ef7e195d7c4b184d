package ipsecoe

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/ipsecoe/ipsecoe/internal/index"
	"github.com/ipsecoe/ipsecoe/internal/keyfile"

	"github.com/miekg/dns"
)

var log = clog.NewWithPlugin(name)

func init() { plugin.Register(name, setup) }

func setup(c *caddy.Controller) error {
	p, err := parse(c)
	if err != nil {
		return plugin.Error(name, err)
	}
	firstStart := false // the process is starting, rather than reading a new Corefile
	c.OnFirstStartup(func() error { firstStart = true; return nil })
	c.OnStartup(func() error {
		cfg := dnsserver.GetConfig(c)
		if p.allowAt != "" && cfg.Handler("cache") != nil {
			// The chain exists only now. cache keys answers by the question alone: it would
			// hand one client's IPSECA (or refusal) to every other.
			return plugin.Error(name, fmt.Errorf("%s - allow cannot be used with cache in the same server block: "+
				"cache would give IPSECA answers to clients outside allow; give those clients their own server block with view", p.allowAt))
		}
		p.signer.Store(newSigner(findSigner(cfg.Handler("dnssec")), p.Zones, p.apexes))
		p.servers, p.view = serverLabels(cfg), cfg.ViewName
		if t, ok := cfg.Handler("transfer").(*transfer.Transfer); ok {
			p.xfer = t
		}
		return p.start(firstStart)
	})
	c.OnShutdown(p.shutdown)
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		p.Next = next
		return p
	})
	return nil
}

func parse(c *caddy.Controller) (*IPSecOE, error) {
	return parseCorefile(&c.Dispenser, c.ServerBlockKeys, dnsserver.GetConfig(c).Root)
}

// parseCorefile reads an ipsecoe block from d: the server block's keys give the default zones,
// root the base of a relative key directory. The ipsecoe command reads Corefiles with it.
func parseCorefile(c *caddyfile.Dispenser, serverKeys []string, root string) (*IPSecOE, error) {
	p := &IPSecOE{ttl: defaultTTL, reload: defaultReload, opts: index.Options{Precedence: defaultPrecedence}}
	i := 0
	seen := map[string]int{}
	for c.Next() {
		if i > 0 {
			return nil, plugin.ErrOnce
		}
		i++
		args := c.RemainingArgs()
		if err := checkZones(c, args); err != nil {
			return nil, err
		}
		p.Zones = plugin.OriginsFromArgsOrServerBlock(args, serverKeys)
		for c.NextBlock() {
			if v := c.Val(); singleOptions[v] {
				if line, twice := seen[v]; twice {
					return nil, c.Errf("%s given twice (first on line %d)", v, line)
				}
				seen[v] = c.Line()
			}
			if err := p.parseOption(c, root); err != nil {
				return nil, err
			}
		}
	}
	if p.dir == "" {
		return nil, c.Err("keys DIR is required")
	}
	p.apexes = map[string]*apex{}
	for _, z := range p.Zones {
		p.apexes[z] = newApex(z, p.nsName)
	}
	if len(p.opts.DANE) == 0 {
		p.opts.DANE = []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}
	}
	if _, err := os.Stat(p.dir); err != nil {
		log.Warningf("key directory %s: %v; will retry every reload", p.dir, err)
	}
	return p, nil
}

// singleOptions may be given once in a block: a second one is a mistake, not an override.
var singleOptions = map[string]bool{"keys": true, "reload": true, "ttl": true, "precedence": true, "fallthrough": true, "ns": true}

func (p *IPSecOE) parseOption(c *caddyfile.Dispenser, root string) error {
	switch v := c.Val(); v {
	case "keys":
		args := c.RemainingArgs()
		if len(args) != 1 {
			return c.ArgErr()
		}
		p.dir = args[0]
		if p.dir == "" {
			return c.Err("keys DIR must not be empty")
		}
		if !filepath.IsAbs(p.dir) {
			p.dir = filepath.Join(root, p.dir)
		}
	case "reload":
		args := c.RemainingArgs()
		if len(args) != 1 {
			return c.ArgErr()
		}
		d, err := time.ParseDuration(args[0])
		if err != nil || d < 0 {
			return c.Errf("reload must be a duration of 0 or more: %q", args[0])
		}
		p.reload = d
	case "ttl":
		n, err := uintArg(c, 1, 3600, "ttl")
		if err != nil {
			return err
		}
		p.ttl = uint32(n)
	case "precedence":
		n, err := uintArg(c, 0, 255, "precedence")
		if err != nil {
			return err
		}
		p.opts.Precedence = uint8(n)
	case "gateway":
		g, err := parseGateway(c)
		if err != nil {
			return err
		}
		if !prefixInZones(g.Prefix, p.Zones) {
			return c.Errf("gateway prefix %s is outside the zones %v: no query would reach it", g.Prefix, p.Zones)
		}
		p.opts.Gateways = append(p.opts.Gateways, g)
	case "ns":
		args := c.RemainingArgs()
		if len(args) != 1 {
			return c.ArgErr()
		}
		if p.nsName = strings.ToLower(dns.Fqdn(args[0])); !keyfile.IsHostName(p.nsName) {
			return c.Errf("ns must be a host name: %q", args[0])
		}
	case "ipseca":
		return eachArg(c, func(a string) error {
			port, err := keyfile.ParsePort(a)
			if err != nil {
				return c.Errf("ipseca port must be in range [1, 65535]: %q", a)
			}
			if !slices.Contains(p.opts.Ports, port) {
				p.opts.Ports = append(p.opts.Ports, port)
			}
			return nil
		})
	case "dane":
		args := c.RemainingArgs()
		if len(args) != 3 {
			return c.ArgErr()
		}
		var f [3]uint8
		for i, lim := range [3]uint64{3, 1, 2} {
			n, err := strconv.ParseUint(args[i], 10, 8)
			if err != nil || n > lim {
				return c.Errf("dane %s must be in range [0, %d]: %q", [3]string{"usage", "selector", "matching type"}[i], lim, args[i])
			}
			f[i] = uint8(n)
		}
		d := keyfile.DANE{Usage: f[0], Selector: f[1], Matching: f[2]}
		if !slices.Contains(p.opts.DANE, d) {
			p.opts.DANE = append(p.opts.DANE, d)
		}
	case "allow":
		p.allowAt = fmt.Sprintf("%s:%d", c.File(), c.Line())
		return eachArg(c, func(a string) error {
			pfx, err := parseCIDR(a)
			if err != nil {
				return c.Errf("allow needs an address or CIDR: %q", a)
			}
			p.allow = append(p.allow, pfx)
			return nil
		})
	case "fallthrough":
		args := c.RemainingArgs()
		if err := checkZones(c, args); err != nil {
			return err
		}
		p.Fall.SetZonesFromArgs(args)
		for _, z := range args {
			if !overlapsZones(plugin.Host(z).NormalizeExact()[0], p.Zones) {
				return c.Errf("fallthrough zone %q is outside the zones %v", z, p.Zones)
			}
		}
	default:
		return c.Errf("unknown property '%s'", v)
	}
	return nil
}

// eachArg calls fn with every argument of the option; an option without one is an error.
func eachArg(c *caddyfile.Dispenser, fn func(string) error) error {
	args := c.RemainingArgs()
	if len(args) == 0 {
		return c.ArgErr()
	}
	for _, a := range args {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func uintArg(c *caddyfile.Dispenser, lo, hi uint64, what string) (uint64, error) {
	args := c.RemainingArgs()
	if len(args) != 1 {
		return 0, c.ArgErr()
	}
	n, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil || n < lo || n > hi {
		return 0, c.Errf("%s must be in range [%d, %d]: %q", what, lo, hi, args[0])
	}
	return n, nil
}

// parseGateway reads "gateway PREFIX TARGET [PRECEDENCE]".
func parseGateway(c *caddyfile.Dispenser) (index.Gateway, error) {
	args := c.RemainingArgs()
	if len(args) < 2 || len(args) > 3 {
		return index.Gateway{}, c.ArgErr()
	}
	pfx, err := netip.ParsePrefix(args[0])
	if err != nil {
		return index.Gateway{}, c.Errf("gateway prefix must be a CIDR: %q", args[0])
	}
	pfx = unmapPrefix(pfx)
	if pfx != pfx.Masked() {
		return index.Gateway{}, c.Errf("gateway prefix %q has host bits set; did you mean %s?", args[0], pfx.Masked())
	}
	g := index.Gateway{Prefix: pfx, Precedence: defaultGatewayPre}
	if a, err := netip.ParseAddr(args[1]); err == nil {
		if a.Zone() != "" {
			return index.Gateway{}, c.Errf("gateway target must not have a zone: %q", args[1])
		}
		if a.Unmap().IsUnspecified() {
			return index.Gateway{}, c.Errf("gateway target must not be the unspecified address: %q", args[1])
		}
		g.Addr = a.Unmap()
		g.Target = g.Addr.String()
	} else {
		t := strings.ToLower(dns.Fqdn(args[1]))
		if !keyfile.IsHostName(t) {
			return index.Gateway{}, c.Errf("gateway target must be an address or a host name: %q", args[1])
		}
		g.Target = t
	}
	if len(args) == 3 {
		n, err := strconv.ParseUint(args[2], 10, 8)
		if err != nil {
			return index.Gateway{}, c.Errf("gateway precedence must be in range [0, 255]: %q", args[2])
		}
		g.Precedence = uint8(n)
	}
	return g, nil
}

// parseCIDR reads a prefix, or an address as its host prefix.
func parseCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		return unmapPrefix(pfx).Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("address with a zone")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unmapPrefix turns an IPv4-mapped prefix (::ffff:192.0.2.0/120) into its IPv4 form,
// as client and target addresses are unmapped too.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// prefixInZones reports whether some address of p has its reverse name in one of zones.
func prefixInZones(p netip.Prefix, zones []string) bool {
	root := keyfile.In4Arpa
	if p.Addr().Is6() {
		root = keyfile.In6Arpa
	}
	for _, z := range zones {
		if dns.IsSubDomain(z, root) {
			return true
		}
		if zp, ok := keyfile.ReversePrefix(z); ok && zp.Overlaps(p) {
			return true
		}
	}
	return false
}

// overlapsZones reports whether zone is one of zones, inside one, or above one.
func overlapsZones(zone string, zones []string) bool {
	for _, z := range zones {
		if dns.IsSubDomain(z, zone) || dns.IsSubDomain(zone, z) {
			return true
		}
	}
	return false
}

// checkZones refuses zone arguments that CoreDNS's normalization would silently drop.
func checkZones(c *caddyfile.Dispenser, args []string) error {
	for _, z := range args {
		if len(plugin.Host(z).NormalizeExact()) == 0 {
			return c.Errf("not a valid zone: %q", z)
		}
	}
	return nil
}
