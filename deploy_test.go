package ipsecoe

// The deploy tests hold the shipped deployment to what it claims: every manifest under
// deploy/kubernetes decodes strictly into its Kubernetes type and is wired to the others
// (volumes, Secrets, ConfigMaps, RBAC, selectors) with the security settings it promises;
// the Helm values give the same Corefile and Pod; the Dockerfile builds a static, non-root
// image; and the shipped Corefile starts in the real binary and answers, signed and
// validated, with its kubernetes plugin talking to a stand-in API server.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

var (
	deployKubeDir    = filepath.Join("deploy", "kubernetes")
	deployHelmValues = filepath.Join("deploy", "helm", "values.yaml")
)

// deployCertificate is the part of cert-manager's Certificate (cert-manager.io/v1) the
// manifests use; k8s.io/api has no type for it. Decoding is strict, so a field missing here
// is a field the manifest should not have.
type deployCertificate struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		SecretName  string   `json:"secretName"`
		CommonName  string   `json:"commonName,omitempty"`
		DNSNames    []string `json:"dnsNames,omitempty"`
		IPAddresses []string `json:"ipAddresses,omitempty"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm,omitempty"`
			Size           int    `json:"size,omitempty"`
			RotationPolicy string `json:"rotationPolicy,omitempty"`
		} `json:"privateKey,omitempty"`
		Usages      []string `json:"usages,omitempty"`
		Duration    string   `json:"duration,omitempty"`
		RenewBefore string   `json:"renewBefore,omitempty"`
		IssuerRef   struct {
			Group string `json:"group,omitempty"`
			Kind  string `json:"kind,omitempty"`
			Name  string `json:"name"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// deployManifests is every object under deploy/kubernetes, by kind and name.
type deployManifests struct {
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	services        map[string]*corev1.Service
	serviceAccounts map[string]*corev1.ServiceAccount
	deployments     map[string]*appsv1.Deployment
	clusterRoles    map[string]*rbacv1.ClusterRole
	bindings        map[string]*rbacv1.ClusterRoleBinding
	pdbs            map[string]*policyv1.PodDisruptionBudget
	certificates    map[string]*deployCertificate
}

// deployLoad reads and strictly decodes every YAML document under deploy/kubernetes.
func deployLoad(t *testing.T) *deployManifests {
	t.Helper()
	m := &deployManifests{
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		services: map[string]*corev1.Service{}, serviceAccounts: map[string]*corev1.ServiceAccount{},
		deployments: map[string]*appsv1.Deployment{}, clusterRoles: map[string]*rbacv1.ClusterRole{},
		bindings: map[string]*rbacv1.ClusterRoleBinding{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		certificates: map[string]*deployCertificate{},
	}
	files, err := filepath.Glob(filepath.Join(deployKubeDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", deployKubeDir, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", file, i, err)
			}
			where := fmt.Sprintf("%s: document %d", file, i)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			if tm.APIVersion == "" && tm.Kind == "" {
				continue // comments only
			}
			var name string
			switch gvk := tm.APIVersion + "/" + tm.Kind; gvk {
			case "v1/ConfigMap":
				name = deployDecode(t, where, doc, m.configMaps)
			case "v1/Secret":
				name = deployDecode(t, where, doc, m.secrets)
			case "v1/Service":
				name = deployDecode(t, where, doc, m.services)
			case "v1/ServiceAccount":
				name = deployDecode(t, where, doc, m.serviceAccounts)
			case "apps/v1/Deployment":
				name = deployDecode(t, where, doc, m.deployments)
			case "rbac.authorization.k8s.io/v1/ClusterRole":
				name = deployDecode(t, where, doc, m.clusterRoles)
			case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
				name = deployDecode(t, where, doc, m.bindings)
			case "policy/v1/PodDisruptionBudget":
				name = deployDecode(t, where, doc, m.pdbs)
			case "cert-manager.io/v1/Certificate":
				name = deployDecode(t, where, doc, m.certificates)
			default:
				t.Fatalf("%s: unexpected kind %s", where, gvk)
			}
			if name == "" {
				t.Fatalf("%s: %s without a name", where, tm.Kind)
			}
		}
	}
	return m
}

// deployDecode decodes doc strictly (unknown or duplicate fields fail) into a new T, files
// it by name in into and returns the name.
func deployDecode[T any](t *testing.T, where string, doc []byte, into map[string]*T) string {
	t.Helper()
	obj := new(T)
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		t.Fatalf("%s: strict decoding into %T: %v", where, obj, err)
	}
	var meta struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		t.Fatal(err)
	}
	name := meta.Metadata.Name
	if _, dup := into[name]; dup {
		t.Fatalf("%s: a second %T named %q", where, obj, name)
	}
	into[name] = obj
	return name
}

// deployOne returns the only object of a kind.
func deployOne[T any](t *testing.T, kind string, objs map[string]*T) *T {
	t.Helper()
	if len(objs) != 1 {
		t.Fatalf("want exactly one %s in %s, have %d", kind, deployKubeDir, len(objs))
	}
	for _, o := range objs {
		return o
	}
	return nil
}

// deploySecretData returns a Secret's entries, stringData and data merged, as the API would.
func deploySecretData(s *corev1.Secret) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range s.Data {
		out[k] = v
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

// deployCorefileText is the Corefile of the coredns ConfigMap that the Deployment mounts.
func (m *deployManifests) corefileText(t *testing.T) string {
	t.Helper()
	cm := m.configMaps["coredns"]
	if cm == nil || cm.Data["Corefile"] == "" {
		t.Fatal("no ConfigMap coredns with a Corefile")
	}
	return cm.Data["Corefile"]
}

// deployVolume returns the Pod volume named name.
func deployVolume(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Volume {
	t.Helper()
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	t.Fatalf("no volume %q", name)
	return nil
}

// deployMountOf returns the container's mount at path.
func deployMountOf(t *testing.T, c *corev1.Container, path string) *corev1.VolumeMount {
	t.Helper()
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == path {
			return &c.VolumeMounts[i]
		}
	}
	t.Fatalf("container %s mounts nothing at %s", c.Name, path)
	return nil
}

func TestDeployManifests(t *testing.T) {
	m := deployLoad(t)
	for kind, n := range map[string]int{
		"ConfigMap": len(m.configMaps), "Secret": len(m.secrets), "Service": len(m.services),
		"ServiceAccount": len(m.serviceAccounts), "Deployment": len(m.deployments),
		"ClusterRole": len(m.clusterRoles), "ClusterRoleBinding": len(m.bindings),
		"PodDisruptionBudget": len(m.pdbs), "Certificate": len(m.certificates),
	} {
		if n == 0 {
			t.Errorf("no %s in %s", kind, deployKubeDir)
		}
	}
	var namespaced []metav1.ObjectMeta
	for _, o := range m.configMaps {
		namespaced = append(namespaced, o.ObjectMeta)
	}
	for _, o := range m.secrets {
		namespaced = append(namespaced, o.ObjectMeta)
	}
	for _, o := range m.services {
		namespaced = append(namespaced, o.ObjectMeta)
	}
	for _, o := range m.serviceAccounts {
		namespaced = append(namespaced, o.ObjectMeta)
	}
	for _, o := range m.deployments {
		namespaced = append(namespaced, o.ObjectMeta)
	}
	for _, o := range m.pdbs {
		namespaced = append(namespaced, o.ObjectMeta)
	}
	for _, o := range m.certificates {
		namespaced = append(namespaced, o.Metadata)
	}
	for _, o := range namespaced {
		if o.Namespace != "kube-system" {
			t.Errorf("%s is in namespace %q, want kube-system", o.Name, o.Namespace)
		}
	}

	dep := deployOne(t, "Deployment", m.deployments)
	pod := &dep.Spec.Template.Spec
	podLabels := dep.Spec.Template.Labels
	if dep.Spec.Template.Labels["k8s-app"] != "kube-dns" || dep.Spec.Selector == nil ||
		!deploySelects(dep.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("Deployment must select its own Pods by k8s-app: kube-dns; selector %v, labels %v", dep.Spec.Selector, podLabels)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Errorf("Deployment replicas %v, want 2 or more", dep.Spec.Replicas)
	}
	if pod.PriorityClassName != "system-cluster-critical" {
		t.Errorf("priorityClassName %q", pod.PriorityClassName)
	}
	if pod.DNSPolicy != corev1.DNSDefault {
		t.Errorf("dnsPolicy %q, want Default (forward to the node's resolvers, not to itself)", pod.DNSPolicy)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Containers))
	}
	c := &pod.Containers[0]
	if !strings.HasPrefix(c.Image, "ghcr.io/example/ipsecoe-coredns:") {
		t.Errorf("image %q", c.Image)
	}
	if !slices.Equal(c.Args, []string{"-conf", "/etc/coredns/Corefile"}) {
		t.Errorf("args %q", c.Args)
	}

	t.Run("ports and probes", func(t *testing.T) {
		var ports []string
		for _, p := range c.Ports {
			ports = append(ports, fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol))
		}
		slices.Sort(ports)
		if want := []string{"53/TCP", "53/UDP", "9153/TCP"}; !slices.Equal(ports, want) {
			t.Errorf("container ports %v, want %v", ports, want)
		}
		probe := func(what string, p *corev1.Probe, port int, path string) {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s: no HTTP probe", what)
				return
			}
			if p.HTTPGet.Port.IntValue() != port || p.HTTPGet.Path != path {
				t.Errorf("%s probes :%s%s, want :%d%s", what, p.HTTPGet.Port.String(), p.HTTPGet.Path, port, path)
			}
		}
		probe("readinessProbe (ready plugin)", c.ReadinessProbe, 8181, "/ready")
		probe("livenessProbe (health plugin)", c.LivenessProbe, 8080, "/health")
	})

	t.Run("security", func(t *testing.T) {
		sc := c.SecurityContext
		if sc == nil {
			t.Fatal("no container securityContext")
		}
		isTrue := func(b *bool) bool { return b != nil && *b }
		if !isTrue(sc.ReadOnlyRootFilesystem) {
			t.Error("readOnlyRootFilesystem is not true")
		}
		if !isTrue(sc.RunAsNonRoot) {
			t.Error("runAsNonRoot is not true")
		}
		if sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
			t.Errorf("runAsUser %v, want 65532", sc.RunAsUser)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation is not false")
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
			!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_BIND_SERVICE"}) {
			t.Errorf("capabilities %+v, want drop ALL, add NET_BIND_SERVICE", sc.Capabilities)
		}
		if pod.SecurityContext == nil || pod.SecurityContext.FSGroup == nil || *pod.SecurityContext.FSGroup != 65532 {
			t.Error("the Pod needs fsGroup 65532 to read its root-owned Secret files as user 65532")
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				t.Errorf("no %s request", r)
			}
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
			t.Error("no memory limit")
		}
	})

	t.Run("volumes", func(t *testing.T) {
		vols := map[string]*corev1.Volume{}
		for i := range pod.Volumes {
			vols[pod.Volumes[i].Name] = &pod.Volumes[i]
		}
		for _, vm := range c.VolumeMounts {
			if vols[vm.Name] == nil {
				t.Errorf("volumeMount %s at %s: no such volume", vm.Name, vm.MountPath)
			}
			if !vm.ReadOnly {
				t.Errorf("volumeMount %s at %s is not read-only", vm.Name, vm.MountPath)
			}
		}
		// Every ConfigMap and Secret the Pod reads exists: in the manifests, or as the Secret
		// a Certificate makes.
		secretExists := func(name string) bool {
			if m.secrets[name] != nil {
				return true
			}
			for _, cert := range m.certificates {
				if cert.Spec.SecretName == name {
					return true
				}
			}
			return false
		}
		for _, v := range pod.Volumes {
			switch {
			case v.ConfigMap != nil:
				if m.configMaps[v.ConfigMap.Name] == nil {
					t.Errorf("volume %s: no ConfigMap %s", v.Name, v.ConfigMap.Name)
				}
			case v.Secret != nil:
				if !secretExists(v.Secret.SecretName) {
					t.Errorf("volume %s: no Secret %s", v.Name, v.Secret.SecretName)
				}
			case v.Projected != nil:
				for _, src := range v.Projected.Sources {
					switch {
					case src.Secret != nil:
						if !secretExists(src.Secret.Name) {
							t.Errorf("volume %s: no Secret %s", v.Name, src.Secret.Name)
						}
					case src.ConfigMap != nil:
						if m.configMaps[src.ConfigMap.Name] == nil {
							t.Errorf("volume %s: no ConfigMap %s", v.Name, src.ConfigMap.Name)
						}
					}
				}
			}
		}

		// The Corefile is where -conf looks.
		cfg := vols[deployMountOf(t, c, "/etc/coredns").Name]
		if cfg.ConfigMap == nil || cfg.ConfigMap.Name != "coredns" ||
			!slices.ContainsFunc(cfg.ConfigMap.Items, func(k corev1.KeyToPath) bool { return k.Key == "Corefile" && k.Path == "Corefile" }) {
			t.Errorf("/etc/coredns must hold the Corefile of ConfigMap coredns: %+v", cfg.VolumeSource)
		}

		// The zone keys: a read-only Secret, readable by its owner or group only.
		ds := deployMountOf(t, c, "/etc/coredns/dnssec")
		dv := vols[ds.Name]
		if dv.Secret == nil {
			t.Fatalf("/etc/coredns/dnssec is not a Secret volume")
		}
		if mode := dv.Secret.DefaultMode; mode == nil || (*mode != 0o400 && *mode != 0o440) {
			t.Errorf("dnssec Secret defaultMode %v, want 0400 or 0440", mode)
		}
		if dv.Secret.Optional != nil && *dv.Secret.Optional {
			t.Error("the dnssec Secret must not be optional")
		}

		// The key directory: a projected volume with the certificate but never its key.
		kv := vols[deployMountOf(t, c, "/etc/ipsecoe/keys").Name]
		if kv.Projected == nil {
			t.Fatal("/etc/ipsecoe/keys is not a projected volume")
		}
		cert := deployOne(t, "Certificate", m.certificates)
		sawCert, sawKeys := false, false
		for _, src := range kv.Projected.Sources {
			if src.Secret == nil {
				t.Errorf("projected source %+v is not a Secret", src)
				continue
			}
			if m.secrets[src.Secret.Name] != nil {
				sawKeys = true
				for k, v := range deploySecretData(m.secrets[src.Secret.Name]) {
					if bytes.Contains(v, []byte("PRIVATE KEY")) {
						t.Errorf("Secret %s entry %s holds a private key", src.Secret.Name, k)
					}
				}
			}
			if src.Secret.Name != cert.Spec.SecretName {
				continue
			}
			sawCert = true
			if len(src.Secret.Items) == 0 {
				t.Errorf("Secret %s is projected whole: tls.key would be in the key directory", src.Secret.Name)
			}
			hasCrt := false
			for _, it := range src.Secret.Items {
				switch it.Key {
				case "tls.crt":
					hasCrt = true
					if !strings.HasSuffix(it.Path, ".crt") {
						t.Errorf("tls.crt projected as %q, want a .crt name", it.Path)
					}
				case "tls.key":
					t.Errorf("tls.key is projected into the key directory as %q", it.Path)
				}
			}
			if !hasCrt {
				t.Errorf("Secret %s: tls.crt is not projected", src.Secret.Name)
			}
		}
		if !sawCert || !sawKeys {
			t.Errorf("the key directory must project the Certificate's Secret (%v) and a Secret of keys (%v)", sawCert, sawKeys)
		}
	})

	t.Run("secrets", func(t *testing.T) {
		dnssecVol := deployVolume(t, pod, deployMountOf(t, c, "/etc/coredns/dnssec").Name)
		s := m.secrets[dnssecVol.Secret.SecretName]
		if s == nil {
			t.Fatalf("no Secret %s", dnssecVol.Secret.SecretName)
		}
		data := deploySecretData(s)
		if len(data) == 0 {
			t.Fatal("the dnssec Secret shows no key names")
		}
		for k, v := range data {
			if !bytes.Contains(v, []byte("REPLACE-ME")) {
				t.Errorf("dnssec Secret entry %s is not a placeholder", k)
			}
			if _, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(v))); err == nil {
				t.Errorf("dnssec Secret entry %s looks like real key material", k)
			}
		}
		// The Corefile's key files are entries of that Secret.
		for _, b := range deployParseCorefile(t, m.corefileText(t)) {
			d := b.directive("dnssec")
			if d == nil {
				continue
			}
			for _, base := range d.keyFiles() {
				rel, ok := strings.CutPrefix(base, "/etc/coredns/dnssec/")
				if !ok {
					t.Errorf("block %s: key file %s is outside the dnssec Secret's mount", b.zone(), base)
					continue
				}
				for _, ext := range []string{".key", ".private"} {
					if _, ok := data[rel+ext]; !ok {
						t.Errorf("block %s: the dnssec Secret has no entry %s", b.zone(), rel+ext)
					}
				}
			}
		}
	})

	t.Run("rbac", func(t *testing.T) {
		role := deployOne(t, "ClusterRole", m.clusterRoles)
		got := map[string][]string{}
		for _, r := range role.Rules {
			verbs := slices.Clone(r.Verbs)
			slices.Sort(verbs)
			if !slices.Equal(verbs, []string{"list", "watch"}) {
				t.Errorf("rule %+v: verbs %v, want list and watch only", r, r.Verbs)
			}
			for _, g := range r.APIGroups {
				got[g] = append(got[g], r.Resources...)
			}
		}
		for g := range got {
			slices.Sort(got[g])
		}
		want := map[string][]string{
			"":                 {"endpoints", "namespaces", "pods", "services"},
			"discovery.k8s.io": {"endpointslices"},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ClusterRole grants %v, want %v", got, want)
		}
		b := deployOne(t, "ClusterRoleBinding", m.bindings)
		if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != role.Name {
			t.Errorf("ClusterRoleBinding refers to %s %s", b.RoleRef.Kind, b.RoleRef.Name)
		}
		if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" ||
			b.Subjects[0].Name != pod.ServiceAccountName || b.Subjects[0].Namespace != dep.Namespace {
			t.Errorf("ClusterRoleBinding subjects %+v, want the Deployment's ServiceAccount %s", b.Subjects, pod.ServiceAccountName)
		}
		if m.serviceAccounts[pod.ServiceAccountName] == nil {
			t.Errorf("no ServiceAccount %s", pod.ServiceAccountName)
		}
	})

	t.Run("service, disruption budget, spread", func(t *testing.T) {
		svc := m.services["kube-dns"]
		if svc == nil {
			t.Fatal("no Service kube-dns")
		}
		if !deploySelects(svc.Spec.Selector, podLabels) {
			t.Errorf("Service selector %v does not select the Pods %v", svc.Spec.Selector, podLabels)
		}
		if _, err := netip.ParseAddr(svc.Spec.ClusterIP); err != nil {
			t.Errorf("Service clusterIP %q", svc.Spec.ClusterIP)
		}
		var ports []string
		for _, p := range svc.Spec.Ports {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		}
		slices.Sort(ports)
		if want := []string{"53/TCP", "53/UDP", "9153/TCP"}; !slices.Equal(ports, want) {
			t.Errorf("Service ports %v, want %v", ports, want)
		}
		pdb := deployOne(t, "PodDisruptionBudget", m.pdbs)
		if pdb.Spec.Selector == nil || !deploySelects(pdb.Spec.Selector.MatchLabels, podLabels) {
			t.Errorf("PodDisruptionBudget selector %v does not select the Pods", pdb.Spec.Selector)
		}
		if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
			t.Error("PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
		}
		spread := false
		for _, c := range pod.TopologySpreadConstraints {
			if c.TopologyKey == "kubernetes.io/hostname" && c.LabelSelector != nil &&
				deploySelects(c.LabelSelector.MatchLabels, podLabels) {
				spread = true
			}
		}
		if !spread {
			t.Error("no topologySpreadConstraint across nodes (kubernetes.io/hostname) for the Pods")
		}
	})
}

// deploySelects reports whether a non-empty selector matches labels.
func deploySelects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

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

func TestDeployCorefile(t *testing.T) {
	m := deployLoad(t)
	blocks := deployParseCorefile(t, m.corefileText(t))
	if len(blocks) < 3 {
		t.Fatalf("want the cluster block and at least a forward and a reverse ipsecoe block, have %d blocks", len(blocks))
	}

	// The cluster block is the stock one, untouched.
	stock := []string{
		"errors", "health; lameduck 5s", "ready",
		"kubernetes cluster.local in-addr.arpa ip6.arpa; pods insecure; fallthrough in-addr.arpa ip6.arpa; ttl 30",
		"prometheus :9153", "forward . /etc/resolv.conf", "cache 30", "loop", "reload", "loadbalance",
	}
	root := blocks[0]
	if !slices.Equal(root.keys, []string{".:53"}) {
		t.Errorf("first block %v, want .:53", root.keys)
	}
	var got []string
	for _, d := range root.directives {
		got = append(got, d.String())
	}
	if !slices.Equal(got, stock) {
		t.Errorf("cluster block:\n got %q\nwant %q", got, stock)
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

// deployHelm is the part of the CoreDNS chart's values the test reads.
type deployHelm struct {
	Image struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"image"`
	ReplicaCount        int32             `json:"replicaCount"`
	PriorityClassName   string            `json:"priorityClassName"`
	K8sAppLabelOverride string            `json:"k8sAppLabelOverride"`
	IsClusterService    bool              `json:"isClusterService"`
	Service             map[string]string `json:"service"`
	Servers             []struct {
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
	} `json:"servers"`
	PodSecurityContext        json.RawMessage `json:"podSecurityContext"`
	SecurityContext           json.RawMessage `json:"securityContext"`
	Resources                 json.RawMessage `json:"resources"`
	TopologySpreadConstraints json.RawMessage `json:"topologySpreadConstraints"`
	PodDisruptionBudget       json.RawMessage `json:"podDisruptionBudget"`
	ExtraVolumes              json.RawMessage `json:"extraVolumes"`
	ExtraVolumeMounts         json.RawMessage `json:"extraVolumeMounts"`
	ReadinessProbe            struct {
		Enabled bool `json:"enabled"`
	} `json:"readinessProbe"`
	LivenessProbe struct {
		Enabled bool `json:"enabled"`
	} `json:"livenessProbe"`
}

