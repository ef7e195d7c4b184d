package ipsecoe

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"testing"
)

// TestSigStore checks that an entry comes back only under its own name, type and rdata, is
// replaced in place, and survives compaction and a sweep that saw it, while the sweep
// forgets the rest.
func TestSigStore(t *testing.T) {
	s := newSigStore(0)
	sig := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 80+i%7) }
	key := func(i int) uint64 { return s.key(fmt.Sprint(i), 45, uint64(i)) }
	const n = 5000
	for i := range n {
		s.put(key(i), sig(i), 1)
	}
	for i := range n {
		got, ok := s.get(key(i))
		if !ok || !bytes.Equal(got, sig(i)) {
			t.Fatalf("Test %d: got %x %v", i, got, ok)
		}
		for j, other := range []uint64{s.key(fmt.Sprint(i), 45, uint64(i)+1), s.key(fmt.Sprint(i), 46, uint64(i)), s.key(fmt.Sprint(i+1), 45, uint64(i))} {
			if _, ok := s.get(other); ok && !(j == 2 && i+1 < n && other == key(i+1)) {
				t.Fatalf("Test %d: found under key %d of another RRset", i, j)
			}
		}
	}
	// Replacing every entry three times leaves garbage that compaction must reclaim
	// without losing an entry.
	for round := range 3 {
		for i := range n {
			s.put(key(i), sig(i+round+1), 1)
		}
	}
	var live, chunks int
	for i := range s.shards {
		live += s.shards[i].live
		chunks += len(s.shards[i].chunks)
	}
	if chunks*sigChunk > 4*live+sigShards*sigChunk {
		t.Errorf("%d chunks for %d live octets: garbage not reclaimed", chunks, live)
	}
	if got := s.len(); got != n {
		t.Errorf("%d entries, want %d", got, n)
	}
	checkEntries(t, s, "replaced")
	for i := range n {
		if got, ok := s.get(key(i)); !ok || !bytes.Equal(got, sig(i+3)) {
			t.Fatalf("Test %d: after replacing: %x %v", i, got, ok)
		}
	}
	// A sweep forgets what its pass did not mark, and finds the rest after the entries
	// it removed moved back.
	for i := 0; i < n; i += 2 {
		s.mark(key(i), 2)
	}
	s.sweep(2)
	checkEntries(t, s, "swept")
	if got := s.len(); got != n/2 {
		t.Errorf("%d entries after the sweep, want %d", got, n/2)
	}
	for i := range n {
		got, ok := s.get(key(i))
		if want := i%2 == 0; ok != want || ok && !bytes.Equal(got, sig(i+3)) {
			t.Fatalf("Test %d: after the sweep: %x %v, want found %v", i, got, ok, want)
		}
	}
}

// TestSigStoreHint checks that a hint finds an entry only while it is its key's live
// entry: whatever a hint points at (an entry replaced, swept or moved by compaction,
// another key's entry, the middle of one, past the chunks), getHinted gives what get
// gives, and the hint it returns finds the entry again.
func TestSigStoreHint(t *testing.T) {
	s := newSigStore(0)
	sig := func(i, v int) []byte { return bytes.Repeat([]byte{byte(i), byte(v)}, 30+i%9) }
	// Every key in one shard, so that its garbage soon outgrows a chunk and its live
	// entries, and compaction runs.
	key := func(i int) uint64 { return 5<<58 | uint64(i)<<1 | 1 }
	sh := &s.shards[5]
	const n = 3000
	hints := make([]uint32, n)
	for i := range n {
		if hints[i] = s.put(key(i), sig(i, 0), 1); hints[i] == 0 {
			t.Fatalf("Test %d: put gave no hint", i)
		}
	}
	// check asks every key with the hint of key hintOf(i), and keeps the hint it gets.
	check := func(step string, hintOf func(i int) int) {
		t.Helper()
		checkEntries(t, s, step)
		for i := range n {
			want, wantOK := s.get(key(i))
			got, h, ok := s.getHinted(key(i), hints[hintOf(i)])
			if ok != wantOK || !bytes.Equal(got, want) {
				t.Fatalf("%s: key %d: got %x %v, want %x %v", step, i, got, ok, want, wantOK)
			}
			if again, h2, _ := s.getHinted(key(i), h); ok && (h == 0 || h2 != h || !bytes.Equal(again, want)) {
				t.Fatalf("%s: key %d: the hint %d it gave does not find it again", step, i, h)
			}
			hints[i] = h
		}
	}
	self := func(i int) int { return i }
	check("fresh", self)
	check("another key's hint", func(i int) int { return (i + 1) % n })

	for i := 0; i < n; i += 2 {
		s.put(key(i), sig(i, 1), 1) // the old entry stays in its chunk, as garbage
	}
	old := slices.Clone(hints)
	check("replaced", self)
	for i := 0; i < n; i += 2 {
		if got, _, _ := s.getHinted(key(i), old[i]); !bytes.Equal(got, sig(i, 1)) {
			t.Fatalf("key %d: the hint of its replaced entry gave %x", i, got)
		}
	}

	for i := 0; i < n; i += 3 {
		s.mark(key(i), 2)
	}
	s.sweep(2)
	check("swept", self)

	first := &sh.chunks[0][0]
	for v := 2; v < 8; v++ { // garbage beyond the live octets: compaction moves every entry
		for i := 0; i < n; i += 3 {
			s.put(key(i), sig(i, v), 2)
			if i%300 == 0 {
				checkEntries(t, s, "replacing")
			}
		}
	}
	if &sh.chunks[0][0] == first {
		t.Fatal("no compaction: the test does not test it")
	}
	check("compacted", self)

	// Hints at every offset of a chunk and past it: never a wrong entry, never a panic.
	k := key(3)
	want, _ := s.get(k)
	for _, h := range []uint32{1 << 16, 1<<16 - 1, 63 << 16, ^uint32(0), 1<<32 - 2} {
		if got, _, ok := s.getHinted(k, h); !ok || !bytes.Equal(got, want) {
			t.Fatalf("hint %#x: got %x %v", h, got, ok)
		}
	}
	for h := uint32(1); h < 3*sigChunk/2; h++ {
		if got, _, ok := s.getHinted(k, h); !ok || !bytes.Equal(got, want) {
			t.Fatalf("hint %#x: got %x %v", h, got, ok)
		}
	}
}

