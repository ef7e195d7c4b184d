package test

// The deploy tests hold the shipped deployment to what it claims: every manifest under
// deploy/kubernetes decodes strictly into its Kubernetes type and is wired to the others
// (volumes, Secrets, ConfigMaps, RBAC, selectors) with the security settings it promises;
// the Helm values give the same Corefile and Pod; the Dockerfile builds a static, non-root
// image; and the shipped Corefile starts in the real binary and answers, signed and
// validated, with its kubernetes plugin talking to a stand-in API server. They check what
// the objects mean, decoded, never how the YAML is written.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
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

	metadata map[string][]metav1.ObjectMeta // of every object, by kind
}

// deployLoad reads and strictly decodes every YAML document under deploy/kubernetes.
func deployLoad(t *testing.T) *deployManifests {
	t.Helper()
	m := &deployManifests{
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		services: map[string]*corev1.Service{}, serviceAccounts: map[string]*corev1.ServiceAccount{},
		deployments: map[string]*appsv1.Deployment{}, clusterRoles: map[string]*rbacv1.ClusterRole{},
		bindings: map[string]*rbacv1.ClusterRoleBinding{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		certificates: map[string]*deployCertificate{}, metadata: map[string][]metav1.ObjectMeta{},
	}
	dir := Repo("deploy", "kubernetes")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
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
			var meta metav1.ObjectMeta
			switch gvk := tm.APIVersion + "/" + tm.Kind; gvk {
			case "v1/ConfigMap":
				meta = deployDecode(t, where, doc, m.configMaps)
			case "v1/Secret":
				meta = deployDecode(t, where, doc, m.secrets)
			case "v1/Service":
				meta = deployDecode(t, where, doc, m.services)
			case "v1/ServiceAccount":
				meta = deployDecode(t, where, doc, m.serviceAccounts)
			case "apps/v1/Deployment":
				meta = deployDecode(t, where, doc, m.deployments)
			case "rbac.authorization.k8s.io/v1/ClusterRole":
				meta = deployDecode(t, where, doc, m.clusterRoles)
			case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
				meta = deployDecode(t, where, doc, m.bindings)
			case "policy/v1/PodDisruptionBudget":
				meta = deployDecode(t, where, doc, m.pdbs)
			case "cert-manager.io/v1/Certificate":
				meta = deployDecode(t, where, doc, m.certificates)
			default:
				t.Fatalf("%s: unexpected kind %s", where, gvk)
			}
			if meta.Name == "" {
				t.Fatalf("%s: %s without a name", where, tm.Kind)
			}
			m.metadata[tm.Kind] = append(m.metadata[tm.Kind], meta)
		}
	}
	return m
}

// deployDecode decodes doc strictly (unknown or duplicate fields fail) into a new T, files
// it by name in into and returns its metadata.
func deployDecode[T any](t *testing.T, where string, doc []byte, into map[string]*T) metav1.ObjectMeta {
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
	return meta.Metadata
}

// deployOne returns the only object of a kind.
func deployOne[T any](t *testing.T, kind string, objs map[string]*T) *T {
	t.Helper()
	if len(objs) != 1 {
		t.Fatalf("want exactly one %s in deploy/kubernetes, have %d", kind, len(objs))
	}
	for _, o := range objs {
		return o
	}
	return nil
}

// deploySecretData returns a Secret's entries, stringData and data merged, as the API would.
func deploySecretData(s *corev1.Secret) map[string][]byte {
	out := maps.Clone(s.Data)
	if out == nil {
		out = map[string][]byte{}
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

// corefileText is the Corefile of the coredns ConfigMap that the Deployment mounts.
func (m *deployManifests) corefileText(t *testing.T) string {
	t.Helper()
	cm := m.configMaps["coredns"]
	if cm == nil || cm.Data["Corefile"] == "" {
		t.Fatal("no ConfigMap coredns with a Corefile")
	}
	return cm.Data["Corefile"]
}

// deployPod returns the Deployment, its Pod and its one container.
func (m *deployManifests) deployPod(t *testing.T) (*appsv1.Deployment, *corev1.PodSpec, *corev1.Container) {
	t.Helper()
	dep := deployOne(t, "Deployment", m.deployments)
	pod := &dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Containers))
	}
	return dep, pod, &pod.Containers[0]
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
