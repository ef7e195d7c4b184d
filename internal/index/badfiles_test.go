package index

import (
	"os"
	"strings"
	"testing"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
	e2e "github.com/ipsecoe/ipsecoe/test"
)

// TestBadCorpusReasons loads every file of testdata/bad and checks it is refused, for the
// reason the table of the test package gives, without quoting the file.
func TestBadCorpusReasons(t *testing.T) {
	entries, err := os.ReadDir(e2e.Repo("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	badCorpus := e2e.BadFiles()
	if len(entries) != len(badCorpus) {
		t.Errorf("testdata/bad has %d files, the table %d", len(entries), len(badCorpus))
	}
	files, err := readKeyDir(e2e.Repo("testdata", "bad"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		want, ok := badCorpus[f.Path]
		if !ok {
			t.Errorf("%s: not in the table", f.Path)
			continue
		}
		if f.Err == nil || f.keyCount() != 0 || keyfile.Reason(f.Err) != want {
			t.Errorf("%s: %d keys, %v (reason %s); want refused for %s", f.Path, f.keyCount(), f.Err, keyfile.Reason(f.Err), want)
		}
		if strings.Contains(f.Err.Error(), "BEGIN") || strings.Contains(f.Err.Error(), "MII") {
			t.Errorf("%s: the error quotes the file: %v", f.Path, f.Err)
		}
	}
}