// TestSigStoreBound checks that a store with a capacity stays within it and still finds
// what it keeps after evicting.
func TestSigStoreBound(t *testing.T) {
	s := newSigStore(sigShards * 10)
	for i := range 10_000 {
		k := s.key(fmt.Sprint(i), 45, 1)
		s.put(k, []byte(fmt.Sprint(i)), 0)
		if got, ok := s.get(k); !ok || string(got) != fmt.Sprint(i) {
			t.Fatalf("Test %d: just put, got %q %v", i, got, ok)
		}
	}
	if got := s.len(); got > sigShards*10 {
		t.Errorf("%d entries, want at most %d", got, sigShards*10)
	}
	found := 0
	for i := range 10_000 {
		if got, ok := s.get(s.key(fmt.Sprint(i), 45, 1)); ok {
			found++
			if string(got) != fmt.Sprint(i) {
				t.Fatalf("Test %d: got %q", i, got)
			}
		}
	}
	if found != s.len() {
		t.Errorf("%d entries found, %d held: a probe chain broke", found, s.len())
	}
	// A lower bound holds from the next put into each shard on.
	s.setCapacity(sigShards * 3)
	for i := range 2_000 {
		s.put(s.key(fmt.Sprint(-i), 45, 1), []byte("x"), 0)
	}
	if got := s.len(); got > sigShards*3 {
		t.Errorf("%d entries after the bound was lowered, want at most %d", got, sigShards*3)
	}
	checkEntries(t, s, "evicted")
	for i := range s.shards {
		if sh := &s.shards[i]; len(sh.chunks)*sigChunk > 2*sigChunk+4*sh.live {
			t.Errorf("shard %d: %d chunks for %d live octets", i, len(sh.chunks), sh.live)
		}
	}
}

// BenchmarkSigStoreMemory reports what a kept RRset costs the heap, with one ECDSA P-256
// or Ed25519 signature (75 octets packed), at a million RRsets.
func BenchmarkSigStoreMemory(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 10_000
	}
	sig := make([]byte, 75)
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := newSigStore(0)
		for i := range n {
			s.put(s.key("host-"+strconv.Itoa(i)+".example.com.", 45, uint64(i)), sig, 0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "B/RRset")
		runtime.KeepAlive(s)
	}
}

// get is getHinted with no hint.
func (s *sigStore) get(k uint64) ([]byte, bool) {
	sigs, _, ok := s.getHinted(k, 0)
	return sigs, ok
}

// checkEntries walks every entry of every chunk and checks the store's accounting: an
// entry whose head holds a key is the one its key's slot refers to (so no hint can find
// another), there is one such entry per slot, and live and garbage count their octets.
func checkEntries(t *testing.T, s *sigStore, step string) {
	t.Helper()
	for si := range s.shards {
		sh := &s.shards[si]
		keyed, live, all := 0, 0, 0
		for ci, c := range sh.chunks {
			for off := 0; off < len(c); {
				n := entryHead + int(binary.BigEndian.Uint16(c[off:]))
				if k := binary.BigEndian.Uint64(c[off+2:]); k != 0 {
					at := uint32(ci)<<16 | uint32(off)
					if i, ok := sh.find(k); !ok || sh.slots[i].at != at {
						t.Fatalf("%s: shard %d: the entry at %#x holds key %#x, which its slot does not refer to", step, si, at, k)
					}
					keyed++
					live += n
				}
				all += n
				off += n
			}
		}
		if keyed != sh.n || live != sh.live || all-live != sh.garbage {
			t.Fatalf("%s: shard %d: %d keyed entries of %d octets, %d garbage; the shard counts %d, %d, %d",
				step, si, keyed, live, all-live, sh.n, sh.live, sh.garbage)
		}
	}
}
