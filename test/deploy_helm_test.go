package test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"
)

// deployHelm is the part of the CoreDNS chart's values the test reads.
type deployHelm struct {
	Image struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"image"`
	ReplicaCount              int32             `json:"replicaCount"`
	PriorityClassName         string            `json:"priorityClassName"`
	K8sAppLabelOverride       string            `json:"k8sAppLabelOverride"`
	IsClusterService          bool              `json:"isClusterService"`
	Service                   map[string]string `json:"service"`
	Servers                   []HelmServer      `json:"servers"`
	PodSecurityContext        json.RawMessage   `json:"podSecurityContext"`
	SecurityContext           json.RawMessage   `json:"securityContext"`
	Resources                 json.RawMessage   `json:"resources"`
	TopologySpreadConstraints json.RawMessage   `json:"topologySpreadConstraints"`
	PodDisruptionBudget       json.RawMessage   `json:"podDisruptionBudget"`
	ExtraVolumes              json.RawMessage   `json:"extraVolumes"`
	ExtraVolumeMounts         json.RawMessage   `json:"extraVolumeMounts"`
	ReadinessProbe            struct {
		Enabled bool `json:"enabled"`
	} `json:"readinessProbe"`
	LivenessProbe struct {
		Enabled bool `json:"enabled"`
	} `json:"livenessProbe"`
}

// corefile is the Corefile the chart renders from the servers.
func (h *deployHelm) corefile() string {
	var b strings.Builder
	for _, s := range h.Servers {
		b.WriteString(s.Corefile())
	}
	return b.String()
}

// deployCanonical is a Corefile read into its blocks and written again, so that two
// Corefiles with the same blocks, plugins, arguments and options compare equal whatever
// their layout and comments; 0.0.0.0:9153 (the chart's spelling) is :9153.
func deployCanonical(t *testing.T, text string) string {
	t.Helper()
	blocks := deployParseCorefile(t, text)
	for _, b := range blocks {
		for i := range b.directives {
			d := &b.directives[i]
			for j := range d.args {
				d.args[j] = strings.TrimPrefix(d.args[j], "0.0.0.0")
			}
			for _, l := range d.block {
				for j := range l {
					l[j] = strings.TrimPrefix(l[j], "0.0.0.0")
				}
			}
		}
	}
	return deployRender(blocks)
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
	var h deployHelm
	if err := yaml.Unmarshal(ReadFile(t, "deploy", "helm", "values.yaml"), &h); err != nil {
		t.Fatalf("deploy/helm/values.yaml: %v", err)
	}
	m := deployLoad(t)
	dep, pod, c := m.deployPod(t)

	// The servers give the Corefile of the ConfigMap: the same blocks, plugins, arguments
	// and options, in the same order.
	if got, want := deployCanonical(t, h.corefile()), deployCanonical(t, m.corefileText(t)); got != want {
		t.Errorf("the chart would render a different Corefile:\n%s\nwant the ConfigMap's:\n%s", got, want)
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