// corefile renders servers as the chart's ConfigMap template does: zones joined by spaces,
// ":port" after them, then "name parameters { configBlock }" per plugin.
func (h *deployHelm) corefile() string {
	var b strings.Builder
	for _, s := range h.Servers {
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
			fmt.Fprintf(&b, ":%d ", s.Port)
		}
		b.WriteString("{\n")
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
	}
	return b.String()
}

// deployTokens is a Corefile as a list of tokens, comments dropped; 0.0.0.0:9153 (the
// chart's spelling) and :9153 are the same address.
func deployTokens(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		for _, f := range strings.Fields(line) {
			out = append(out, strings.TrimPrefix(f, "0.0.0.0"))
		}
	}
	return out
}

// deployStrict decodes a JSON fragment of the values strictly into T.
func deployStrict[T any](t *testing.T, what string, raw json.RawMessage) T {
	t.Helper()
	var v T
	if len(raw) == 0 {
		t.Fatalf("values: no %s", what)
	}
	if err := yaml.UnmarshalStrict(raw, &v); err != nil {
		t.Fatalf("values: %s: %v", what, err)
	}
	return v
}

func TestDeployHelmValues(t *testing.T) {
	data, err := os.ReadFile(deployHelmValues)
	if err != nil {
		t.Fatal(err)
	}
	var h deployHelm
	if err := yaml.Unmarshal(data, &h); err != nil {
		t.Fatalf("%s: %v", deployHelmValues, err)
	}
	m := deployLoad(t)
	dep := deployOne(t, "Deployment", m.deployments)
	pod := &dep.Spec.Template.Spec
	c := &pod.Containers[0]

	// The servers give the Corefile of the ConfigMap, token for token.
	want := deployTokens(m.corefileText(t))
	if got := deployTokens(h.corefile()); !slices.Equal(got, want) {
		t.Errorf("the chart would render a different Corefile:\n%s\nwant the ConfigMap's:\n%s", h.corefile(), m.corefileText(t))
	}
	// And so the same zones, with dnssec and ipsecoe in the same blocks.
	var helmZones, cmZones []string
	for _, s := range h.Servers {
		var names []string
		for _, p := range s.Plugins {
			names = append(names, p.Name)
		}
		for _, z := range s.Zones {
			helmZones = append(helmZones, z.Zone)
			if !z.UseTCP {
				t.Errorf("zone %s: use_tcp is off, so the chart would not expose 53/TCP", z.Zone)
			}
			if z.Zone != "." && (!slices.Contains(names, "dnssec") || !slices.Contains(names, "ipsecoe")) {
				t.Errorf("server %s: want dnssec and ipsecoe, have %v", z.Zone, names)
			}
			if z.Zone == "." && (slices.Contains(names, "dnssec") || slices.Contains(names, "ipsecoe")) {
				t.Errorf("the cluster server must not sign or run ipsecoe: %v", names)
			}
		}
	}
	for _, b := range deployParseCorefile(t, m.corefileText(t)) {
		cmZones = append(cmZones, b.zone())
	}
	slices.Sort(helmZones)
	slices.Sort(cmZones)
	if !slices.Equal(helmZones, cmZones) {
		t.Errorf("values zones %v, ConfigMap zones %v", helmZones, cmZones)
	}

	// The Pod the chart makes matches deployment.yaml where the values decide it.
	if got := h.Image.Repository + ":" + h.Image.Tag; got != c.Image {
		t.Errorf("image %s, Deployment has %s", got, c.Image)
	}
	if dep.Spec.Replicas == nil || h.ReplicaCount != *dep.Spec.Replicas {
		t.Errorf("replicaCount %d", h.ReplicaCount)
	}
	if h.PriorityClassName != pod.PriorityClassName || !h.IsClusterService || h.K8sAppLabelOverride != "kube-dns" {
		t.Errorf("priorityClassName %q, isClusterService %v, k8sAppLabelOverride %q", h.PriorityClassName, h.IsClusterService, h.K8sAppLabelOverride)
	}
	if svc := m.services["kube-dns"]; svc == nil || h.Service["name"] != svc.Name || h.Service["clusterIP"] != svc.Spec.ClusterIP {
		t.Errorf("service %v", h.Service)
	}
	if !h.ReadinessProbe.Enabled || !h.LivenessProbe.Enabled {
		t.Error("probes disabled")
	}
	eq := func(what string, got, want any) {
		t.Helper()
		if !apiequality.Semantic.DeepEqual(got, want) {
			t.Errorf("values %s:\n got %+v\nwant %+v (deployment.yaml)", what, got, want)
		}
	}
	eq("securityContext", deployStrict[*corev1.SecurityContext](t, "securityContext", h.SecurityContext), c.SecurityContext)
	eq("podSecurityContext", deployStrict[*corev1.PodSecurityContext](t, "podSecurityContext", h.PodSecurityContext), pod.SecurityContext)
	eq("resources", deployStrict[corev1.ResourceRequirements](t, "resources", h.Resources), c.Resources)
	eq("topologySpreadConstraints", deployStrict[[]corev1.TopologySpreadConstraint](t, "topologySpreadConstraints", h.TopologySpreadConstraints), pod.TopologySpreadConstraints)
	pdb := deployOne(t, "PodDisruptionBudget", m.pdbs)
	eq("podDisruptionBudget", deployStrict[policyv1.PodDisruptionBudgetSpec](t, "podDisruptionBudget", h.PodDisruptionBudget).MinAvailable, pdb.Spec.MinAvailable)

	// The extra volumes are the Deployment's, mounted at the same places.
	vols := deployStrict[[]corev1.Volume](t, "extraVolumes", h.ExtraVolumes)
	mounts := deployStrict[[]corev1.VolumeMount](t, "extraVolumeMounts", h.ExtraVolumeMounts)
	if len(vols) == 0 || len(vols) != len(mounts) {
		t.Fatalf("extraVolumes %d, extraVolumeMounts %d", len(vols), len(mounts))
	}
	for _, vm := range mounts {
		eq("mount "+vm.Name, vm, *deployMountOf(t, c, vm.MountPath))
		i := slices.IndexFunc(vols, func(v corev1.Volume) bool { return v.Name == vm.Name })
		if i < 0 {
			t.Errorf("extraVolumeMounts %s: no such extra volume", vm.Name)
			continue
		}
		eq("volume "+vm.Name, vols[i], *deployVolume(t, pod, vm.Name))
	}
}

func TestDeployDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Instructions, with continued lines joined and comments dropped.
	var ins []string
	var cur string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if s, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur += s + " "
			continue
		}
		cur += line
		if strings.TrimSpace(cur) != "" {
			ins = append(ins, strings.Join(strings.Fields(cur), " "))
		}
		cur = ""
	}
	var stages [][]string
	for _, in := range ins {
		if strings.HasPrefix(strings.ToUpper(in), "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if !strings.HasPrefix(strings.ToUpper(in), "ARG ") {
				t.Fatalf("instruction before the first FROM: %q", in)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, have %d stages", len(stages))
	}
	if !strings.Contains(stages[0][0], "golang:1.26") {
		t.Errorf("builder stage %q, want golang:1.26", stages[0][0])
	}
	built := false
	for _, in := range stages[0] {
		if strings.HasPrefix(in, "RUN ") && strings.Contains(in, "go build") {
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "./cmd/coredns"} {
				if !strings.Contains(in, want) {
					t.Errorf("build step %q lacks %s", in, want)
				}
			}
			built = true
		}
	}
	if !built {
		t.Error("the builder stage does not go build")
	}
	last := stages[len(stages)-1]
	user := ""
	for _, in := range last {
		if u, ok := strings.CutPrefix(in, "USER "); ok {
			user = u
		}
	}
	if base := last[0]; user == "" && !strings.HasSuffix(base, ":nonroot") {
		t.Errorf("the final stage (%s) sets no USER", base)
	}
	if name, _, _ := strings.Cut(user, ":"); name == "root" || name == "0" {
		t.Errorf("the final stage runs as %s", user)
	}
	for _, want := range []string{`ENTRYPOINT ["/coredns"]`, "EXPOSE 53 53/udp 9153"} {
		if !slices.Contains(last, want) {
			t.Errorf("the final stage lacks %s: %q", want, last)
		}
	}
}

