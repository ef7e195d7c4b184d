// Package test holds the end-to-end tests of ipsecoe and the harness they share: it builds
// the CoreDNS binary of cmd/coredns (and the ipsecoe command) once per test run, starts
// servers on free ports of 127.0.0.1 and waits for them to answer, asks them with dig,
// validates with delv and unbound, lays out key directories the way the kubelet does, and
// stands in for the Kubernetes API.
//
// The tests drive real programs, found on PATH or in /usr/sbin and /sbin. A test whose
// program is missing, or that needs root and is not, skips with one line naming the Debian
// package to install (or root), unless CI or IPSECOE_REQUIRE_TOOLS is set: then it fails.
//
// The package does not import the plugin: the plugin is what the binary runs. The harness
// files (those without _test in their name) import neither CoreDNS nor the plugin, so the
// tests of other packages of the module may use them too.
package test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// module is the path of the repository's Go module.
const module = "github.com/ipsecoe/ipsecoe"

var repo struct {
	once sync.Once
	dir  string
}

// Repo returns the absolute path of elem inside the repository: the first directory above
// the working directory that holds the module's go.mod. It panics outside the repository.
func Repo(elem ...string) string {
	repo.once.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			panic(err)
		}
		for {
			b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && bytes.HasPrefix(b, []byte("module "+module+"\n")) {
				repo.dir = dir
				return
			}
			up := filepath.Dir(dir)
			if up == dir {
				panic("test: not inside the " + module + " repository")
			}
			dir = up
		}
	})
	return filepath.Join(append([]string{repo.dir}, elem...)...)
}

// ReadFile returns the content of a file of the repository, e.g. ReadFile(t, "examples",
// "Corefile").
func ReadFile(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(Repo(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Testdata returns the content of testdata/name.
func Testdata(t testing.TB, name string) []byte {
	t.Helper()
	return ReadFile(t, "testdata", name)
}

// Vector returns the content of testdata/vectors/name: keys and certificates whose record
// bytes other tools confirmed (testdata/README.md).
func Vector(t testing.TB, name string) []byte {
	t.Helper()
	return ReadFile(t, "testdata", "vectors", name)
}

// WriteFile writes data to path, making its directory first.
func WriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Vectors is the part of testdata/vectors/vectors.json the tests read.
type Vectors struct {
	Cases     []VectorCase `json:"cases"`
	BadInputs []struct {
		File  string `json:"file"`
		Naive *struct {
			Alg    int    `json:"alg"`
			KeyB64 string `json:"key_b64"`
		} `json:"naive_derived_ipseckey"`
	} `json:"bad_inputs"`
}

// VectorCase is one record of the vectors: the key file it is made from, its header and
// its RDATA.
type VectorCase struct {
	ID          string `json:"id"`
	KeyFile     string `json:"key_file"`
	Algorithm   uint8  `json:"algorithm"`
	KeyB64      string `json:"key_b64"`
	Precedence  int    `json:"precedence"`
	GatewayType int    `json:"gateway_type"`
	WireHex     string `json:"wire_hex"`
	RFC3597     string `json:"rfc3597"`
}

// LoadVectors reads testdata/vectors/vectors.json.
func LoadVectors(t testing.TB) *Vectors {
	t.Helper()
	v := &Vectors{}
	if err := json.Unmarshal(Vector(t, "vectors.json"), v); err != nil {
		t.Fatalf("vectors.json: %v", err)
	}
	return v
}

// Wire returns the RDATA of case id, in lower-case hex.
func (v *Vectors) Wire(t testing.TB, id string) string {
	t.Helper()
	for _, c := range v.Cases {
		if c.ID == id && c.WireHex != "" {
			return strings.ToLower(c.WireHex)
		}
	}
	t.Fatalf("vectors.json has no case %s", id)
	return ""
}

// Key returns the IPSECKEY algorithm and base64 key field of a key file of the vectors.
func (v *Vectors) Key(t testing.TB, file string) (algorithm uint8, b64 string) {
	t.Helper()
	for _, c := range v.Cases {
		if c.KeyFile == file && c.KeyB64 != "" {
			return c.Algorithm, c.KeyB64
		}
	}
	t.Fatalf("vectors.json has no key of %s", file)
	return 0, ""
}
