package ipsecoe

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/core/dnsserver"
	e2e "github.com/ipsecoe/ipsecoe/test"

	"sigs.k8s.io/yaml"
)

// Where Corefiles are found: fenced blocks of a Markdown file, a whole file, the Corefile of a
// ConfigMap, or the servers of the CoreDNS Helm chart's values.
const (
	readmeMarkdown = iota
	readmeCorefile
	readmeConfigMap
	readmeHelm
)

// readmeConf is one Corefile as the project shows it.
type readmeConf struct {
	file string
	line int // the line of file where the Corefile's first line is
	text string
}

// TestReadme parses every Corefile the project shows, as CoreDNS's own test/readme_test.go
// does for its plugins: with CoreDNS's Corefile parser and, for every ipsecoe block, the
// plugin's own parse with the server block's keys. A snippet that CoreDNS would refuse fails
// the test, naming its file and line.
func TestReadme(t *testing.T) {
	tests := []struct {
		path    string
		kind    int
		dnssec  bool // also run dnssec's setup: the key files it names are in the repository
		atLeast int  // ipsecoe blocks to find, so that the test cannot pass on nothing
	}{
		{path: "README.md", kind: readmeMarkdown, atLeast: 2},
		{path: "docs/dnssec.md", kind: readmeMarkdown, atLeast: 1},
		{path: "docs/design.md", kind: readmeMarkdown, atLeast: 1},
		{path: "docs/kubernetes.md", kind: readmeMarkdown},
		{path: "docs/opportunistic-encryption.md", kind: readmeMarkdown},
		{path: "examples/Corefile", kind: readmeCorefile, atLeast: 1},
		{path: "examples/signed/Corefile", kind: readmeCorefile, dnssec: true, atLeast: 1},
		{path: "deploy/kubernetes/configmap-corefile.yaml", kind: readmeConfigMap, atLeast: 3},
		{path: "deploy/helm/values.yaml", kind: readmeHelm, atLeast: 3},
	}
	// Every other Markdown file of the repository, in case a Corefile is added to one.
	listed := map[string]bool{}
	for _, tc := range tests {
		listed[tc.path] = true
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir // .git, bench/.work
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") && !listed[filepath.ToSlash(path)] {
			tests = append(tests, struct {
				path    string
				kind    int
				dnssec  bool
				atLeast int
			}{path: filepath.ToSlash(path), kind: readmeMarkdown})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for i, tc := range tests {
		data, err := os.ReadFile(filepath.FromSlash(tc.path))
		if err != nil {
			t.Errorf("Test %d: %v", i, err)
			continue
		}
		var confs []readmeConf
		switch tc.kind {
		case readmeMarkdown:
			confs = readmeFenced(tc.path, string(data))
		case readmeCorefile:
			confs = []readmeConf{{file: tc.path, line: 1, text: string(data)}}
		case readmeConfigMap:
			confs, err = readmeFromConfigMap(tc.path, data)
		case readmeHelm:
			confs, err = readmeFromHelm(tc.path, data)
		}
		if err != nil {
			t.Errorf("Test %d: %s: %v", i, tc.path, err)
			continue
		}
		found := 0
		for _, conf := range confs {
			n, err := readmeCheck(conf, tc.dnssec)
			if err != nil {
				t.Errorf("Test %d: %s:%d: %v", i, conf.file, conf.line, err)
			}
			found += n
		}
		if found < tc.atLeast {
			t.Errorf("Test %d: %s: %d ipsecoe blocks found, want at least %d", i, tc.path, found, tc.atLeast)
		}
	}
}

// readmeCheck parses one Corefile as CoreDNS does and runs the plugin's parse on each of its
// ipsecoe blocks, returning how many there are. Line numbers in errors are those of the file.
func readmeCheck(conf readmeConf, withDnssec bool) (int, error) {
	directives := dnsserver.Directives
	if !slices.Contains(directives, name) {
		directives = append(slices.Clone(directives), name) // cmd/coredns adds it
	}
	// Blank lines in front, so that the parser counts lines as the file does.
	text := strings.Repeat("\n", conf.line-1) + conf.text
	blocks, err := caddyfile.Parse(conf.file, strings.NewReader(text), directives)
	if err != nil {
		return 0, err
	}
	// The server type normalizes the keys ("example.org:53", "192.0.2.0/24") as it does when
	// CoreDNS starts, and makes the config each block's plugins see.
	c := caddy.NewTestController("dns", "")
	if blocks, err = c.Context().InspectServerBlocks(conf.file, blocks); err != nil {
		return 0, err
	}
	found := 0
	for ib, sb := range blocks {
		c.ServerBlockIndex, c.ServerBlockKeyIndex, c.ServerBlockKeys = ib, 0, sb.Keys
		if toks := sb.Tokens["dnssec"]; withDnssec && len(toks) > 0 {
			setup, err := caddy.DirectiveAction("dns", "dnssec")
			if err != nil {
				return found, err
			}
			c.Dispenser = caddyfile.NewDispenserTokens(conf.file, toks)
			if err := setup(c); err != nil {
				return found, err
			}
		}
		toks := sb.Tokens[name]
		if len(toks) == 0 {
			continue
		}
		found++
		c.Dispenser = caddyfile.NewDispenserTokens(conf.file, toks)
		p, err := parse(c)
		if err != nil {
			return found, err
		}
		// What the plugin refuses when the server starts, once the block's chain exists.
		if p.allowAt != "" && len(sb.Tokens["cache"]) > 0 {
			return found, fmt.Errorf("%s - allow cannot be used with cache in the same server block", p.allowAt)
		}
	}
	return found, nil
}

// readmeFenced returns the fenced blocks of a Markdown text whose info string is "corefile"
// (~~~ corefile or ```corefile), each with the line its first line is on.
func readmeFenced(file, text string) []readmeConf {
	var out []readmeConf
	var cur *readmeConf
	fence, indent := "", ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur == nil {
			if fence == "" {
				for _, f := range []string{"~~~", "```"} {
					if strings.HasPrefix(trimmed, f) {
						fence = f
						if strings.EqualFold(strings.TrimSpace(strings.TrimLeft(trimmed, f[:1])), "corefile") {
							cur = &readmeConf{file: file, line: n + 1}
							indent = line[:len(line)-len(strings.TrimLeft(line, " \t"))]
						}
						break
					}
				}
			} else if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "" {
				fence = "" // the end of a block of another language
			}
			continue
		}
		if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "" {
			out = append(out, *cur)
			cur, fence = nil, ""
			continue
		}
		cur.text += strings.TrimPrefix(line, indent) + "\n"
	}
	return out
}

