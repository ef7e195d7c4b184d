package ipsecoe

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
)

// sigStore keeps RRSIGs with the RRset they sign, keyed by the owner (lower case) and
// type, and checked against a sum of the RRset's rdata: a key swapped on reload misses,
// and is signed again. The signatures are held as bytes in chunks of sigChunk octets,
// about 90 octets for an ECDSA or Ed25519 signature, with nothing for the garbage
// collector to trace; the owner name is not stored, so the background renewal walks the
// names of the index to find them again. A store with a capacity forgets an entry at
// random when full: for names the index does not list (addresses inside a gateway
// prefix, denials at names that do not exist).
type sigStore struct {
	seed     maphash.Seed
	capacity int // entries per shard, 0 for no bound
	shards   [sigShards]sigShard
}

const (
	sigShards = 64
	sigChunk  = 64 << 10
)

type sigShard struct {
	mu      sync.RWMutex
	m       map[uint64]sigSlot
	chunks  [][]byte
	garbage int // octets of chunks no slot refers to any more
	live    int
}

// sigSlot is where one RRset's signatures are: chunk<<16 | offset, and the sum of the
// rdata they were made over. mark is the renewal pass that last saw the owner in the
// index (see sweep).
type sigSlot struct {
	sum  uint64
	at   uint32
	mark uint32
}

func newSigStore(capacity int) *sigStore {
	s := &sigStore{seed: maphash.MakeSeed()}
	if capacity > 0 {
		s.capacity = max(1, capacity/sigShards)
	}
	for i := range s.shards {
		s.shards[i].m = map[uint64]sigSlot{}
	}
	return s
}

// key is the store's key of lname's RRset of type t.
func (s *sigStore) key(lname string, t uint16) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(lname)
	h.WriteByte(byte(t >> 8))
	h.WriteByte(byte(t))
	return h.Sum64()
}

func (s *sigStore) shard(k uint64) *sigShard { return &s.shards[k>>58] }

// get returns the signatures stored under k, if they were made over rdata of sum; the
// returned bytes are a copy (see packSigs for their form).
func (s *sigStore) get(k, sum uint64, buf []byte) ([]byte, bool) {
	sh := s.shard(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	sl, ok := sh.m[k]
	if !ok || sl.sum != sum {
		return buf, false
	}
	return append(buf, sh.entry(sl.at)...), true
}

// has reports whether the store holds signatures under k, for any rdata.
func (s *sigStore) has(k uint64) bool {
	sh := s.shard(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	_, ok := sh.m[k]
	return ok
}

// entry returns the packed signatures at at; the shard's lock is held.
func (sh *sigShard) entry(at uint32) []byte {
	c := sh.chunks[at>>16]
	off := int(at & 0xffff)
	n := int(binary.BigEndian.Uint16(c[off:]))
	return c[off+2 : off+2+n]
}

// put stores packed signatures under k for rdata of sum, marked with pass mark.
func (s *sigStore) put(k, sum uint64, sigs []byte, mark uint32) {
	if len(sigs) == 0 || len(sigs)+2 > sigChunk {
		return
	}
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := sh.m[k]; ok {
		sh.drop(old)
	} else if s.capacity > 0 && len(sh.m) >= s.capacity {
		for victim, sl := range sh.m { // map order is random enough to evict by
			sh.drop(sl)
			delete(sh.m, victim)
			break
		}
	}
	if sh.garbage > sigChunk && sh.garbage > sh.live {
		sh.compact()
	}
	sh.m[k] = sigSlot{sum: sum, at: sh.add(sigs), mark: mark}
}

// drop counts the octets of sl as garbage.
func (sh *sigShard) drop(sl sigSlot) {
	n := len(sh.entry(sl.at)) + 2
	sh.garbage += n
	sh.live -= n
}

// add appends packed signatures to the chunks and returns where.
func (sh *sigShard) add(sigs []byte) uint32 {
	need := len(sigs) + 2
	last := len(sh.chunks) - 1
	if last < 0 || len(sh.chunks[last])+need > sigChunk {
		sh.chunks = append(sh.chunks, make([]byte, 0, sigChunk))
		last++
	}
	c := sh.chunks[last]
	at := uint32(last)<<16 | uint32(len(c))
	c = binary.BigEndian.AppendUint16(c, uint16(len(sigs)))
	sh.chunks[last] = append(c, sigs...)
	sh.live += need
	return at
}

// compact copies the live entries into new chunks, freeing the old ones.
func (sh *sigShard) compact() {
	old := sh.chunks
	sh.chunks, sh.garbage, sh.live = nil, 0, 0
	for k, sl := range sh.m {
		c := old[sl.at>>16]
		off := int(sl.at & 0xffff)
		n := int(binary.BigEndian.Uint16(c[off:]))
		sl.at = sh.add(c[off+2 : off+2+n])
		sh.m[k] = sl
	}
}

// mark records that pass saw the entry under k, and returns its sum and signatures.
func (s *sigStore) mark(k uint64, pass uint32, buf []byte) (sum uint64, sigs []byte, ok bool) {
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sl, ok := sh.m[k]
	if !ok {
		return 0, buf, false
	}
	sl.mark = pass
	sh.m[k] = sl
	return sl.sum, append(buf, sh.entry(sl.at)...), true
}

// sweep forgets every entry that neither pass nor a query since it began saw: signatures
// of names no longer in the index.
func (s *sigStore) sweep(pass uint32) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k, sl := range sh.m {
			if sl.mark != pass {
				sh.drop(sl)
				delete(sh.m, k)
			}
		}
		if sh.garbage > sh.live {
			sh.compact()
		}
		sh.mu.Unlock()
	}
}

// len is the number of RRsets the store holds signatures for.
func (s *sigStore) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
