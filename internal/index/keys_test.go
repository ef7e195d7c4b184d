package index

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

func TestReadKeyDir(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	rsa := e2e.Vector(t, "keys/rsa2048.pub.pem")
	ed := e2e.Vector(t, "keys/ed25519.pub.pem")
	e2e.WriteFile(t, filepath.Join(dir, "192.0.2.1.pem"), rsa)
	e2e.WriteFile(t, filepath.Join(dir, "sub", "deeper", "gw.example.com.pem"), ed)
	e2e.WriteFile(t, filepath.Join(dir, ".hidden.example.com.pem"), ed)
	e2e.WriteFile(t, filepath.Join(dir, ".git", "192.0.2.2.pem"), ed)
	e2e.WriteFile(t, filepath.Join(dir, "big.example.com.pem"), bytes.Repeat([]byte("x"), maxFileSize+1))
	e2e.WriteFile(t, filepath.Join(outside, "192.0.2.3.pem"), ed)
	e2e.WriteFile(t, filepath.Join(dir, "nonames.pem"), ed)
	must(t, os.Symlink(filepath.Join(dir, "192.0.2.1.pem"), filepath.Join(dir, "192.0.2.4.pem")))     // inside: followed
	must(t, os.Symlink(filepath.Join(outside, "192.0.2.3.pem"), filepath.Join(dir, "192.0.2.5.pem"))) // outside: refused
	must(t, os.Symlink(outside, filepath.Join(dir, "outdir")))                                        // outside dir: refused
	must(t, os.Symlink("loop-b", filepath.Join(dir, "loop-a.example.com.pem")))                       // loop: refused
	must(t, os.Symlink("loop-a.example.com.pem", filepath.Join(dir, "loop-b")))
	must(t, os.Symlink(dir, filepath.Join(dir, "sub", "up"))) // directory loop: visited once
	must(t, os.Symlink("missing", filepath.Join(dir, "dangling.example.com.pem")))

	files, err := readKeyDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := byPath(files)
	tests := []struct {
		path   string
		keys   int
		reason string
	}{
		{"192.0.2.1.pem", 1, ""},
		{"192.0.2.4.pem", 1, ""},
		{"sub/deeper/gw.example.com.pem", 1, ""},
		{"big.example.com.pem", 0, keyfile.ReasonSize},
		{"192.0.2.5.pem", 0, keyfile.ReasonSymlink},
		{"outdir", 0, keyfile.ReasonSymlink},
		{"loop-a.example.com.pem", 0, keyfile.ReasonSymlink},
		{"loop-b", 0, keyfile.ReasonSymlink},
		{"dangling.example.com.pem", 0, keyfile.ReasonSymlink},
		{"nonames.pem", 0, keyfile.ReasonOwner},
	}
	for i, tc := range tests {
		f := got[tc.path]
		if f == nil {
			t.Errorf("Test %d: %s not reported", i, tc.path)
			continue
		}
		if f.keyCount() != tc.keys || keyfile.Reason(f.Err) != tc.reason && (f.Err != nil || tc.reason != "") {
			t.Errorf("Test %d: %s: %d keys, err %v; want %d keys, reason %q", i, tc.path, f.keyCount(), f.Err, tc.keys, tc.reason)
		}
	}
	for p := range got {
		if strings.Contains(p, ".hidden") || strings.Contains(p, ".git") || strings.HasPrefix(p, "sub/up/") {
			t.Errorf("%s should have been skipped", p)
		}
	}
	if _, err := readKeyDir(filepath.Join(dir, "nope"), nil); err == nil {
		t.Error("a missing key directory is not an error")
	}
}

// TestRefusalChains keeps the system's error in a refusal: errors.Is still sees it.
func TestRefusalChains(t *testing.T) {
	dir := t.TempDir()
	e2e.WriteFile(t, filepath.Join(dir, "gw.example.com.pem"), e2e.Vector(t, "keys/ed25519.pub.pem"))
	must(t, os.Symlink(filepath.Join(dir, "gone.pem"), filepath.Join(dir, "dangling.example.com.pem")))
	files, err := readKeyDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "dangling.example.com.pem" {
			if !errors.Is(f.Err, fs.ErrNotExist) || keyfile.Reason(f.Err) != keyfile.ReasonSymlink {
				t.Errorf("dangling symlink: %v (reason %s); want fs.ErrNotExist in the chain", f.Err, keyfile.Reason(f.Err))
			}
			return
		}
	}
	t.Fatal("the dangling symlink was not reported")
}
