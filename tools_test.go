package ipsecoe

import (
	"os"
	"os/exec"
	"testing"
)

// needTool returns the path of an external program a test drives. Where the test command
// or CI runs (IPSECOE_REQUIRE_TOOLS or CI set), a missing tool fails the test; elsewhere
// it skips, saying which Debian package provides it.
func needTool(t testing.TB, tool, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	if os.Getenv("IPSECOE_REQUIRE_TOOLS") != "" || os.Getenv("CI") != "" {
		t.Fatalf("%s not found (Debian package %s); scripts/test.sh installs it", tool, pkg)
	}
	t.Skipf("%s not found (Debian package %s); run scripts/test.sh", tool, pkg)
	return ""
}
