//go:build linux

package index

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	e2e "github.com/ipsecoe/ipsecoe/test"
)

func TestHugeRange(t *testing.T) {
	for _, tc := range []struct {
		start, n, off, size uintptr
	}{
		{0, 4 * hugePage, 0, 4 * hugePage},
		{hugePage, 2*hugePage - 1, 0, hugePage},
		{1, 2 * hugePage, hugePage - 1, hugePage},
		{1, 2*hugePage - 1, hugePage - 1, hugePage},
		{1, 2*hugePage - 2, 0, 0},
		{4096, hugePage, 0, 0},
		{hugePage - 4096, 3*hugePage + 8192, 4096, 3 * hugePage},
	} {
		off, size := hugeRange(tc.start, tc.n)
		if off != tc.off || size != tc.size {
			t.Errorf("hugeRange(%#x, %#x) = %#x, %#x, want %#x, %#x", tc.start, tc.n, off, size, tc.off, tc.size)
		}
	}
}

// TestBuildBacksHuge: the blob of an index of 16,384 keys (about 8 MiB) is backed by huge
// pages once built, where the kernel has them.
func TestBuildBacksHuge(t *testing.T) {
	thp, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(thp), "[never]") {
		if os.Getenv("CI") != "" {
			t.Fatalf("transparent huge pages are off on this machine (%q, %v)", thp, err)
		}
		t.Skipf("transparent huge pages are off on this machine (%q, %v)", thp, err)
	}
	dir := e2e.HostKeyDir(t, 16384)
	o := &Options{Precedence: 10}
	files, _, err := ReadDir(dir, nil, o, nil)
	must(t, err)
	ix := Build(files, o, nil)
	p := unsafe.Pointer(unsafe.SliceData(ix.blob))
	_, size := hugeRange(uintptr(p), uintptr(len(ix.blob)))
	if size < hugePage {
		t.Fatalf("blob of %d octets holds no whole huge page", len(ix.blob))
	}
	kb, err := anonHugeKB(uintptr(p))
	must(t, err)
	if kb*1024 < uint64(size) {
		t.Errorf("the mapping of the blob has %d KiB in huge pages, want at least the blob's %d KiB", kb, size/1024)
	}
}

// anonHugeKB is the AnonHugePages of the mapping of this process that holds addr.
func anonHugeKB(addr uintptr) (uint64, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if v, ok := strings.CutPrefix(line, "AnonHugePages:"); ok && in {
			var kb uint64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb, err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no mapping holds %#x", addr)
}
