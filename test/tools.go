package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// RequireTools reports whether a missing program must fail a test rather than skip it:
// where CI or IPSECOE_REQUIRE_TOOLS is set (scripts/test.sh sets the latter).
func RequireTools() bool {
	return os.Getenv("IPSECOE_REQUIRE_TOOLS") != "" || os.Getenv("CI") != ""
}

// sbin are the directories where Debian installs system programs (ip, ipsec, unbound),
// which are often not on the PATH of a user.
var sbin = []string{"/usr/sbin", "/sbin"}

// ToolPath is the search path of NeedTool: PATH, then /usr/sbin and /sbin. A program that
// runs others by name (pluto's scripts run ipsec) is given it as its PATH.
func ToolPath() string {
	dirs := filepath.SplitList(os.Getenv("PATH"))
	for _, d := range sbin {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return strings.Join(dirs, string(os.PathListSeparator))
}

// lookTool returns the path of the first executable file named tool in the directories
// of ToolPath, or "".
func lookTool(tool string) string {
	for _, dir := range filepath.SplitList(ToolPath()) {
		if !filepath.IsAbs(dir) {
			continue // a relative PATH entry would depend on the test's directory
		}
		p := filepath.Join(dir, tool)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// NeedTool returns the path of the program tool, looked up in ToolPath. When it is
// missing, the test skips with one line naming the Debian package pkg that provides it, or
// fails if RequireTools.
func NeedTool(t testing.TB, tool, pkg string) string {
	t.Helper()
	if p := lookTool(tool); p != "" {
		return p
	}
	Missing(t, tool, pkg)
	return ""
}

// Missing ends the test for want of the program tool, from the Debian package pkg: it
// skips, with one line naming the package, or fails if RequireTools.
func Missing(t testing.TB, tool, pkg string) {
	t.Helper()
	if RequireTools() {
		t.Fatalf("%s not found (Debian package %s); scripts/test.sh installs it", tool, pkg)
	}
	t.Skipf("%s not found (Debian package %s); run scripts/test.sh", tool, pkg)
}

// Skip ends the test for want of what why names (a program, root, a build): it skips with
// why, or fails if RequireTools.
func Skip(t testing.TB, why string) {
	t.Helper()
	if RequireTools() {
		t.Fatal(why)
	}
	t.Skip(why)
}

// NeedRoot skips the test unless it runs as root, or fails it if RequireTools; why says
// what root is needed for.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root: "+why)
	}
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
		Unbound: NeedTool(t, "unbound", "unbound"),
	}
}

// Result is how a program ended: what it wrote on standard output and standard error, and
// its exit status.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// toolEnv is the environment of the programs the tests run: the test's own, with ToolPath
// as PATH, and env.
func toolEnv(env []string) []string {
	return append(append(os.Environ(), "PATH="+ToolPath()), env...)
}

// run runs prog to its end with a deadline, env added to its environment, its output into
// stdout and stderr (which may be one buffer), and returns its exit status. A timeout or a
// failure to run fails the test.
func run(t testing.TB, timeout time.Duration, env []string, stdout, stderr *bytes.Buffer, prog string, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = toolEnv(env)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		output := stdout.String()
		if stderr != stdout {
			output += stderr.String()
		}
		t.Fatalf("%s %s: timed out after %v\n%s", filepath.Base(prog), strings.Join(args, " "), timeout, output)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %s: %v\n%s", filepath.Base(prog), strings.Join(args, " "), err, stdout)
	}
	return 0
}

// Run runs a program to its end, with a deadline, and returns how it ended. A timeout or
// a failure to run fails the test; an exit status does not. The program's PATH is
// ToolPath.
func Run(t testing.TB, timeout time.Duration, prog string, args ...string) Result {
	t.Helper()
	return RunEnv(t, timeout, nil, prog, args...)
}

// RunEnv is Run with env ("NAME=value") added to the program's environment.
func RunEnv(t testing.TB, timeout time.Duration, env []string, prog string, args ...string) Result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t, timeout, env, &out, &errOut, prog, args...)
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// Must runs a program that must exit 0 within a minute and returns its standard output.
func Must(t testing.TB, prog string, args ...string) string {
	t.Helper()
	r := Run(t, time.Minute, prog, args...)
	if r.Code != 0 {
		t.Fatalf("%s %s: %s", filepath.Base(prog), strings.Join(args, " "), r)
	}
	return r.Stdout
}

// Exec runs a program as Run does and returns its standard output and standard error
// together, as the program wrote them.
func Exec(t testing.TB, timeout time.Duration, prog string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	run(t, timeout, nil, &out, &out, prog, args...)
	return out.String()
}
