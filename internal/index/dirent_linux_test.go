package index

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// dirent is one linux_dirent64 as getdents64 writes it, its record length rounded up to 8.
func dirent(ino uint64, typ byte, name string) []byte {
	n := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, n)
	binary.NativeEndian.PutUint64(b, ino)
	binary.NativeEndian.PutUint16(b[16:], uint16(n))
	b[18] = typ
	copy(b[19:], name)
	return b
}

func TestEachDirent(t *testing.T) {
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	tests := []struct {
		name string
		buf  []byte
		want []string // name:r for a regular file, name:- otherwise
		bad  bool
	}{
		{"empty", nil, nil, false},
		{"files and a directory", cat(dirent(1, syscall.DT_REG, "a.pem"), dirent(2, syscall.DT_DIR, "sub"), dirent(3, syscall.DT_LNK, "l.pem"), dirent(4, syscall.DT_UNKNOWN, "u.pem")), []string{"a.pem:r", "sub:-", "l.pem:-", "u.pem:-"}, false},
		{"dot entries and a freed one skipped", cat(dirent(1, syscall.DT_DIR, "."), dirent(1, syscall.DT_DIR, ".."), dirent(0, syscall.DT_REG, "gone.pem"), dirent(5, syscall.DT_REG, "k.pem")), []string{"k.pem:r"}, false},
		{"name of the longest length", dirent(6, syscall.DT_REG, strings.Repeat("x", 255)), []string{strings.Repeat("x", 255) + ":r"}, false},
		{"short header", make([]byte, 18), nil, true},
		{"record length past the buffer", dirent(7, syscall.DT_REG, "k.pem")[:24], nil, true},
		{"record length zero", make([]byte, 24), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := eachDirent(tc.buf, func(name string, regular bool) {
				got = append(got, name+map[bool]string{true: ":r", false: ":-"}[regular])
			})
			if (err != nil) != tc.bad {
				t.Fatalf("error %v, want one: %v", err, tc.bad)
			}
			if !tc.bad && !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEachEntryMatchesReadDir lists a real directory of several buffers' worth of entries,
// with a subdirectory, a symlink and a FIFO, as os.ReadDir does.
func TestEachEntryMatchesReadDir(t *testing.T) {
	dir := t.TempDir()
	for i := range 3000 {
		name := fmt.Sprintf("%s-%04d.pem", strings.Repeat("n", 40), i)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(t, os.Symlink("sub", filepath.Join(dir, "link")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))

	entries, err := os.ReadDir(dir)
	must(t, err)
	var want []string
	for _, e := range entries {
		want = append(want, fmt.Sprint(e.Name(), e.Type().IsRegular()))
	}
	d, err := os.Open(dir)
	must(t, err)
	defer d.Close()
	var got []string
	must(t, eachEntry(d, func(name string, regular bool) { got = append(got, fmt.Sprint(name, regular)) }))
	slices.Sort(got)
	if len(got) < 3003 || !slices.Equal(got, want) {
		t.Errorf("eachEntry listed %d entries, os.ReadDir %d; they differ: %v", len(got), len(want), !slices.Equal(got, want))
	}
}
