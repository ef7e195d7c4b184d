package ipsecoe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"
)

// TestBadCorpusReasons loads every file of testdata/bad and checks it is refused, for the
// reason the table of the test package gives, without quoting the file.
func TestBadCorpusReasons(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	badCorpus := e2e.BadFiles()
	if len(entries) != len(badCorpus) {
		t.Errorf("testdata/bad has %d files, the table %d", len(entries), len(badCorpus))
	}
	files, err := readKeyDir(filepath.Join("testdata", "bad"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		want, ok := badCorpus[f.path]
		if !ok {
			t.Errorf("%s: not in the table", f.path)
			continue
		}
		if f.err == nil || len(f.keys) != 0 || reasonOf(f.err) != want {
			t.Errorf("%s: %d keys, %v (reason %s); want refused for %s", f.path, len(f.keys), f.err, reasonOf(f.err), want)
		}
		if strings.Contains(f.err.Error(), "BEGIN") || strings.Contains(f.err.Error(), "MII") {
			t.Errorf("%s: the error quotes the file: %v", f.path, f.err)
		}
	}
}
