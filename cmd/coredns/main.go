// Command coredns is CoreDNS with the ipsecoe plugin built in, placed right after minimal.
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

// directives returns a new list with ipsecoe right after minimal: after acl, cache and
// dnssec (which signs its answers), before template, hosts, kubernetes, file and forward.
func directives(list []string) []string {
	i := slices.Index(list, "minimal")
	if i < 0 {
		panic("ipsecoe: CoreDNS has no \"minimal\" directive to place ipsecoe after")
	}
	out := make([]string, 0, len(list)+1)
	out = append(out, list[:i+1]...)
	out = append(out, "ipsecoe")
	return append(out, list[i+1:]...)
}

func main() { coremain.Run() }
