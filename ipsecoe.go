// Package ipsecoe is a CoreDNS plugin that publishes IPsec keying material for
// opportunistic encryption. From a directory of public keys and X.509 certificates it
// synthesizes IPSECKEY records (RFC 4025) at reverse names, at host names and at every
// address of a gateway prefix, and IPSECA records (draft-osterweil-dane-ipsec, TYPE65347)
// at _PORT. names. It is authoritative for its zones; signing is left to the dnssec plugin.
package ipsecoe

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/fall"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/ipsecoe/ipsecoe/internal/index"
)

const name = "ipsecoe"

// Defaults of the Corefile options.
const (
	defaultTTL        = 3600
	defaultPrecedence = 10
	defaultGatewayPre = 20
	defaultReload     = 5 * time.Second
	maxNegativeTTL    = 60 // SOA TTL and MINIMUM: how long a denial may be cached
)

// IPSecOE is the ipsecoe plugin.
type IPSecOE struct {
	Next  plugin.Handler
	Zones []string
	Fall  fall.F

	dir     string
	reload  time.Duration
	ttl     uint32
	opts    index.Options
	allow   []netip.Prefix   // clients that get IPSECA answers; empty means all
	allowAt string           // the Corefile file and line of allow, for errors
	apexes  map[string]*apex // SOA and NS names of each zone
	nsName  string           // the name server of the SOA and NS records; "" for ns1.ZONE

	servers []string // the server labels of the block's listeners, for the load metrics
	view    string   // and the block's view

	idx    atomic.Pointer[index.Index]
	signer atomic.Pointer[signer] // signs with the server block's dnssec plugin, if any
	xfer   *transfer.Transfer     // and its transfer plugin: zone transfers and NOTIFY
	stop   chan struct{}
	done   chan struct{}

	// Poller state, touched by load alone.
	dirs     *index.DirState // its directories then
	polls    int             // since the last read of every file
	scanTook time.Duration   // how long that read took, paced (see pacedTook)
	lastErr  string          // the last whole-directory load error, so it is logged once
}

// Name implements the plugin.Handler interface.
func (p *IPSecOE) Name() string { return name }

// Ready implements the ready.Readiness interface: true once the key directory has loaded.
func (p *IPSecOE) Ready() bool { return p.idx.Load() != nil }

// negTTL is the TTL of the SOA in denials, and so of dnssec's NSEC.
func (p *IPSecOE) negTTL() uint32 { return min(p.ttl, maxNegativeTTL) }