// readmeFromConfigMap returns the Corefile of a ConfigMap manifest. Its line is that of the
// "Corefile: |" key plus one, where the block's text begins.
func readmeFromConfigMap(file string, data []byte) ([]readmeConf, error) {
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(data, &cm); err != nil {
		return nil, err
	}
	text, ok := cm.Data["Corefile"]
	if !ok {
		return nil, fmt.Errorf("no data.Corefile")
	}
	line := 1
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "Corefile:") {
			line = i + 2
			break
		}
	}
	return []readmeConf{{file: file, line: line, text: text}}, nil
}

// readmeFromHelm renders the servers of the CoreDNS chart's values as the chart's ConfigMap
// template does, one Corefile per server, at the line of its entry.
func readmeFromHelm(file string, data []byte) ([]readmeConf, error) {
	var values struct {
		Servers []e2e.HelmServer `json:"servers"`
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		return nil, err
	}
	var starts []int // the lines where a server's entry begins
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "- zones:") {
			starts = append(starts, i+1)
		}
	}
	var out []readmeConf
	for i, s := range values.Servers {
		line := 1
		if i < len(starts) {
			line = starts[i]
		}
		out = append(out, readmeConf{file: file + " (rendered)", line: line, text: s.Corefile()})
	}
	return out, nil
}
