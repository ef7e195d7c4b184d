package index

import (
	"fmt"
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
