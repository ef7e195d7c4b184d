// Command coredns is CoreDNS with the ipsecoe plugin built in, placed right before dnssec.
package main

import (
	"slices"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/core/plugin" // the in-tree plugins
	"github.com/coredns/coredns/coremain"

	_ "github.com/ipsecoe/ipsecoe"
)

// version is the ipsecoe version, set with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	if err := dnsserver.SetDirectives(directives(dnsserver.Directives)); err != nil {
		panic("ipsecoe: " + err.Error())
	}
	caddy.AppVersion = coremain.CoreVersion + "+ipsecoe-" + version
}

// directives returns a new list with ipsecoe right before dnssec: after acl and cache
// (which keeps its answers), before dnssec, template, hosts, kubernetes, file and forward
// (which get what it passes on). Before dnssec, it answers with signatures it made with
// dnssec's keys once and kept, rather than having dnssec hash and look up every RRset of
// every answer; DNSKEY, and every question it passes on, dnssec still answers or signs.
func directives(list []string) []string {
	i := slices.Index(list, "dnssec")
	if i < 0 {
		panic("ipsecoe: CoreDNS has no \"dnssec\" directive to place ipsecoe before")
	}
	out := make([]string, 0, len(list)+1)
	out = append(out, list[:i]...)
	out = append(out, "ipsecoe")
	return append(out, list[i:]...)
}

func main() { coremain.Run() }
