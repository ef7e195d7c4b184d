package ipsecoe

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/plugin"
	"github.com/ipsecoe/ipsecoe/internal/index"
	"github.com/ipsecoe/ipsecoe/internal/keyfile"

	"github.com/miekg/dns"
)

// Loader loads a key directory exactly as an ipsecoe block of a Corefile does, for tools
// that check or export a key directory outside CoreDNS (cmd/ipsecoe).
type Loader struct{ p *IPSecOE }

// NewLoader returns a Loader for the block "ipsecoe ZONES... { keys DIR }".
func NewLoader(dir string, zones ...string) (*Loader, error) {
	if len(zones) == 0 {
		zones = []string{"."}
	}
	block := fmt.Sprintf("ipsecoe %s {\n keys %q\n}", strings.Join(zones, " "), dir)
	d := caddyfile.NewDispenser("ipsecoe", strings.NewReader(block))
	p, err := parseCorefile(&d, nil, "")
	if err != nil {
		return nil, err
	}
	return &Loader{p: p}, nil
}

// LoaderFromCorefile returns a Loader for the ipsecoe block of the server block in the
// Corefile at path that serves zone, or the only such block when zone is empty. A non-empty
// dir replaces the block's keys.
func LoaderFromCorefile(path, zone, dir string) (*Loader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	blocks, err := caddyfile.Parse(path, f, nil)
	if err != nil {
		return nil, err
	}
	want := normalizeZone(zone)
	var found []*IPSecOE
	for _, b := range blocks {
		tokens, ok := b.Tokens[name]
		if !ok {
			continue
		}
		d := caddyfile.NewDispenserTokens(path, tokens)
		p, err := parseCorefile(&d, b.Keys, "")
		if err != nil {
			return nil, err
		}
		if len(want) == 0 || plugin.Zones(p.Zones).Matches(want[0]) != "" {
			found = append(found, p)
		}
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("%s: no ipsecoe block serves %s", path, strings.Join(want, " "))
	case len(found) > 1 && len(want) == 0:
		return nil, fmt.Errorf("%s: %d ipsecoe blocks; name one with a zone", path, len(found))
	}
	p := found[len(found)-1]
	if dir != "" {
		p.dir = dir
	}
	return &Loader{p: p}, nil
}

// Zones returns the zones of the block.
func (l *Loader) Zones() []string { return slices.Clone(l.p.Zones) }

// Dir returns the key directory.
func (l *Loader) Dir() string { return l.p.dir }

// FileReport is what one file of the key directory gave.
type FileReport struct {
	Path     string   `json:"path"`
	Owners   []string `json:"owners,omitempty"`
	Keys     []string `json:"keys,omitempty"`
	Reason   string   `json:"refused,omitempty"`
	Error    string   `json:"error,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Omitted  []string `json:"omitted,omitempty"` // records left out for their size
}

// Check reads the key directory and reports every file, and every gateway line whose
// target has no key.
func (l *Loader) Check() ([]FileReport, []string, error) {
	files, _, err := index.ReadDir(l.p.dir, nil, &l.p.opts, nil)
	if err != nil {
		return nil, nil, err
	}
	ix := index.Build(files, &l.p.opts, nil)
	var out []FileReport
	for fid, f := range files {
		r := FileReport{Path: f.Path}
		for _, w := range f.Warnings {
			if keyfile.Reason(w) == keyfile.ReasonSize {
				r.Omitted = append(r.Omitted, printable(w))
			} else {
				r.Warnings = append(r.Warnings, printable(w))
			}
		}
		if f.Err != nil {
			r.Reason, r.Error = keyfile.Reason(f.Err), printable(f.Err)
		}
		r.Keys, r.Owners = ix.FileKeys(fid)
		out = append(out, r)
	}
	var gw []string
	for _, e := range ix.Errors() {
		gw = append(gw, printable(e))
	}
	return out, gw, nil
}

// Records returns every record the block serves at explicit owners inside zone (inside any
// of its zones when zone is empty), ordered by name, and one comment per gateway prefix,
// whose addresses cannot be listed.
func (l *Loader) Records(zone string) ([]dns.RR, []string, error) {
	files, _, err := index.ReadDir(l.p.dir, nil, &l.p.opts, nil)
	if err != nil {
		return nil, nil, err
	}
	ix := index.Build(files, &l.p.opts, nil)
	zones := plugin.Zones(l.p.Zones)
	if zone != "" {
		zones = normalizeZone(zone)
	}
	names := zoneNames(ix, func(name string) bool { return zones.Matches(name) != "" })
	var rrs []dns.RR
	for _, n := range names {
		nd, _ := ix.Lookup(n)
		rrs = appendIPSECKEY(rrs, nd, n, l.p.ttl)
		rrs = appendIPSECA(rrs, nd, n, l.p.ttl)
	}
	var comments []string
	ix.Gateways(func(prefix netip.Prefix, recs []*index.Record) {
		if zones.Matches(keyfile.AddrOwner(prefix.Addr()).Name) == "" {
			return
		}
		for _, d := range recs {
			text := (&ipseckeyRdata{Record: *d}).String()
			comments = append(comments, fmt.Sprintf("every address in %s: IPSECKEY %s", prefix, text))
		}
	})
	return rrs, comments, nil
}

// normalizeZone reads a zone as CoreDNS does: a name, or a CIDR for its reverse zones.
func normalizeZone(zone string) plugin.Zones {
	if zone == "" {
		return nil
	}
	return plugin.Zones(plugin.Host(zone).NormalizeExact())
}
