package ipsecoe

import (
	"bytes"
	"fmt"
	"testing"
)

// TestSigStore checks that an entry comes back only for the rdata it was made over, is
// replaced in place, and survives compaction and a sweep that saw it.
func TestSigStore(t *testing.T) {
	s := newSigStore(0)
	sig := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 80+i%7) }
	const n = 5000
	for i := range n {
		s.put(s.key(fmt.Sprint(i), 45), uint64(i), sig(i), 1)
	}
	for i := range n {
		k := s.key(fmt.Sprint(i), 45)
		got, ok := s.get(k, uint64(i), nil)
		if !ok || !bytes.Equal(got, sig(i)) {
			t.Fatalf("Test %d: got %x %v", i, got, ok)
		}
		if _, ok := s.get(k, uint64(i)+1, nil); ok {
			t.Fatalf("Test %d: found for other rdata", i)
		}
		if _, ok := s.get(s.key(fmt.Sprint(i), 46), uint64(i), nil); ok {
			t.Fatalf("Test %d: found for another type", i)
		}
	}
	// Replacing every entry three times leaves garbage that compaction must reclaim
	// without losing an entry.
	for round := range 3 {
		for i := range n {
			s.put(s.key(fmt.Sprint(i), 45), uint64(i), sig(i+round+1), 2)
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
	for i := range n {
		if got, ok := s.get(s.key(fmt.Sprint(i), 45), uint64(i), nil); !ok || !bytes.Equal(got, sig(i+3)) {
			t.Fatalf("Test %d: after replacing: %x %v", i, got, ok)
		}
	}
	// A sweep forgets what its pass did not mark.
	for i := range n / 2 {
		s.mark(s.key(fmt.Sprint(i), 45), 3, nil)
	}
	s.sweep(3)
	if got := s.len(); got != n/2 {
		t.Errorf("%d entries after the sweep, want %d", got, n/2)
	}
	if _, ok := s.get(s.key("0", 45), 0, nil); !ok {
		t.Error("a marked entry was swept")
	}
	if _, ok := s.get(s.key(fmt.Sprint(n-1), 45), uint64(n-1), nil); ok {
		t.Error("an unmarked entry survived the sweep")
	}
}

// TestSigStoreBound checks that a store with a capacity stays within it.
func TestSigStoreBound(t *testing.T) {
	s := newSigStore(sigShards * 10)
	for i := range 10_000 {
		s.put(s.key(fmt.Sprint(i), 45), 1, make([]byte, 90), 0)
	}
	if got := s.len(); got > sigShards*10 {
		t.Errorf("%d entries, want at most %d", got, sigShards*10)
	}
	for i := range s.shards {
		if sh := &s.shards[i]; len(sh.chunks)*sigChunk > 2*sigChunk+4*sh.live {
			t.Errorf("shard %d: %d chunks for %d live octets", i, len(sh.chunks), sh.live)
		}
	}
}
