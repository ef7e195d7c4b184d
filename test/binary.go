package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// builds holds the programs built in this test run, in one temporary directory that Main
// removes when the tests are over.
var builds struct {
	mu   sync.Mutex
	main bool   // Main is running the tests
	dir  string // made at the first build
	done map[string]build
}

type build struct {
	path string
	err  error
}

// Main runs the tests of a package that uses CoreDNS or Command, then removes the programs
// built for them. Call it from TestMain:
//
//	func TestMain(m *testing.M) { test.Main(m) }
func Main(m *testing.M) {
	builds.mu.Lock()
	builds.main = true
	builds.mu.Unlock()
	code := m.Run()
	builds.mu.Lock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	builds.mu.Unlock()
	os.Exit(code)
}

// CoreDNS returns the path of the CoreDNS binary of cmd/coredns, built at its first use in
// the test run.
func CoreDNS(t testing.TB) string {
	t.Helper()
	return Build(t, "cmd/coredns")
}

// Command returns the path of the ipsecoe command of cmd/ipsecoe, built at its first use
// in the test run.
func Command(t testing.TB) string {
	t.Helper()
	return Build(t, "cmd/ipsecoe")
}

// Build returns the path of the module's package pkg (e.g. "cmd/coredns") built with the
// go build flags, building it the first time it is asked for in the test run. A failed
// build fails every test that asks for it, without building again.
func Build(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if !builds.main {
		t.Fatal("the package's TestMain must call test.Main, which removes the programs built")
	}
	key := strings.Join(append([]string{pkg}, flags...), "\x00")
	b, ok := builds.done[key]
	if !ok {
		b = goBuild(pkg, len(builds.done), flags)
		if builds.done == nil {
			builds.done = map[string]build{}
		}
		builds.done[key] = b
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// goBuild runs go build for pkg into the build directory, as its n-th program. The caller
// holds builds.mu.
func goBuild(pkg string, n int, flags []string) build {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return build{err: fmt.Errorf("go tool not found: %w", err)}
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "ipsecoe-test-")
		if err != nil {
			return build{err: fmt.Errorf("directory for the programs: %w", err)}
		}
		builds.dir = dir
	}
	out := filepath.Join(builds.dir, strconv.Itoa(n), path.Base(pkg))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return build{err: err}
	}
	// A cold build of CoreDNS with all its plugins takes minutes on a small machine.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := append(append([]string{"build", "-o", out}, flags...), module+"/"+pkg)
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = Repo()
	if b, err := cmd.CombinedOutput(); err != nil {
		return build{err: fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)}
	}
	return build{path: out}
}
