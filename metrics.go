package ipsecoe

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/ipsecoe/ipsecoe/internal/index"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/miekg/dns"
)

// The load metrics carry the server, the block's zones and its view, as cache's do, so that
// several ipsecoe blocks, on one listener or on several, are told apart; the query metrics
// carry the server.
var (
	recordsGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "records",
		Help: "Records published at explicit owners, by type.",
	}, []string{"server", "zones", "view", "type"})
	keysGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "keys",
		Help: "Distinct public keys loaded, by algorithm.",
	}, []string{"server", "zones", "view", "algorithm"})
	reloadCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "reloads_total",
		Help: "Key directory loads that changed the key set or failed, by result.",
	}, []string{"server", "zones", "view", "result"})
	loadErrorCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "load_errors_total",
		Help: "Key files, records and gateway lines refused or left out, counted once per change, by reason.",
	}, []string{"server", "zones", "view", "reason"})
	lastReload = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "last_reload_timestamp_seconds",
		Help: "When the key set was last swapped in, in seconds since the epoch.",
	}, []string{"server", "zones", "view"})
	responseCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "responses_total",
		Help: "Responses written, by server, query type and rcode.",
	}, []string{"server", "type", "rcode"})
	deniedCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "denied_total",
		Help: "Queries about IPSECA from clients outside allow, refused.",
	}, []string{"server"})
	signCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "signatures_total",
		Help: "RRsets signed with the dnssec plugin's keys, by server (empty for the background renewal) and why: first (for this rdata), due, renewed.",
	}, []string{"server", "reason"})
)

// responseKey is what a response is counted under in responseCount.
type responseKey struct {
	server, qtype string
	rcode         int
}

// responseCounters are the counters of responseCount looked up so far, in a map that is
// replaced, never written: a query reads it without a lock, where the vector's own lookup
// hashes the label values and takes a lock on every call.
var responseCounters = struct {
	mu sync.Mutex
	m  atomic.Pointer[map[responseKey]prometheus.Counter]
}{}

// countResponse counts a response with rcode to a query of qtype at server.
func countResponse(server string, qtype uint16, rcode int) {
	k := responseKey{server, typeLabel(qtype), rcode}
	if m := responseCounters.m.Load(); m != nil {
		if c, ok := (*m)[k]; ok {
			c.Inc()
			return
		}
	}
	c := responseCount.WithLabelValues(server, k.qtype, dns.RcodeToString[rcode])
	c.Inc()
	responseCounters.mu.Lock()
	defer responseCounters.mu.Unlock()
	next := map[responseKey]prometheus.Counter{k: c}
	if m := responseCounters.m.Load(); m != nil {
		for k, c := range *m {
			next[k] = c
		}
	}
	responseCounters.m.Store(&next)
}

// typeLabel keeps the type label of the responses metric to a handful of values.
func typeLabel(qtype uint16) string {
	switch qtype {
	case dns.TypeIPSECKEY, TypeIPSECA, dns.TypeSOA, dns.TypeNS, dns.TypeANY:
		return dns.TypeToString[qtype]
	}
	return "other"
}

// serverLabels are the server labels of the block's listeners, as metrics.WithServer gives
// them for its queries: dns://127.0.0.1:53, one per bound address.
func serverLabels(cfg *dnsserver.Config) []string {
	var out []string
	for _, h := range cfg.ListenHosts {
		if addr, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(h, cfg.Port)); err == nil {
			out = append(out, cfg.Transport+"://"+addr.String())
		}
	}
	return out
}

// labels returns the labels of the block's load metrics on each of its servers.
func (p *IPSecOE) labels() []prometheus.Labels {
	servers := p.servers
	if len(servers) == 0 {
		servers = []string{""} // not started by a server: tests and the ipsecoe command
	}
	zones := strings.Join(p.Zones, ",")
	out := make([]prometheus.Labels, len(servers))
	for i, s := range servers {
		out[i] = prometheus.Labels{"server": s, "zones": zones, "view": p.view}
	}
	return out
}

// count adds one to a load counter of the block, with its last label.
func (p *IPSecOE) count(c *prometheus.CounterVec, label, value string) {
	for _, l := range p.labels() {
		c.With(with(l, label, value)).Inc()
	}
}

// publish sets the block's gauges from ix, leaving other blocks' alone.
func (p *IPSecOE) publish(ix *index.Index) {
	now := float64(time.Now().UnixNano()) / 1e9
	for _, l := range p.labels() {
		recordsGauge.DeletePartialMatch(l)
		for t, n := range ix.Records() {
			recordsGauge.With(with(l, "type", t)).Set(float64(n))
		}
		keysGauge.DeletePartialMatch(l)
		for a, n := range ix.Keys() {
			keysGauge.With(with(l, "algorithm", a)).Set(float64(n))
		}
		lastReload.With(l).Set(now)
	}
}

// with is l and one more label.
func with(l prometheus.Labels, k, v string) prometheus.Labels {
	out := prometheus.Labels{k: v}
	for lk, lv := range l {
		out[lk] = lv
	}
	return out
}
