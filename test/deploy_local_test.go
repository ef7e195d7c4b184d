package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// deployLocal is what the test changes in the shipped Corefile to run it on 127.0.0.1.
type deployLocal struct {
	dns, health, ready, metrics, closed string // ports
	api                                 string // URL of the stand-in API server
	dnssecDir, keysDir                  string
}

// deployLocalCorefile changes only what a test must in the shipped Corefile's blocks: the
// listen port (plus bind 127.0.0.1), the health, ready and metrics addresses, the upstream
// (a closed port), the API endpoint of the kubernetes plugins, and the two mounted paths.
// It fails on any plugin set up otherwise than it can change, and on any path left under
// /etc.
func deployLocalCorefile(t *testing.T, blocks []deployBlock, l deployLocal) string {
	t.Helper()
	local := map[string]struct {
		from []string // the arguments of the shipped plugin
		to   []string
	}{
		"health":     {nil, []string{"127.0.0.1:" + l.health}},
		"ready":      {nil, []string{"127.0.0.1:" + l.ready}},
		"prometheus": {[]string{":9153"}, []string{"127.0.0.1:" + l.metrics}},
		"forward":    {[]string{".", "/etc/resolv.conf"}, []string{".", "127.0.0.1:" + l.closed}},
	}
	path := strings.NewReplacer("/etc/coredns/dnssec/", l.dnssecDir+"/", "/etc/ipsecoe/keys", l.keysDir)
	n := map[string]int{}
	k8s := 0
	var out []deployBlock
	for _, b := range blocks {
		lb := deployBlock{directives: []deployDirective{{name: "bind", args: []string{"127.0.0.1"}}}}
		for _, key := range b.keys {
			zone, ok := strings.CutSuffix(key, ":53")
			if !ok {
				t.Fatalf("Corefile: server block key %s is not on port 53", key)
			}
			lb.keys = append(lb.keys, zone+":"+l.dns)
		}
		n["block"]++
		for _, d := range b.directives {
			ld := deployDirective{name: d.name, args: slices.Clone(d.args)}
			for _, line := range d.block {
				ld.block = append(ld.block, slices.Clone(line))
			}
			if c, ok := local[d.name]; ok {
				if !slices.Equal(d.args, c.from) {
					t.Fatalf("Corefile: block %s: %s %q, want %q to run it locally", b.zone(), d.name, d.args, c.from)
				}
				ld.args = c.to
				n[d.name]++
			}
			if d.name == "kubernetes" {
				ld.block = append(ld.block, []string{"endpoint", l.api})
				k8s++
			}
			for i := range ld.args {
				ld.args[i] = path.Replace(ld.args[i])
			}
			for _, line := range ld.block {
				for i := range line {
					line[i] = path.Replace(line[i])
				}
			}
			lb.directives = append(lb.directives, ld)
		}
		out = append(out, lb)
	}
	want := map[string]int{"block": len(blocks), "health": 1, "ready": len(blocks),
		"prometheus": len(blocks), "forward": 1}
	if !maps.Equal(n, want) || k8s == 0 {
		t.Fatalf("Corefile rewrite: changed %v and %d kubernetes plugins, want %v and at least one", n, k8s, want)
	}
	conf := deployRender(out)
	if strings.Contains(conf, "/etc/") {
		t.Fatalf("Corefile rewrite left a path under /etc:\n%s", conf)
	}
	return conf
}

// deployZoneKeys makes a KSK with dnssec-keygen for every block with dnssec, and returns
// the files of the dnssec Secret (named as the Corefile names them, under its mount) and
// the keys by zone.
func deployZoneKeys(t *testing.T, keygen string, blocks []deployBlock) (map[string][]byte, map[string]*dns.DNSKEY) {
	t.Helper()
	gen := t.TempDir()
	files := map[string][]byte{}
	anchors := map[string]*dns.DNSKEY{}
	for _, b := range blocks {
		d := b.directive("dnssec")
		if d == nil {
			continue
		}
		zone := dns.Fqdn(b.zone())
		base, key := Keygen(t, keygen, gen, zone, true)
		rel := strings.TrimPrefix(d.keyFiles()[0], "/etc/coredns/dnssec/")
		for _, ext := range []string{".key", ".private"} {
			data, err := os.ReadFile(base + ext)
			if err != nil {
				t.Fatal(err)
			}
			files[rel+ext] = data
		}
		anchors[zone] = key
	}
	return files, anchors
}

// deployGatewayCert makes a self-signed ECDSA P-256 certificate with the SANs of the
// Certificate, standing in for the one cert-manager issues, and returns its key and the
// files cert-manager writes into the Certificate's Secret, private key included.
func deployGatewayCert(t *testing.T, cert *deployCertificate) (*ecdsa.PrivateKey, map[string][]byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cert.Spec.CommonName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     cert.Spec.DNSNames,
	}
	for _, a := range cert.Spec.IPAddresses {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(a))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, map[string][]byte{"tls.crt": certPEM, "ca.crt": certPEM,
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})}
}

// deployKeyFiles returns the files of the key directory as the projected volume kv lays
// them out, from the shipped Secrets and the Certificate's Secret (certFiles), and the
// entries of the shipped Secrets alone.
func deployKeyFiles(t *testing.T, m *deployManifests, kv *corev1.Volume, cert *deployCertificate, certFiles map[string][]byte) (files, secretKeys map[string][]byte) {
	t.Helper()
	if kv.Projected == nil {
		t.Fatal("the key directory is not a projected volume")
	}
	files, secretKeys = map[string][]byte{}, map[string][]byte{}
	for _, src := range kv.Projected.Sources {
		var data map[string][]byte
		switch {
		case src.Secret == nil:
			t.Fatalf("projected source %+v is not a Secret", src)
		case src.Secret.Name == cert.Spec.SecretName:
			data = certFiles
		case m.secrets[src.Secret.Name] != nil:
			data = deploySecretData(m.secrets[src.Secret.Name])
			maps.Copy(secretKeys, data)
		default:
			t.Fatalf("no Secret %s", src.Secret.Name)
		}
		if len(src.Secret.Items) == 0 {
			maps.Copy(files, data)
		}
		for _, it := range src.Secret.Items {
			files[it.Path] = data[it.Key]
		}
	}
	return files, secretKeys
}

// deployOwner is the owner of a bare key file, by the key directory's file name rule.
func deployOwner(t *testing.T, file string) string {
	t.Helper()
	name := strings.TrimSuffix(file, filepath.Ext(file))
	for _, s := range []string{name, strings.ReplaceAll(name, "-", ":")} {
		if a, err := netip.ParseAddr(s); err == nil {
			return Reverse(t, a.String())
		}
	}
	return dns.Fqdn(name)
}

// deployRdata is the RDATA, in hex, of a record given as "TYPE RDATA".
func deployRdata(t *testing.T, rdata string) string {
	t.Helper()
	return RDataHex(t, NewRR(t, fmt.Sprintf(". 3600 IN %s", rdata)))
}
