package test

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// deployCheckVolumes checks the Pod's volumes: every mount read-only and of a volume that
// exists, every ConfigMap and Secret they read shipped (or made by the Certificate), the
// Corefile where -conf looks, the zone keys a private Secret, and the key directory a
// projected volume with the certificate but never its private key.
func deployCheckVolumes(t *testing.T, m *deployManifests, pod *corev1.PodSpec, c *corev1.Container) {
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
	// Every ConfigMap and Secret the Pod reads exists: in the manifests, or as the Secret a
	// Certificate makes.
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
	dv := vols[deployMountOf(t, c, "/etc/coredns/dnssec").Name]
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
}

// deployCheckSecrets checks the zone key Secret: placeholders only, and an entry for every
// key file the Corefile names, under its mount.
func deployCheckSecrets(t *testing.T, m *deployManifests, pod *corev1.PodSpec, c *corev1.Container) {
	dnssecVol := deployVolume(t, pod, deployMountOf(t, c, "/etc/coredns/dnssec").Name)
	if dnssecVol.Secret == nil {
		t.Fatal("/etc/coredns/dnssec is not a Secret volume")
	}
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
}
