package ipsecoe

import (
	"github.com/coredns/coredns/plugin"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	recordsGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "records",
		Help: "Records published at explicit owners, by type.",
	}, []string{"type"})
	keysGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "keys",
		Help: "Distinct public keys loaded, by algorithm.",
	}, []string{"algorithm"})
	reloadCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "reloads_total",
		Help: "Key directory loads that changed the key set or failed, by result.",
	}, []string{"result"})
	loadErrorCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "load_errors_total",
		Help: "Key files and gateway lines refused, counted once per change, by reason.",
	}, []string{"reason"})
	lastReload = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "last_reload_timestamp_seconds",
		Help: "When the key set was last swapped in, in seconds since the epoch.",
	})
	responseCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "responses_total",
		Help: "Responses written, by server, query type and rcode.",
	}, []string{"server", "type", "rcode"})
	deniedCount = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: name, Name: "denied_total",
		Help: "IPSECA queries from clients outside allow, refused.",
	}, []string{"server"})
)
