package index

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	e2e "github.com/ipsecoe/ipsecoe/test"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

func BenchmarkBuildIndex(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			if testing.Short() && n > 10_000 {
				b.Skip("large key sets only without -short")
			}
			dir := e2e.HostKeyDir(b, n)
			b.ResetTimer()
			for range b.N {
				o := &Options{Precedence: 10, DANE: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}}
				files, _, err := ReadDir(dir, nil, o, nil)
				if err != nil {
					b.Fatal(err)
				}
				ix := Build(files, o, nil)
				if ix.records["IPSECKEY"] != n {
					b.Fatalf("%d records, want %d", ix.records["IPSECKEY"], n)
				}
			}
		})
	}
}

// BenchmarkArena weighs the off-heap block against the same packed index left on the Go
// heap: lookups with their answers' records (ns/op), and the memory the process holds after
// the build and the answers, at the peak (VmHWM) and settled after a collection (VmRSS).
// Each mode in a process of its own, on one key directory, e.g. for a million keys:
//
//	IPSECOE_BENCH_KEYS=1000000 IPSECOE_BENCH_DIR=/tmp/keys go test -run XXX -bench 'Arena/heap' ./internal/index
//	IPSECOE_BENCH_KEYS=1000000 IPSECOE_BENCH_DIR=/tmp/keys go test -run XXX -bench 'Arena/offheap' ./internal/index
func BenchmarkArena(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("IPSECOE_BENCH_KEYS")); err == nil && v > 0 {
		n = v
	}
	dir := os.Getenv("IPSECOE_BENCH_DIR")
	if dir == "" {
		dir = e2e.HostKeyDir(b, n)
	} else if entries, _ := os.ReadDir(dir); len(entries) == 0 {
		src := e2e.HostKeyDir(b, n)
		must(b, os.RemoveAll(dir))
		must(b, os.Rename(src, dir))
	}
	for _, mode := range []string{"heap", "offheap"} {
		b.Run(mode, func(b *testing.B) {
			defer func(v bool) { onHeap = v }(onHeap)
			onHeap = mode == "heap"
			o := &Options{Precedence: 10, DANE: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}}
			files, _, err := ReadDir(dir, nil, o, nil)
			if err != nil {
				b.Fatal(err)
			}
			ix := Build(files, o, nil)
			files = nil
			runtime.GC()
			names := make([]string, 0, 4096)
			for i := 0; i < ix.Names() && len(names) < cap(names); i += 1 + ix.Names()/cap(names) {
				names = append(names, ix.Name(i))
			}
			var buf [4]Record
			b.ResetTimer()
			for i := range b.N {
				nd, _ := ix.Lookup(names[i%len(names)])
				_ = nd.IPSECKEYs(buf[:0])
			}
			b.StopTimer()
			b.ReportMetric(procStatus(b, "VmHWM")/1024, "MiB-peak")
			runtime.GC()
			debug.FreeOSMemory()
			b.ReportMetric(procStatus(b, "VmRSS")/1024, "MiB-settled")
			runtime.KeepAlive(ix)
		})
	}
}

// procStatus reads a kB figure of /proc/self/status; 0 where there is none.
func procStatus(b *testing.B, field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb
		}
	}
	return 0
}
