package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// KeyDir is a key directory laid out as the kubelet projects a ConfigMap or Secret volume:
// the files in a timestamped folder ..TIMESTAMP, ..data a symlink to that folder, and each
// visible name a symlink through ..data. Swap replaces the content at once, as the kubelet
// does: a new folder, then ..data renamed over.
type KeyDir struct {
	Path string

	t     testing.TB
	stamp int
}

// NewKeyDir makes the key directory path holding files (name -> content; a name may have a
// folder, whose top is then the visible symlink).
func NewKeyDir(t testing.TB, path string, files map[string][]byte) *KeyDir {
	t.Helper()
	k := &KeyDir{Path: path, t: t}
	k.Swap(files)
	return k
}

// Swap writes files into a new timestamped folder, points ..data at it atomically, and
// removes the previous folder and the visible names it no longer has.
func (k *KeyDir) Swap(files map[string][]byte) {
	t := k.t
	t.Helper()
	k.stamp++
	ts := fmt.Sprintf("..2026_11_22_15_04_05.%09d", k.stamp)
	visible := map[string]bool{}
	for name, data := range files {
		WriteFile(t, filepath.Join(k.Path, ts, name), data)
		visible[strings.Split(filepath.ToSlash(name), "/")[0]] = true
	}
	for name := range visible {
		if _, err := os.Lstat(filepath.Join(k.Path, name)); err != nil {
			k.must(os.Symlink(filepath.Join("..data", name), filepath.Join(k.Path, name)))
		}
	}
	data, tmp := filepath.Join(k.Path, "..data"), filepath.Join(k.Path, "..data_tmp")
	old, _ := os.Readlink(data)
	k.must(os.Symlink(ts, tmp))
	k.must(os.Rename(tmp, data)) // the atomic step
	if old != "" {
		k.must(os.RemoveAll(filepath.Join(k.Path, old)))
	}
	entries, err := os.ReadDir(k.Path)
	k.must(err)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") && !visible[e.Name()] {
			k.must(os.Remove(filepath.Join(k.Path, e.Name())))
		}
	}
}

func (k *KeyDir) must(err error) {
	k.t.Helper()
	if err != nil {
		k.t.Fatal(err)
	}
}
