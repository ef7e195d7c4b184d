package test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDeployCorefileRuns runs the shipped Corefile in the binary, changed only to listen
// on 127.0.0.1, with the zone keys and the key directory laid out as the kubelet mounts
// the Deployment's volumes, and a stand-in API server for its kubernetes plugins. Every
// key of the shipped Secret and the Certificate's key are served where they belong, next
// to kubernetes' PTR records, signed, and validated by delv.
func TestDeployCorefileRuns(t *testing.T) {
	dig := NeedTool(t, "dig", "bind9-dnsutils")
	keygen := NeedTool(t, "dnssec-keygen", "bind9-utils")
	m := deployLoad(t)
	blocks := deployParseCorefile(t, m.corefileText(t))
	_, pod, c := m.deployPod(t)
	tmp := t.TempDir()

	// The zone keys, made for each signed zone under the names the Corefile gives them, laid
	// out as the kubelet mounts the dnssec Secret.
	zoneFiles, anchors := deployZoneKeys(t, keygen, blocks)
	dnssecDir := NewKeyDir(t, filepath.Join(tmp, "dnssec"), zoneFiles).Path

	// The key directory, as the Deployment's projected volume lays it out: the entries of the
	// ipsec-keys Secret and the Certificate's tls.crt, for which a certificate with the
	// Certificate's SANs stands in.
	cert := deployOne(t, "Certificate", m.certificates)
	gwKey, certFiles := deployGatewayCert(t, cert)
	keyFiles, secretKeys := deployKeyFiles(t, m, deployVolume(t, pod, deployMountOf(t, c, "/etc/ipsecoe/keys").Name), cert, certFiles)
	keysDir := NewKeyDir(t, filepath.Join(tmp, "keys"), keyFiles).Path

	// What each entry of the Secret must publish: it holds a public key of the test vectors,
	// whose host record (precedence 10, no gateway) vectors.json gives byte for byte.
	vf := LoadVectors(t)
	type want struct{ owner, qtype, rdata string }
	var wants []want
	for k, data := range secretKeys {
		i := slices.IndexFunc(vf.Cases, func(c VectorCase) bool {
			return c.GatewayType == 0 && c.Precedence == 10 && c.KeyFile != "" &&
				bytes.Equal(bytes.TrimSpace(Vector(t, c.KeyFile)), bytes.TrimSpace(data))
		})
		if i < 0 {
			t.Fatalf("Secret entry %s is not a key of the test vectors", k)
		}
		wants = append(wants, want{deployOwner(t, k), "IPSECKEY", strings.ToLower(vf.Cases[i].WireHex)})
	}
	// The certificate: its key at each SAN, IPSECA at _500 of its name, and the key again in
	// the gateway record of every address of the Corefile's gateway prefix.
	point, err := gwKey.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	gwB64 := base64.StdEncoding.EncodeToString(point.Bytes()[1:])
	spki, err := x509.MarshalPKIXPublicKey(&gwKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range cert.Spec.DNSNames {
		wants = append(wants,
			want{dns.Fqdn(n), "IPSECKEY", deployRdata(t, "IPSECKEY 10 0 3 . "+gwB64)},
			want{"_500." + dns.Fqdn(n), "TYPE65347", IPSECA311(spki)})
	}
	for _, a := range cert.Spec.IPAddresses {
		wants = append(wants, want{Reverse(t, a), "IPSECKEY", deployRdata(t, "IPSECKEY 10 0 3 . "+gwB64)})
	}
	var gwLine []string
	for _, b := range blocks {
		if d := b.directive("ipsecoe"); d != nil && d.line("gateway") != nil {
			gwLine = d.line("gateway")
		}
	}
	if len(gwLine) == 4 {
		pfx := netip.MustParsePrefix(gwLine[1])
		inside := pfx.Addr()
		for range 263 { // 10.244.1.7 in 10.244.0.0/16
			inside = inside.Next()
		}
		if !pfx.Contains(inside) {
			t.Fatalf("%s is outside the gateway prefix %s", inside, pfx)
		}
		wants = append(wants, want{Reverse(t, inside.String()), "IPSECKEY",
			deployRdata(t, fmt.Sprintf("IPSECKEY %s 3 3 %s %s", gwLine[3], dns.Fqdn(gwLine[2]), gwB64))})
	} else {
		t.Errorf("want one gateway line with a precedence in the Corefile, have %v", gwLine)
	}

	// The kubernetes plugins see one Service, kube-dns, dual-stack.
	svc := m.services["kube-dns"]
	if svc == nil {
		t.Fatal("no Service kube-dns")
	}
	const svcV6 = "2001:db8:96::a"
	api := APIServer(t, map[string][]string{
		"/api/v1/services": {fmt.Sprintf(`{"kind":"Service","apiVersion":"v1","metadata":{"name":"kube-dns","namespace":"kube-system","uid":"1","resourceVersion":"1"},`+
			`"spec":{"type":"ClusterIP","clusterIP":%q,"clusterIPs":[%q,%q],"ipFamilies":["IPv4","IPv6"],`+
			`"ports":[{"name":"dns","protocol":"UDP","port":53,"targetPort":53}]}}`, svc.Spec.ClusterIP, svc.Spec.ClusterIP, svcV6)},
		"/api/v1/namespaces": {`{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"kube-system","uid":"2","resourceVersion":"1"}}`},
	})

	// Ready once /ready says 200 (kubernetes has synced, ipsecoe has loaded) and the
	// certificate's name answers.
	bin := CoreDNS(t)
	var local deployLocal
	name := dns.Fqdn(cert.Spec.DNSNames[0])
	srv := Start(t, 30*time.Second, func(port string) *exec.Cmd {
		local = deployLocal{
			dns: port, health: FreePort(t), ready: FreePort(t), metrics: FreePort(t), closed: FreePort(t),
			api: api, dnssecDir: dnssecDir, keysDir: keysDir,
		}
		conf := filepath.Join(tmp, "Corefile."+port)
		WriteFile(t, conf, []byte(deployLocalCorefile(t, blocks, local)))
		cmd := exec.Command(bin, "-conf", conf)
		cmd.Dir = tmp
		return cmd
	}, func(port string) bool {
		code, _, err := Get("http://127.0.0.1:" + local.ready + "/ready")
		return err == nil && code == http.StatusOK && Answers(port, name, dns.TypeIPSECKEY, dns.RcodeSuccess)
	})
	d := NewDig(dig, srv.Port)

	t.Run("records", func(t *testing.T) {
		if len(wants) < 6 {
			t.Fatalf("only %d records to check", len(wants))
		}
		for _, w := range wants {
			a := d.Query(t, "udp", w.owner, w.qtype)
			got := Hexes(a.Sections["ANSWER"], Type(t, w.qtype))
			if a.Status != "NOERROR" || !a.Flag("aa") || !slices.Equal(got, []string{w.rdata}) {
				t.Errorf("%s %s: status %s, flags %v, answer %v; want NOERROR, aa and %s\n%s",
					w.owner, w.qtype, a.Status, a.Flags, got, w.rdata, a.Raw)
			}
		}
	})

	// Both plugins answer in the reverse zones: ipsecoe the keys, kubernetes the PTR records.
	ptrV4, ptrV6 := Reverse(t, svc.Spec.ClusterIP), Reverse(t, svcV6)
	t.Run("kubernetes PTR", func(t *testing.T) {
		want := deployRdata(t, "PTR kube-dns.kube-system.svc.cluster.local.")
		for _, name := range []string{ptrV4, ptrV6} {
			a := d.Query(t, "udp", name, "PTR")
			if got := Hexes(a.Sections["ANSWER"], dns.TypePTR); a.Status != "NOERROR" || !a.Flag("aa") || !slices.Equal(got, []string{want}) {
				t.Errorf("%s PTR: status %s, flags %v, answer %v\n%s", name, a.Status, a.Flags, got, a.Raw)
			}
		}
		// A name kubernetes does not know: its denial carries the SOA of the signed zone,
		// signed by it.
		a := d.Query(t, "udp", "99.99.99.10.in-addr.arpa.", "PTR", "+dnssec")
		var soa, sigs []string
		for _, rr := range a.Sections["AUTHORITY"] {
			switch rr.Type {
			case dns.TypeSOA:
				soa = append(soa, rr.Name)
			case dns.TypeRRSIG:
				sigs = append(sigs, rr.Name)
			}
		}
		if !slices.Equal(soa, []string{"10.in-addr.arpa."}) || len(sigs) != 2 {
			t.Errorf("PTR denial: SOA at %v, RRSIGs at %v; want the SOA of 10.in-addr.arpa. and two RRSIGs\n%s", soa, sigs, a.Raw)
		}
	})

	t.Run("signed", func(t *testing.T) {
		for _, w := range wants {
			a := d.Query(t, "udp", w.owner, w.qtype, "+dnssec")
			if len(Hexes(a.Sections["ANSWER"], dns.TypeRRSIG)) != 1 {
				t.Errorf("%s %s with DO: no RRSIG\n%s", w.owner, w.qtype, a.Raw)
			}
		}
	})

	t.Run("validated", func(t *testing.T) {
		delv := NeedTool(t, "delv", "bind9-dnsutils")
		var keys []*dns.DNSKEY
		for _, zone := range slices.Sorted(maps.Keys(anchors)) {
			keys = append(keys, anchors[zone])
		}
		anchorFile, _ := WriteAnchors(t, t.TempDir(), "deploy", keys)
		zoneOf := func(name string) string {
			best := ""
			for zone := range anchors {
				if dns.IsSubDomain(zone, name) && len(zone) > len(best) {
					best = zone
				}
			}
			return best
		}
		cases := []struct{ name, qtype, want string }{
			{wants[0].owner, wants[0].qtype, "; fully validated"},
			{ptrV4, "PTR", "; fully validated"},
			{ptrV6, "PTR", "; fully validated"},
			// kubernetes' denials, signed under the zone it was given.
			{"99.99.99.10.in-addr.arpa.", "PTR", "; negative response, fully validated"},
			{ptrV4, "IPSECKEY", "; negative response, fully validated"},
		}
		for _, w := range wants {
			cases = append(cases, struct{ name, qtype, want string }{w.owner, w.qtype, "; fully validated"})
		}
		for _, tc := range cases {
			zone := zoneOf(tc.name)
			if zone == "" {
				t.Errorf("%s is in no signed zone", tc.name)
				continue
			}
			if out := Delv(t, delv, srv.Port, anchorFile, zone, tc.name, tc.qtype); !strings.Contains(out, tc.want) {
				t.Errorf("delv %s %s (anchor %s): want %q\n%s", tc.name, tc.qtype, zone, tc.want, out)
			}
		}
	})

	t.Run("ready and metrics", func(t *testing.T) {
		base := "http://127.0.0.1:"
		for _, p := range []string{local.ready + "/ready", local.health + "/health"} {
			if code, body, err := Get(base + p); err != nil || code != http.StatusOK {
				t.Errorf("%s: %d %q %v", p, code, body, err)
			}
		}
		body := Fetch(t, base+local.metrics+"/metrics")
		for _, metric := range []string{"coredns_ipsecoe_keys{", "coredns_ipsecoe_records{", "coredns_ipsecoe_responses_total{", "coredns_dnssec_cache_"} {
			if !strings.Contains(body, metric) {
				t.Errorf("/metrics has no %s", metric)
			}
		}
	})
}
