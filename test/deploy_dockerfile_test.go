package test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// deployInstructions reads a Dockerfile into its instructions, continued lines joined,
// comments dropped and runs of blanks made one.
func deployInstructions(data []byte) []string {
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
	return ins
}

// deployArgs returns the arguments of the instructions of a stage with keyword kw.
func deployArgs(stage []string, kw string) []string {
	var out []string
	for _, in := range stage {
		if k, rest, _ := strings.Cut(in, " "); strings.EqualFold(k, kw) {
			out = append(out, rest)
		}
	}
	return out
}

func TestDeployDockerfile(t *testing.T) {
	var stages [][]string
	for _, in := range deployInstructions(ReadFile(t, "Dockerfile")) {
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
	// The builder makes a static, stripped binary of cmd/coredns; out is where it goes.
	out := ""
	for _, run := range deployArgs(stages[0], "RUN") {
		if !strings.Contains(run, "go build") {
			continue
		}
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "./cmd/coredns"} {
			if !strings.Contains(run, want) {
				t.Errorf("build step %q lacks %s", run, want)
			}
		}
		if f := strings.Fields(run); slices.Index(f, "-o") >= 0 && slices.Index(f, "-o")+1 < len(f) {
			out = f[slices.Index(f, "-o")+1]
		}
	}
	if out == "" {
		t.Fatal("the builder stage does not go build a binary with -o")
	}

	last := stages[len(stages)-1]
	user := ""
	for _, u := range deployArgs(last, "USER") {
		user = u
	}
	if base := last[0]; user == "" && !strings.HasSuffix(base, ":nonroot") {
		t.Errorf("the final stage (%s) sets no USER", base)
	}
	if name, _, _ := strings.Cut(user, ":"); name == "root" || name == "0" {
		t.Errorf("the final stage runs as %s", user)
	}

	// The image runs the binary the builder made, with no arguments of its own: the
	// Deployment's give the Corefile.
	installed := ""
	for _, cp := range deployArgs(last, "COPY") {
		if f := strings.Fields(cp); len(f) == 3 && strings.HasPrefix(f[0], "--from=") && f[1] == out {
			installed = f[2]
		}
	}
	if installed == "" {
		t.Errorf("the final stage does not copy %s from the builder: %q", out, last)
	}
	entry := deployArgs(last, "ENTRYPOINT")
	var argv []string
	if len(entry) != 1 || json.Unmarshal([]byte(entry[0]), &argv) != nil || !slices.Equal(argv, []string{installed}) {
		t.Errorf("ENTRYPOINT %q, want the exec form running %s alone", entry, installed)
	}

	// It exposes DNS over UDP and TCP and the metrics, nothing else.
	var ports []string
	for _, e := range deployArgs(last, "EXPOSE") {
		for _, p := range strings.Fields(e) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			ports = append(ports, strings.ToLower(p))
		}
	}
	slices.Sort(ports)
	if want := []string{"53/tcp", "53/udp", "9153/tcp"}; !slices.Equal(ports, want) {
		t.Errorf("the final stage exposes %v, want %v", ports, want)
	}
}
