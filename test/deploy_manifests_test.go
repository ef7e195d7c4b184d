package test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestDeployManifests(t *testing.T) {
	m := deployLoad(t)
	for _, kind := range []string{"ConfigMap", "Secret", "Service", "ServiceAccount", "Deployment",
		"ClusterRole", "ClusterRoleBinding", "PodDisruptionBudget", "Certificate"} {
		if len(m.metadata[kind]) == 0 {
			t.Errorf("no %s in deploy/kubernetes", kind)
		}
	}
	// Everything but the cluster-wide RBAC objects is in kube-system.
	for kind, metas := range m.metadata {
		if kind == "ClusterRole" || kind == "ClusterRoleBinding" {
			continue
		}
		for _, o := range metas {
			if o.Namespace != "kube-system" {
				t.Errorf("%s %s is in namespace %q, want kube-system", kind, o.Name, o.Namespace)
			}
		}
	}

	dep, pod, c := m.deployPod(t)
	podLabels := dep.Spec.Template.Labels
	if podLabels["k8s-app"] != "kube-dns" || dep.Spec.Selector == nil ||
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

	t.Run("volumes", func(t *testing.T) { deployCheckVolumes(t, m, pod, c) })
	t.Run("secrets", func(t *testing.T) { deployCheckSecrets(t, m, pod, c) })

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
