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

// BenchmarkFirstLoad is the first load of a key directory, as the plugin runs it: read and
// build under FirstLoadGC, the read's files let go of. It reports the memory the process held at the peak of
// the load (VmHWM, reset before each load) and settled after a collection (VmRSS), and
// their ratio. The directory is made once and kept, e.g. for a million keys on one core:
//
//	IPSECOE_BENCH_KEYS=1000000 IPSECOE_BENCH_DIR=/tmp/keys1m taskset -c 0 go test -run XXX -bench FirstLoad -benchtime 1x ./internal/index
func BenchmarkFirstLoad(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("IPSECOE_BENCH_KEYS")); err == nil && v > 0 {
		n = v
	}
	dir := os.Getenv("IPSECOE_BENCH_DIR")
	if dir == "" {
		dir = e2e.HostKeyDir(b, n)
	} else if empty(dir) {
		src := e2e.HostKeyDir(b, n)
		must(b, os.RemoveAll(dir))
		must(b, os.Rename(src, dir))
	}
	b.ResetTimer()
	var peak, settled float64
	for range b.N {
		b.StopTimer()
		runtime.GC()
		debug.FreeOSMemory()
		resetPeak()
		b.StartTimer()
		restore := FirstLoadGC()
		o := &Options{Precedence: 10, DANE: []keyfile.DANE{{Usage: 3, Selector: 1, Matching: 1}}, Ports: []uint16{500}}
		files, _, err := ReadDir(dir, nil, o, nil)
		if err != nil {
			b.Fatal(err)
		}
		ix := Build(files, o, nil)
		files = nil
		restore()
		b.StopTimer()
		if ix.records["IPSECKEY"] != n {
			b.Fatalf("%d records, want %d", ix.records["IPSECKEY"], n)
		}
		peak = procStatus("VmHWM")
		runtime.GC()
		debug.FreeOSMemory()
		settled = procStatus("VmRSS")
		runtime.KeepAlive(ix)
		b.StartTimer()
	}
	b.ReportMetric(peak/1024, "MiB-peak")
	b.ReportMetric(settled/1024, "MiB-settled")
	if settled > 0 {
		b.ReportMetric(peak/settled, "peak/settled")
	}
}

// empty reports whether dir has no entries, or is missing.
func empty(dir string) bool {
	d, err := os.Open(dir)
	if err != nil {
		return true
	}
	defer d.Close()
	names, _ := d.Readdirnames(1)
	return len(names) == 0
}

// resetPeak sets the process's VmHWM to its current VmRSS (Linux 4.0 and later; elsewhere
// it does nothing, and the peak is the process's).
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// procStatus reads a kB figure of /proc/self/status; 0 where there is none.
func procStatus(field string) float64 {
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
