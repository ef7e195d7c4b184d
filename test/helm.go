package test

import (
	"fmt"
	"strings"
)

// HelmServer is one entry of servers in the values of CoreDNS's Helm chart, of which the
// chart's ConfigMap template makes a server block.
type HelmServer struct {
	Zones []struct {
		Zone   string `json:"zone"`
		Scheme string `json:"scheme"`
		UseTCP bool   `json:"use_tcp"`
	} `json:"zones"`
	Port    int `json:"port"`
	Plugins []struct {
		Name        string `json:"name"`
		Parameters  any    `json:"parameters"`
		ConfigBlock string `json:"configBlock"`
	} `json:"plugins"`
}

// Corefile renders the server block as the chart's template does: the zones joined by
// spaces ("." without zones), ":port" after them, then "name parameters { configBlock }"
// per plugin.
func (s HelmServer) Corefile() string {
	var b strings.Builder
	var zones []string
	for _, z := range s.Zones {
		zone := z.Zone
		if zone == "" {
			zone = "."
		}
		zones = append(zones, z.Scheme+zone)
	}
	if len(zones) == 0 {
		zones = []string{"."}
	}
	b.WriteString(strings.Join(zones, " "))
	if s.Port != 0 {
		fmt.Fprintf(&b, ":%d", s.Port)
	}
	b.WriteString(" {\n")
	for _, p := range s.Plugins {
		b.WriteString(p.Name)
		if p.Parameters != nil && fmt.Sprint(p.Parameters) != "" {
			fmt.Fprintf(&b, " %v", p.Parameters)
		}
		if p.ConfigBlock != "" {
			b.WriteString(" {\n" + p.ConfigBlock + "\n}")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.String()
}
