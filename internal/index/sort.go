package index

import (
	"cmp"
	"slices"
	"strings"
)

// radixMin is the fewest jobs sortJobs sorts by radix: below it, a comparison sort costs
// less than the radix sort's counting tables.
const radixMin = 1 << 14

// sortKey is a job's place in the sort: its first 16 path octets and its index in jobs.
type sortKey struct {
	head, next uint64
	i          uint32
}

// sortJobs returns jobs in path order. A million paths are sorted by their first 16 octets
// in a radix sort of 16 bits a pass, which skips the passes where every path has the same
// digit (the octets a directory's names share), at about a third of what a comparison sort
// costs; paths that share their first 16 octets are then compared whole.
func sortJobs(jobs []job, text string) []job {
	rel := func(j *job) string { return text[j.rel.off : j.rel.off+j.rel.n] }
	if len(jobs) < radixMin {
		slices.SortFunc(jobs, func(a, b job) int {
			if c := cmp.Compare(a.head, b.head); c != 0 {
				return c
			}
			if c := cmp.Compare(a.next, b.next); c != 0 {
				return c
			}
			return strings.Compare(rel(&a), rel(&b))
		})
		return jobs
	}
	keys := make([]sortKey, len(jobs))
	for i := range jobs {
		keys[i] = sortKey{jobs[i].head, jobs[i].next, uint32(i)}
	}
	keys = radixSort(keys)
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi].head == keys[lo].head && keys[hi].next == keys[lo].next {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(keys[lo:hi], func(a, b sortKey) int {
				return strings.Compare(rel(&jobs[a.i]), rel(&jobs[b.i]))
			})
		}
		lo = hi
	}
	permute(jobs, keys)
	return jobs
}

// permute moves jobs[keys[j].i] to jobs[j] for every j, in place, one cycle of the
// permutation at a time: a second array of jobs would add to the read's peak.
func permute(jobs []job, keys []sortKey) {
	const done = ^uint32(0)
	for j := range keys {
		if keys[j].i == done {
			continue
		}
		held, k := jobs[j], j
		for {
			src := keys[k].i
			keys[k].i = done
			if int(src) == j {
				jobs[k] = held
				break
			}
			jobs[k] = jobs[src]
			k = int(src)
		}
	}
}

// radixSort sorts keys by (head, next), least significant digit first, and returns them
// in keys or in the buffer it made.
func radixSort(keys []sortKey) []sortKey {
	buf := make([]sortKey, len(keys))
	var count [1 << 16]uint32
	for pass := range 8 {
		digit := func(k *sortKey) uint32 {
			if pass < 4 {
				return uint32(k.next>>(16*pass)) & 0xffff
			}
			return uint32(k.head>>(16*(pass-4))) & 0xffff
		}
		clear(count[:])
		for i := range keys {
			count[digit(&keys[i])]++
		}
		if count[digit(&keys[0])] == uint32(len(keys)) {
			continue // every key has this digit
		}
		sum := uint32(0)
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for i := range keys {
			d := digit(&keys[i])
			buf[count[d]] = keys[i]
			count[d]++
		}
		keys, buf = buf, keys
	}
	return keys
}
