package ipsecoe

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

// TestInternalImports holds the internal packages to their import rules: neither the key
// file parser nor the index may depend on CoreDNS, caddy or Prometheus, directly or through
// another package of this module, so that they can be read, tested and used without a
// server. Packages outside the module (miekg/dns, golang.org/x) depend on none of them.
func TestInternalImports(t *testing.T) {
	const module = "github.com/ipsecoe/ipsecoe/"
	forbidden := []string{"github.com/coredns/", "github.com/prometheus/"}
	for _, start := range []string{"internal/keyfile", "internal/index"} {
		seen := map[string]bool{}
		var walk func(dir string)
		walk = func(dir string) {
			if seen[dir] {
				return
			}
			seen[dir] = true
			pkg, err := build.ImportDir(dir, 0)
			if err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			for _, imp := range pkg.Imports {
				for _, f := range forbidden {
					if strings.HasPrefix(imp, f) {
						t.Errorf("%s imports %s (from %s)", start, imp, dir)
					}
				}
				if rel, ok := strings.CutPrefix(imp, module); ok {
					if !strings.HasPrefix(rel, "internal/") {
						t.Errorf("%s imports %s (from %s): an internal package uses no other part of the plugin", start, imp, dir)
					}
					walk(filepath.FromSlash(rel))
				}
			}
		}
		walk(start)
		if len(seen) == 0 {
			t.Fatalf("%s: nothing read", start)
		}
	}
}
