package ipsecoe

// The end-to-end tests still in this package (deploy_test.go, libreswan_test.go and
// tooling_test.go) use the harness of the test package through the names below, until they
// move there. Nothing here starts, waits for or parses anything itself.

import (
	"os/exec"
	"strconv"
	"testing"
	"time"

	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/miekg/dns"
)

// TestMain removes the programs the end-to-end tests built once they are over.
func TestMain(m *testing.M) { e2e.Main(m) }

func needTool(t testing.TB, tool, pkg string) string {
	t.Helper()
	return e2e.NeedTool(t, tool, pkg)
}

func integCoreDNS(t *testing.T) string {
	t.Helper()
	return e2e.CoreDNS(t)
}

func integFreePort(t *testing.T) string {
	t.Helper()
	return e2e.FreePort(t)
}

type integSyncBuffer = e2e.Log

type integRR struct {
	name  string
	ttl   uint32
	class string
	typ   uint16
	hex   string
}

func integRRs(rrs []e2e.RR) []integRR {
	out := make([]integRR, 0, len(rrs))
	for _, r := range rrs {
		out = append(out, integRR{name: r.Name, ttl: r.TTL, class: r.Class, typ: r.Type, hex: r.Hex})
	}
	return out
}

func integParseRR(line string) (integRR, error) {
	rr, err := e2e.ParseRR(line)
	return integRRs([]e2e.RR{rr})[0], err
}

func integHexes(rrs []integRR, typ uint16) []string {
	back := make([]e2e.RR, 0, len(rrs))
	for _, r := range rrs {
		back = append(back, e2e.RR{Name: r.name, TTL: r.ttl, Class: r.class, Type: r.typ, Hex: r.hex})
	}
	return e2e.Hexes(back, typ)
}

type integAnswer struct {
	raw, status string
	flags       []string
	sections    map[string][]integRR
	parsed      *e2e.Answer
}

func (a *integAnswer) flag(f string) bool { return a.parsed.Flag(f) }

func integFrom(a *e2e.Answer) *integAnswer {
	out := &integAnswer{raw: a.Raw, status: a.Status, flags: a.Flags, sections: map[string][]integRR{}, parsed: a}
	for name, rrs := range a.Sections {
		out.sections[name] = integRRs(rrs)
	}
	return out
}

type integServer struct {
	dig, port string
	log       *integSyncBuffer
}

func (s *integServer) run(timeout time.Duration, args ...string) (string, error) {
	return e2e.NewDig(s.dig, s.port).Run(timeout, args...)
}

func (s *integServer) query(t *testing.T, proto, name, qtype string, extra ...string) *integAnswer {
	t.Helper()
	return integFrom(e2e.NewDig(s.dig, s.port).Query(t, proto, name, qtype, extra...))
}

func integStart(t *testing.T, _, dig, dir string, corefile func(port string) string) *integServer {
	t.Helper()
	s := e2e.StartCoreDNS(t, dir, corefile)
	return &integServer{dig: dig, port: s.Port, log: s.Log}
}

const valFwd = "example.com."

type valTools struct {
	dig, delv, keygen, unbound string
}

func valNeedTools(t *testing.T) valTools {
	t.Helper()
	v := e2e.NeedValidators(t)
	return valTools{dig: v.Dig, delv: v.Delv, keygen: v.Keygen, unbound: v.Unbound}
}

type valCase struct {
	zone, name, qtype string
	rdata             []string
}

func (c valCase) e2e() e2e.Case {
	return e2e.Case{Zone: c.zone, Name: c.name, Qtype: c.qtype, RData: c.rdata}
}

func (c valCase) String() string { return c.e2e().String() }

func valCheckDelv(t *testing.T, c valCase, out string) error {
	t.Helper()
	return e2e.CheckDelv(t, c.e2e(), out)
}

func valCheckUnbound(t *testing.T, c valCase, a *integAnswer) error {
	t.Helper()
	return e2e.CheckUnbound(t, c.e2e(), a.parsed)
}

func valKeygen(t *testing.T, keygen, dir, zone string, ksk bool) (string, *dns.DNSKEY) {
	t.Helper()
	return e2e.Keygen(t, keygen, dir, zone, ksk)
}

func valB64Hex(t *testing.T, header, b64 string) string {
	t.Helper()
	return e2e.KeyHex(t, header, b64)
}

func valDelv(t *testing.T, delv, port, anchorFile, zone, name, qtype string) string {
	t.Helper()
	return e2e.Delv(t, delv, port, anchorFile, zone, name, qtype)
}

func valResolve(t *testing.T, dig, port, name, qtype string) *integAnswer {
	t.Helper()
	return integFrom(e2e.NewDig(dig, port).Resolve(t, name, qtype))
}

func valProbe(_, port, name, qtype, status string) bool {
	return e2e.Answers(port, name, dns.StringToType[qtype], dns.StringToRcode[status])
}

func valStart(t *testing.T, _ string, cmd func(port string) *exec.Cmd, ready func(port string) bool) (string, *integSyncBuffer) {
	t.Helper()
	s := e2e.Start(t, 10*time.Second, cmd, ready)
	return s.Port, s.Log
}

func valUnbound(t *testing.T, tools valTools, corePort, anchorFile string, zones []string) (string, *integSyncBuffer) {
	t.Helper()
	s := e2e.StartUnbound(t, tools.unbound, corePort, "trust-anchor-file: "+strconv.Quote(anchorFile), zones)
	return s.Port, s.Log
}

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	return e2e.Vector(t, name)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	return e2e.Testdata(t, name)
}
