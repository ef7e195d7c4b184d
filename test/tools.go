package test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RequireTools reports whether a missing program must fail a test rather than skip it:
// where CI or IPSECOE_REQUIRE_TOOLS is set (scripts/test.sh sets the latter).
func RequireTools() bool {
	return os.Getenv("IPSECOE_REQUIRE_TOOLS") != "" || os.Getenv("CI") != ""
}

// NeedTool returns the path of the program tool on PATH. When it is missing, the test
// skips with one line naming the Debian package pkg that provides it, or fails if
// RequireTools.
func NeedTool(t testing.TB, tool, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	if RequireTools() {
		t.Fatalf("%s not found (Debian package %s); scripts/test.sh installs it", tool, pkg)
	}
	t.Skipf("%s not found (Debian package %s); run scripts/test.sh", tool, pkg)
	return ""
}

// NeedUnbound returns the path of unbound, which Debian installs in /usr/sbin, often not on
// the PATH of a user; otherwise as NeedTool.
func NeedUnbound(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("unbound"); err == nil {
		return p
	}
	const sbin = "/usr/sbin/unbound"
	if fi, err := os.Stat(sbin); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return sbin
	}
	return NeedTool(t, "unbound", "unbound")
}

// Validators are the programs that sign zones and check signed answers.
type Validators struct {
	Dig, Delv, Keygen, Unbound string
}

// NeedValidators finds dig, delv, dnssec-keygen and unbound, as NeedTool does.
func NeedValidators(t testing.TB) Validators {
	t.Helper()
	return Validators{
		Dig:     NeedTool(t, "dig", "bind9-dnsutils"),
		Delv:    NeedTool(t, "delv", "bind9-dnsutils"),
		Keygen:  NeedTool(t, "dnssec-keygen", "bind9-utils"),
		Unbound: NeedUnbound(t),
	}
}

// Exec runs a program to its end, with a deadline, and returns its combined output. A
// timeout or a failure to run fails the test; an exit status does not.
func Exec(t testing.TB, timeout time.Duration, prog string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v\n%s", filepath.Base(prog), strings.Join(args, " "), timeout, out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(prog), strings.Join(args, " "), err, out)
	}
	return string(out)
}
