package index

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"
)

// TestReadOrder reads more files than one batch holds, on one worker and on several: the
// files come back in path order, each with its own key at its own name, and Build takes
// the read's arrays as they are.
func TestReadOrder(t *testing.T) {
	const n = 3*batchSize + 17
	dir := hostKeys(t, n)
	for _, procs := range []int{1, 4} {
		t.Run(fmt.Sprint(procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			files, _, err := ReadDir(dir, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != n {
				t.Fatalf("%d files, want %d", len(files), n)
			}
			for i, f := range files {
				if i > 0 && files[i-1].Path >= f.Path {
					t.Fatalf("file %d %q after %q", i, f.Path, files[i-1].Path)
				}
				if f.Err != nil || f.keyCount() != 1 {
					t.Fatalf("%s: %d keys, %v", f.Path, f.keyCount(), f.Err)
				}
			}
			stage := files[0].src
			ix := Build(files, &Options{}, nil)
			if ix != stage {
				t.Error("the read's arrays were copied")
			}
			for fid, f := range files {
				kinds, owners := ix.FileKeys(fid)
				want := filepath.Base(f.Path)
				want = want[:len(want)-len(".pem")] + "."
				if len(kinds) != 1 || len(owners) != 1 || owners[0] != want {
					t.Errorf("%s: keys %v at %v, want one at %s", f.Path, kinds, owners, want)
				}
				if f.src != ix || string(ix.fileRecs[fid].path.of(ix.blob)) != f.Path {
					t.Errorf("%s: not file %d of the index", f.Path, fid)
				}
			}
		})
	}
}

// TestUnchangedReread reads a directory again with nothing changed: every file comes back
// unchanged with its keys in the last read's index, and the read keeps no object of its
// own per file: the three allocations per file are the directory listing's entry and name,
// and the name handed to stat, none of them kept.
func TestUnchangedReread(t *testing.T) {
	const n = 2*batchSize + 5
	dir := hostKeys(t, n)
	files, _, err := ReadDir(dir, nil, nil, nil)
	must(t, err)
	prev := Build(files, &Options{}, nil)
	var again []*File
	allocs := testing.AllocsPerRun(3, func() {
		again, _, err = ReadDir(dir, prev, nil, NewPacer(1, nil))
	})
	must(t, err)
	if len(again) != n {
		t.Fatalf("%d files, want %d", len(again), n)
	}
	for i, f := range again {
		if !f.Same || f.src != prev || f.fid != int32(i) || f.Path != files[i].Path || f.keyCount() != 1 {
			t.Fatalf("%s: same %v, file %d of its index (want %d of the last read's), %d keys", f.Path, f.Same, f.fid, i, f.keyCount())
		}
	}
	if perFile := allocs / n; perFile > 3.5 {
		t.Errorf("%.1f allocations per unchanged file; want 3", perFile)
	}
}

// hostKeys makes a directory of n host keys, every fifth in a subdirectory: its files sort
// among the others.
func hostKeys(t *testing.T, n int) string {
	dir := t.TempDir()
	for i := range n {
		sub := ""
		if i%5 == 0 {
			sub = "sub"
		}
		e2e.WriteFile(t, filepath.Join(dir, sub, fmt.Sprintf("h%d.example.com.pem", i)), e2e.FakeRSAKey(t))
	}
	return dir
}

// TestReadWorkers checks how many goroutines a read runs: a paced one runs alone, and an
// unpaced one keeps readAhead files in reading even on one CPU.
func TestReadWorkers(t *testing.T) {
	tests := []struct {
		procs, batches int
		paced          bool
		want           int
	}{
		{1, 1000, false, readAhead},
		{1, 1000, true, 1},
		{1, 3, false, 3},
		{2 * readAhead, 1000, false, 2 * readAhead},
		{2 * readAhead, 1000, true, 1},
		{4, 0, false, 0},
	}
	for i, tc := range tests {
		prev := runtime.GOMAXPROCS(tc.procs)
		got := readWorkers(tc.batches, tc.paced)
		runtime.GOMAXPROCS(prev)
		if got != tc.want {
			t.Errorf("Test %d: %d CPUs, %d batches, paced %v: %d workers, want %d", i, tc.procs, tc.batches, tc.paced, got, tc.want)
		}
	}
}