// deployKubeletDir lays files out under dir as the kubelet does for a Secret or projected
// volume: the files in a timestamped folder, ..data a symlink to it, and each visible name
// a symlink through ..data.
func deployKubeletDir(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	const ts = "..2026_11_22_02_51_00.123456789"
	top := map[string]bool{}
	for name, data := range files {
		p := filepath.Join(dir, ts, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o444); err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(name, "/")
		top[first] = true
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range top {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// deployRdata is the RDATA, in hex, of a record given as text.
func deployRdata(t *testing.T, rdata string) string {
	t.Helper()
	rr, err := dns.NewRR(". 3600 IN " + rdata)
	if err != nil {
		t.Fatalf("%s: %v", rdata, err)
	}
	buf := make([]byte, dns.Len(rr)+16)
	off, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(buf[11:off]) // after the root name and the 10 header bytes
}

// deployAPIServer stands in for the Kubernetes API: it answers the list and watch calls of
// the kubernetes plugin with a fixed set of objects, and watch-list streams (client-go's
// default) with the objects then the bookmark that ends the initial events.
func deployAPIServer(t *testing.T, objects map[string][]string) string {
	t.Helper()
	type resource struct{ kind, apiVersion string }
	resources := map[string]resource{
		"/api/v1/services":                         {"Service", "v1"},
		"/api/v1/namespaces":                       {"Namespace", "v1"},
		"/api/v1/pods":                             {"Pod", "v1"},
		"/api/v1/endpoints":                        {"Endpoints", "v1"},
		"/apis/discovery.k8s.io/v1/endpointslices": {"EndpointSlice", "discovery.k8s.io/v1"},
	}
	done := make(chan struct{})
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.String())
		mu.Unlock()
		res, ok := resources[r.URL.Path]
		if !ok || r.Method != http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
			return
		}
		items := objects[r.URL.Path]
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		if q.Get("watch") != "true" && q.Get("watch") != "1" {
			fmt.Fprintf(w, `{"kind":"%sList","apiVersion":"%s","metadata":{"resourceVersion":"1"},"items":[%s]}`,
				res.kind, res.apiVersion, strings.Join(items, ","))
			return
		}
		w.WriteHeader(http.StatusOK)
		if q.Get("sendInitialEvents") == "true" {
			for _, it := range items {
				fmt.Fprintf(w, "{\"type\":\"ADDED\",\"object\":%s}\n", it)
			}
			fmt.Fprintf(w, `{"type":"BOOKMARK","object":{"kind":"%s","apiVersion":"%s","metadata":{"resourceVersion":"1","annotations":{"k8s.io/initial-events-end":"true"}}}}`+"\n",
				res.kind, res.apiVersion)
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		select { // nothing changes until the test ends
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(done)
		srv.CloseClientConnections()
		srv.Close()
		if t.Failed() {
			mu.Lock()
			t.Logf("API requests:\n%s", strings.Join(seen, "\n"))
			mu.Unlock()
		}
	})
	return srv.URL
}

// deployLocal is what the test changes in the shipped Corefile to run it on 127.0.0.1.
type deployLocal struct {
	dns, health, ready, metrics, closed string // ports
	api                                 string // URL of the stand-in API server
	dnssecDir, keysDir                  string
}

// deployLocalCorefile rewrites only what a test must: the listen port (plus bind
// 127.0.0.1), the health, ready and metrics addresses, the upstream, the API endpoint of the
// kubernetes plugins, and the two mounted paths. It fails on any Corefile it would not
// rewrite completely.
func deployLocalCorefile(t *testing.T, text string, l deployLocal, blocks []deployBlock) string {
	t.Helper()
	var out []string
	n := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		trim := strings.TrimSpace(line)
		indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
		switch {
		case indent == "" && strings.HasSuffix(trim, ":53 {"):
			out = append(out, strings.TrimSuffix(trim, ":53 {")+":"+l.dns+" {", "    bind 127.0.0.1")
			n["block"]++
			continue
		case trim == "health {":
			line = indent + "health 127.0.0.1:" + l.health + " {"
			n["health"]++
		case trim == "ready":
			line = indent + "ready 127.0.0.1:" + l.ready
			n["ready"]++
		case trim == "prometheus :9153":
			line = indent + "prometheus 127.0.0.1:" + l.metrics
			n["prometheus"]++
		case trim == "forward . /etc/resolv.conf":
			line = indent + "forward . 127.0.0.1:" + l.closed
			n["forward"]++
		case strings.HasPrefix(trim, "kubernetes ") && strings.HasSuffix(trim, "{"):
			out = append(out, line, indent+"    endpoint "+l.api)
			n["kubernetes"]++
			continue
		}
		line = strings.ReplaceAll(line, "/etc/coredns/dnssec/", l.dnssecDir+"/")
		line = strings.ReplaceAll(line, "/etc/ipsecoe/keys", l.keysDir)
		out = append(out, line)
	}
	k8s := 0
	for _, b := range blocks {
		if b.directive("kubernetes") != nil {
			k8s++
		}
	}
	want := map[string]int{"block": len(blocks), "health": 1, "ready": len(blocks),
		"prometheus": len(blocks), "forward": 1, "kubernetes": k8s}
	if fmt.Sprint(n) != fmt.Sprint(want) {
		t.Fatalf("Corefile rewrite: changed %v, want %v", n, want)
	}
	conf := strings.Join(out, "\n")
	if strings.Contains(conf, "/etc/") {
		t.Fatalf("Corefile rewrite left a path under /etc:\n%s", conf)
	}
	return conf
}

