package test

import (
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// deployBlock is one server block of a Corefile.
type deployBlock struct {
	keys       []string
	directives []deployDirective
}

// deployDirective is one plugin line, with the lines of its block.
type deployDirective struct {
	name  string
	args  []string
	block [][]string
}

func (b *deployBlock) zone() string {
	z, _, _ := strings.Cut(b.keys[0], ":")
	return z
}

func (b *deployBlock) directive(name string) *deployDirective {
	for i := range b.directives {
		if b.directives[i].name == name {
			return &b.directives[i]
		}
	}
	return nil
}

// line returns the block line starting with word, or nil.
func (d *deployDirective) line(word string) []string {
	for _, l := range d.block {
		if l[0] == word {
			return l
		}
	}
	return nil
}

// keyFiles returns the key files of a dnssec directive.
func (d *deployDirective) keyFiles() []string {
	if l := d.line("key"); len(l) > 2 && l[1] == "file" {
		return l[2:]
	}
	return nil
}

func (d *deployDirective) String() string {
	s := strings.Join(append([]string{d.name}, d.args...), " ")
	for _, l := range d.block {
		s += "; " + strings.Join(l, " ")
	}
	return s
}

// deployParseCorefile reads the simple Corefiles the deployment ships: server blocks of
// one-line directives, each with at most one level of block.
func deployParseCorefile(t *testing.T, text string) []deployBlock {
	t.Helper()
	var blocks []deployBlock
	var cur *deployBlock
	var dir *deployDirective
	for i, raw := range strings.Split(text, "\n") {
		line, _, _ := strings.Cut(raw, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		open := f[len(f)-1] == "{"
		if open {
			f = f[:len(f)-1]
		}
		switch {
		case cur == nil && open && len(f) > 0:
			blocks = append(blocks, deployBlock{keys: f})
			cur = &blocks[len(blocks)-1]
		case cur != nil && dir == nil && len(f) == 1 && f[0] == "}":
			cur = nil
		case cur != nil && dir == nil && len(f) > 0 && !slices.Contains(f, "{") && !slices.Contains(f, "}"):
			cur.directives = append(cur.directives, deployDirective{name: f[0], args: f[1:]})
			if open {
				dir = &cur.directives[len(cur.directives)-1]
			}
		case dir != nil && len(f) == 1 && f[0] == "}":
			dir = nil
		case dir != nil && !open && !slices.Contains(f, "{") && !slices.Contains(f, "}"):
			dir.block = append(dir.block, f)
		default:
			t.Fatalf("Corefile line %d: cannot read %q", i+1, raw)
		}
	}
	if cur != nil {
		t.Fatal("Corefile: unterminated server block")
	}
	return blocks
}

// deployRender writes blocks as a Corefile.
func deployRender(blocks []deployBlock) string {
	var b strings.Builder
	for _, blk := range blocks {
		b.WriteString(strings.Join(blk.keys, " ") + " {\n")
		for _, d := range blk.directives {
			b.WriteString("    " + strings.Join(append([]string{d.name}, d.args...), " "))
			if len(d.block) > 0 {
				b.WriteString(" {\n")
				for _, l := range d.block {
					b.WriteString("        " + strings.Join(l, " ") + "\n")
				}
				b.WriteString("    }")
			}
			b.WriteString("\n")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// deployStock is the cluster block of kubeadm and the CoreDNS deployment repository, by
// plugin: its arguments and the options of its block, in any order. The order of the
// plugins is the binary's, whatever the Corefile says.
var deployStock = map[string]struct {
	args    []string
	options []string
}{
	"errors":      {},
	"health":      {options: []string{"lameduck 5s"}},
	"ready":       {},
	"kubernetes":  {args: []string{"cluster.local", "in-addr.arpa", "ip6.arpa"}, options: []string{"fallthrough in-addr.arpa ip6.arpa", "pods insecure", "ttl 30"}},
	"prometheus":  {args: []string{":9153"}},
	"forward":     {args: []string{".", "/etc/resolv.conf"}},
	"cache":       {args: []string{"30"}},
	"loop":        {},
	"reload":      {},
	"loadbalance": {},
}

func TestDeployCorefile(t *testing.T) {
	m := deployLoad(t)
	blocks := deployParseCorefile(t, m.corefileText(t))
	if len(blocks) < 3 {
		t.Fatalf("want the cluster block and at least a forward and a reverse ipsecoe block, have %d blocks", len(blocks))
	}

	// The cluster block is the stock one, untouched: each stock plugin once, set up as
	// there, and no other.
	root := blocks[0]
	if !slices.Equal(root.keys, []string{".:53"}) {
		t.Errorf("first block %v, want .:53", root.keys)
	}
	seen := map[string]bool{}
	for _, d := range root.directives {
		want, stock := deployStock[d.name]
		switch {
		case !stock:
			t.Errorf("cluster block: %s is not a plugin of the stock block", d.name)
			continue
		case seen[d.name]:
			t.Errorf("cluster block: %s twice", d.name)
		}
		seen[d.name] = true
		var options []string
		for _, l := range d.block {
			options = append(options, strings.Join(l, " "))
		}
		slices.Sort(options)
		if !slices.Equal(d.args, want.args) || !slices.Equal(options, want.options) {
			t.Errorf("cluster block: %s with arguments %q and options %q, want %q and %q", d.name, d.args, options, want.args, want.options)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(deployStock)) {
		if !seen[name] {
			t.Errorf("cluster block: no %s", name)
		}
	}

	svc := m.services["kube-dns"]
	forward, reverse := 0, 0
	keyFiles := map[string]string{}
	for _, b := range blocks[1:] {
		if len(b.keys) != 1 || !strings.HasSuffix(b.keys[0], ":53") {
			t.Errorf("block %v: want one zone on port 53", b.keys)
			continue
		}
		zone := dns.Fqdn(b.zone())
		if _, ok := dns.IsDomainName(zone); !ok {
			t.Errorf("block %s: not a zone", zone)
		}
		for _, name := range []string{"errors", "ready", "prometheus", "cache"} {
			if b.directive(name) == nil {
				t.Errorf("block %s: no %s", zone, name)
			}
		}
		if d := b.directive("prometheus"); d != nil && !slices.Equal(d.args, []string{":9153"}) {
			t.Errorf("block %s: prometheus %v, want :9153", zone, d.args)
		}
		if b.directive("health") != nil {
			t.Errorf("block %s: health can be enabled in one block only", zone)
		}

		// dnssec signs exactly this zone, with a key of its own.
		ds := b.directive("dnssec")
		if ds == nil || len(ds.args) != 0 || len(ds.keyFiles()) != 1 {
			t.Errorf("block %s: want dnssec over the block's zone with one key file, have %v", zone, ds)
			continue
		}
		kf := ds.keyFiles()[0]
		if filepath.Base(kf) != "K"+strings.TrimSuffix(zone, ".") {
			t.Errorf("block %s: key file %s, want K%s", zone, kf, strings.TrimSuffix(zone, "."))
		}
		if other, dup := keyFiles[kf]; dup {
			t.Errorf("blocks %s and %s share the key %s", other, zone, kf)
		}
		keyFiles[kf] = zone

		ip := b.directive("ipsecoe")
		if ip == nil || len(ip.args) != 0 {
			t.Errorf("block %s: want ipsecoe over the block's zone, have %v", zone, ip)
			continue
		}
		if l := ip.line("keys"); !slices.Equal(l, []string{"keys", "/etc/ipsecoe/keys"}) {
			t.Errorf("block %s: ipsecoe keys %v", zone, l)
		}
		if ip.line("reload") == nil {
			t.Errorf("block %s: ipsecoe without reload", zone)
		}
		for _, l := range ip.block {
			if l[0] != "gateway" {
				continue
			}
			pfx, err := netip.ParsePrefix(l[1])
			if err != nil {
				t.Errorf("block %s: gateway %v", zone, l)
				continue
			}
			if r, _ := dns.ReverseAddr(pfx.Addr().String()); !dns.IsSubDomain(zone, r) {
				t.Errorf("block %s: gateway prefix %s is outside the zone", zone, pfx)
			}
		}

		k8s := b.directive("kubernetes")
		if deployIsReverse(zone) {
			reverse++
			// kubernetes writes the SOA of the zone it matched into its denials; dnssec
			// signs it under this zone: they must be the same zone.
			if k8s == nil {
				t.Errorf("block %s: no kubernetes plugin, so no PTR records in a reverse zone", zone)
				continue
			}
			var rev []string
			for _, a := range k8s.args {
				if deployIsReverse(dns.Fqdn(a)) {
					rev = append(rev, dns.Fqdn(a))
				}
			}
			if !slices.Equal(rev, []string{zone}) {
				t.Errorf("block %s: kubernetes serves the reverse zones %v, want exactly %s", zone, rev, zone)
			}
			if !slices.Contains(k8s.args, "cluster.local") {
				t.Errorf("block %s: kubernetes needs cluster.local for its PTR targets: %v", zone, k8s.args)
			}
			if l := ip.line("fallthrough"); l == nil || len(l) > 1 && !slices.ContainsFunc(l[1:], func(z string) bool { return dns.IsSubDomain(dns.Fqdn(z), zone) }) {
				t.Errorf("block %s: ipsecoe must fall through to kubernetes: %v", zone, l)
			}
		} else {
			forward++
			if k8s != nil || ip.line("fallthrough") != nil {
				t.Errorf("block %s: a forward ipsecoe zone is authoritative, without kubernetes or fallthrough", zone)
			}
		}
	}
	if forward == 0 || reverse == 0 {
		t.Errorf("want at least one forward and one reverse ipsecoe zone, have %d and %d", forward, reverse)
	}
	// The cluster DNS Service's own address is in a signed reverse zone.
	if svc != nil {
		r, _ := dns.ReverseAddr(svc.Spec.ClusterIP)
		in := false
		for _, zone := range keyFiles {
			in = in || dns.IsSubDomain(zone, r)
		}
		if !in {
			t.Errorf("the Service address %s is in none of the reverse zones", svc.Spec.ClusterIP)
		}
	}
}

// deployIsReverse reports whether zone is under in-addr.arpa or ip6.arpa.
func deployIsReverse(zone string) bool {
	return dns.IsSubDomain("in-addr.arpa.", zone) || dns.IsSubDomain("ip6.arpa.", zone)
}