// deployGet fetches an HTTP URL with a short timeout.
func deployGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, string(b), err
}

// deployVectorCase is the part of a vectors.json case that names its key file.
type deployVectorCase struct {
	ID          string `json:"id"`
	KeyFile     string `json:"key_file"`
	GatewayType int    `json:"gateway_type"`
	Precedence  int    `json:"precedence"`
	WireHex     string `json:"wire_hex"`
}

func TestDeployCorefileRuns(t *testing.T) {
	dig := needTool(t, "dig", "bind9-dnsutils")
	keygen := needTool(t, "dnssec-keygen", "bind9-utils")
	m := deployLoad(t)
	text := m.corefileText(t)
	blocks := deployParseCorefile(t, text)
	dep := deployOne(t, "Deployment", m.deployments)
	pod := &dep.Spec.Template.Spec
	c := &pod.Containers[0]
	tmp := t.TempDir()

	// The zone keys, made for each signed zone under the names the Corefile gives them, laid
	// out as the kubelet mounts the dnssec Secret.
	anchors := map[string]*dns.DNSKEY{}
	zoneFiles := map[string][]byte{}
	gen := filepath.Join(tmp, "keygen")
	if err := os.Mkdir(gen, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		d := b.directive("dnssec")
		if d == nil {
			continue
		}
		zone := dns.Fqdn(b.zone())
		out, err := exec.Command(keygen, "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", gen, zone).Output()
		if err != nil {
			t.Fatalf("dnssec-keygen %s: %v", zone, err)
		}
		name := strings.TrimSpace(string(out))
		rel := strings.TrimPrefix(d.keyFiles()[0], "/etc/coredns/dnssec/")
		for _, ext := range []string{".key", ".private"} {
			data, err := os.ReadFile(filepath.Join(gen, name+ext))
			if err != nil {
				t.Fatal(err)
			}
			zoneFiles[rel+ext] = data
		}
		rr, err := dns.NewRR(string(bytes.TrimSpace(deployLastLine(zoneFiles[rel+".key"]))))
		if err != nil {
			t.Fatalf("%s.key: %v", name, err)
		}
		anchors[zone] = rr.(*dns.DNSKEY)
	}
	dnssecDir := filepath.Join(tmp, "dnssec")
	deployKubeletDir(t, dnssecDir, zoneFiles)

	// The key directory, as the Deployment's projected volume lays it out: the entries of the
	// ipsec-keys Secret and the Certificate's tls.crt, for which a certificate with the
	// Certificate's SANs stands in.
	cert := deployOne(t, "Certificate", m.certificates)
	gwKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &gwKey.PublicKey, gwKey)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pkcs8, err := x509.MarshalPKCS8PrivateKey(gwKey)
	if err != nil {
		t.Fatal(err)
	}
	kv := deployVolume(t, pod, deployMountOf(t, c, "/etc/ipsecoe/keys").Name)
	if kv.Projected == nil {
		t.Fatal("the key directory is not a projected volume")
	}
	keyFiles := map[string][]byte{}
	secretKeys := map[string][]byte{} // the entries of the Secrets of keys
	for _, src := range kv.Projected.Sources {
		var data map[string][]byte
		switch {
		case src.Secret == nil:
			t.Fatalf("projected source %+v is not a Secret", src)
		case src.Secret.Name == cert.Spec.SecretName:
			// What cert-manager writes, private key included.
			data = map[string][]byte{"tls.crt": certPEM, "ca.crt": certPEM,
				"tls.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})}
		case m.secrets[src.Secret.Name] != nil:
			data = deploySecretData(m.secrets[src.Secret.Name])
			for k, v := range data {
				secretKeys[k] = v
			}
		default:
			t.Fatalf("no Secret %s", src.Secret.Name)
		}
		if len(src.Secret.Items) == 0 {
			for k, v := range data {
				keyFiles[k] = v
			}
		}
		for _, it := range src.Secret.Items {
			keyFiles[it.Path] = data[it.Key]
		}
	}
	keysDir := filepath.Join(tmp, "keys")
	deployKubeletDir(t, keysDir, keyFiles)

	// What each entry of the Secret must publish: it holds a public key of the test vectors,
	// whose host record (precedence 10, no gateway) vectors.json gives byte for byte.
	var vf struct {
		Cases []deployVectorCase `json:"cases"`
	}
	if err := json.Unmarshal(readVector(t, "vectors.json"), &vf); err != nil {
		t.Fatal(err)
	}
	type want struct{ owner, qtype, rdata string }
	var wants []want
	for k, data := range secretKeys {
		i := slices.IndexFunc(vf.Cases, func(c deployVectorCase) bool {
			return c.GatewayType == 0 && c.Precedence == 10 && c.KeyFile != "" &&
				bytes.Equal(bytes.TrimSpace(readVector(t, c.KeyFile)), bytes.TrimSpace(data))
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
	sum := sha256.Sum256(spki)
	for _, n := range cert.Spec.DNSNames {
		wants = append(wants,
			want{dns.Fqdn(n), "IPSECKEY", deployRdata(t, "IPSECKEY 10 0 3 . "+gwB64)},
			want{"_500." + dns.Fqdn(n), "TYPE65347", "030101" + hex.EncodeToString(sum[:])})
	}
	for _, a := range cert.Spec.IPAddresses {
		r, _ := dns.ReverseAddr(a)
		wants = append(wants, want{r, "IPSECKEY", deployRdata(t, "IPSECKEY 10 0 3 . "+gwB64)})
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
		r, _ := dns.ReverseAddr(inside.String())
		wants = append(wants, want{r, "IPSECKEY",
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
	api := deployAPIServer(t, map[string][]string{
		"/api/v1/services": {fmt.Sprintf(`{"kind":"Service","apiVersion":"v1","metadata":{"name":"kube-dns","namespace":"kube-system","uid":"1","resourceVersion":"1"},`+
			`"spec":{"type":"ClusterIP","clusterIP":%q,"clusterIPs":[%q,%q],"ipFamilies":["IPv4","IPv6"],`+
			`"ports":[{"name":"dns","protocol":"UDP","port":53,"targetPort":53}]}}`, svc.Spec.ClusterIP, svc.Spec.ClusterIP, svcV6)},
		"/api/v1/namespaces": {`{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"kube-system","uid":"2","resourceVersion":"1"}}`},
	})

	bin := integCoreDNS(t)
	var s *integServer
	var local deployLocal
	var lastLog string
	for attempt := range 3 {
		local = deployLocal{
			dns: integFreePort(t), health: integFreePort(t), ready: integFreePort(t),
			metrics: integFreePort(t), closed: integFreePort(t), api: api,
			dnssecDir: dnssecDir, keysDir: keysDir,
		}
		conf := filepath.Join(tmp, fmt.Sprintf("Corefile.%d", attempt))
		if err := os.WriteFile(conf, []byte(deployLocalCorefile(t, text, local, blocks)), 0o644); err != nil {
			t.Fatal(err)
		}
		s, lastLog = deployStart(t, bin, dig, tmp, conf, local, dns.Fqdn(cert.Spec.DNSNames[0]))
		if s != nil {
			break
		}
	}
	if s == nil {
		t.Fatalf("coredns did not become ready; its last output:\n%s", lastLog)
	}

	t.Run("records", func(t *testing.T) {
		if len(wants) < 6 {
			t.Fatalf("only %d records to check", len(wants))
		}
		for _, w := range wants {
			a := s.query(t, "udp", w.owner, w.qtype)
			typ := dns.StringToType[w.qtype]
			if w.qtype == "TYPE65347" {
				typ = TypeIPSECA
			}
			got := integHexes(a.sections["ANSWER"], typ)
			if a.status != "NOERROR" || !a.flag("aa") || !slices.Equal(got, []string{w.rdata}) {
				t.Errorf("%s %s: status %s, flags %v, answer %v; want NOERROR, aa and %s\n%s",
					w.owner, w.qtype, a.status, a.flags, got, w.rdata, a.raw)
			}
		}
	})

	// Both plugins answer in the reverse zones: ipsecoe the keys, kubernetes the PTR records.
	ptrV4, _ := dns.ReverseAddr(svc.Spec.ClusterIP)
	ptrV6, _ := dns.ReverseAddr(svcV6)
	t.Run("kubernetes PTR", func(t *testing.T) {
		want := deployRdata(t, "PTR kube-dns.kube-system.svc.cluster.local.")
		for _, name := range []string{ptrV4, ptrV6} {
			a := s.query(t, "udp", name, "PTR")
			if got := integHexes(a.sections["ANSWER"], dns.TypePTR); a.status != "NOERROR" || !a.flag("aa") || !slices.Equal(got, []string{want}) {
				t.Errorf("%s PTR: status %s, flags %v, answer %v\n%s", name, a.status, a.flags, got, a.raw)
			}
		}
		// A name kubernetes does not know: its denial carries the SOA of the signed zone,
		// signed by it.
		a := s.query(t, "udp", "99.99.99.10.in-addr.arpa.", "PTR", "+dnssec")
		var soa, sigs []string
		for _, rr := range a.sections["AUTHORITY"] {
			switch rr.typ {
			case dns.TypeSOA:
				soa = append(soa, rr.name)
			case dns.TypeRRSIG:
				sigs = append(sigs, rr.name)
			}
		}
		if !slices.Equal(soa, []string{"10.in-addr.arpa."}) || len(sigs) != 2 {
			t.Errorf("PTR denial: SOA at %v, RRSIGs at %v; want the SOA of 10.in-addr.arpa. and two RRSIGs\n%s", soa, sigs, a.raw)
		}
	})

	t.Run("signed", func(t *testing.T) {
		for _, w := range wants {
			a := s.query(t, "udp", w.owner, w.qtype, "+dnssec")
			if len(integHexes(a.sections["ANSWER"], dns.TypeRRSIG)) != 1 {
				t.Errorf("%s %s with DO: no RRSIG\n%s", w.owner, w.qtype, a.raw)
			}
		}
	})

	t.Run("validated", func(t *testing.T) {
		delv := needTool(t, "delv", "bind9-dnsutils")
		var b strings.Builder
		b.WriteString("trust-anchors {\n")
		for zone, k := range anchors {
			fmt.Fprintf(&b, "  %q static-key %d %d %d %q;\n", zone, k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
		}
		b.WriteString("};\n")
		anchorFile := filepath.Join(tmp, "anchors.conf")
		if err := os.WriteFile(anchorFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
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
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			out, _ := exec.CommandContext(ctx, delv, "@127.0.0.1", "-p", local.dns, "-a", anchorFile,
				"+root="+zone, tc.name, tc.qtype).CombinedOutput()
			cancel()
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("delv %s %s (anchor %s): want %q\n%s", tc.name, tc.qtype, zone, tc.want, out)
			}
		}
	})

	t.Run("ready and metrics", func(t *testing.T) {
		base := "http://127.0.0.1:"
		if code, body, err := deployGet(base + local.ready + "/ready"); err != nil || code != http.StatusOK {
			t.Errorf("/ready: %d %q %v", code, body, err)
		}
		if code, body, err := deployGet(base + local.health + "/health"); err != nil || code != http.StatusOK {
			t.Errorf("/health: %d %q %v", code, body, err)
		}
		code, body, err := deployGet(base + local.metrics + "/metrics")
		if err != nil || code != http.StatusOK {
			t.Fatalf("/metrics: %d %v", code, err)
		}
		for _, metric := range []string{"coredns_ipsecoe_keys{", "coredns_ipsecoe_records{", "coredns_ipsecoe_responses_total{", "coredns_dnssec_cache_"} {
			if !strings.Contains(body, metric) {
				t.Errorf("/metrics has no %s", metric)
			}
		}
	})
}

// deployLastLine returns the last non-comment line of a dnssec-keygen .key file.
func deployLastLine(b []byte) []byte {
	var last []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 && l[0] != ';' {
			last = l
		}
	}
	return last
}

// deployOwner is the owner of a bare key file, by the key directory's file name rule.
func deployOwner(t *testing.T, file string) string {
	t.Helper()
	name := strings.TrimSuffix(file, filepath.Ext(file))
	for _, s := range []string{name, strings.ReplaceAll(name, "-", ":")} {
		if a, err := netip.ParseAddr(s); err == nil {
			r, _ := dns.ReverseAddr(a.String())
			return r
		}
	}
	return dns.Fqdn(name)
}

// deployStart runs the binary with conf and waits until /ready says 200 and name answers. It returns nil and the server's output when the server exits or never gets ready.
func deployStart(t *testing.T, bin, dig, dir, conf string, l deployLocal, name string) (*integServer, string) {
	t.Helper()
	s := &integServer{dig: dig, port: l.dns, log: &integSyncBuffer{}}
	cmd := exec.Command(bin, "-conf", conf)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting coredns: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		select {
		case <-exited:
			return
		default:
		}
		cmd.Process.Kill() // this server's own PID
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("coredns (pid %d) did not exit after kill", cmd.Process.Pid)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for range 300 {
		select {
		case <-exited:
			return nil, s.log.String()
		default:
		}
		if time.Now().After(deadline) {
			break
		}
		code, _, err := deployGet("http://127.0.0.1:" + l.ready + "/ready")
		if err == nil && code == http.StatusOK {
			out, err := s.run(3*time.Second, "+time=1", "+tries=1", name, "IPSECKEY")
			if err == nil && strings.Contains(out, "status: NOERROR") {
				t.Cleanup(func() {
					stop()
					if t.Failed() {
						t.Logf("coredns output:\n%s", s.log.String())
					}
				})
				return s, ""
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return nil, s.log.String()
}
