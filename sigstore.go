package ipsecoe

import (
	"encoding/binary"
	"hash/maphash"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// sigStore keeps RRSIGs with the RRset they sign, keyed by a hash of the owner (lower
// case), the type and the rdata: a key swapped on reload has a new key, and is signed
// again. The signatures are held as bytes in chunks of sigChunk octets, about 80 octets
// for an ECDSA or Ed25519 signature, and found through open-addressing tables of plain
// integers, with nothing for the garbage collector to trace. Each entry begins with its
// key, so that where it was found can be kept as a hint (see getHinted) and checked
// without the table; the owner name is not stored,
// so the background renewal walks the names of the index to find them again, and forgets
// what it did not find. A store with a capacity forgets an entry at random when full: for
// names the index does not list (addresses inside a gateway prefix, denials at names that
// do not exist).
type sigStore struct {
	seed     maphash.Seed
	capacity atomic.Int64 // entries per shard, 0 for no bound
	shards   [sigShards]sigShard
}

const (
	sigShards = 64
	sigChunk  = 64 << 10
)

// sigShard is one table of slots.
type sigShard struct {
	mu      sync.RWMutex
	slots   []sigSlot
	n       int
	chunks  [][]byte
	garbage int // octets of chunks no slot refers to any more
	live    int
}

// sigSlot is a slot of a table: key is 0 for an empty slot; at is where its signatures
// are, chunk<<16 | offset; mark is the renewal pass that last saw it, modulo 256. The key
// and where to look are in one slot, so a lookup reads one cache line of the table.
type sigSlot struct {
	key  uint64
	at   uint32
	mark uint8
}

func newSigStore(capacity int) *sigStore {
	s := &sigStore{seed: maphash.MakeSeed()}
	s.setCapacity(capacity)
	return s
}

// setCapacity bounds the store to about capacity entries, from the next put on; 0 for no
// bound.
func (s *sigStore) setCapacity(capacity int) {
	if capacity > 0 {
		capacity = max(1, capacity/sigShards)
	}
	s.capacity.Store(int64(capacity))
}

// key is the store's key of lname's RRset of type t whose rdata has sum sum; never 0.
func (s *sigStore) key(lname string, t uint16, sum uint64) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(lname)
	var b [10]byte
	binary.BigEndian.PutUint16(b[:], t)
	binary.BigEndian.PutUint64(b[2:], sum)
	h.Write(b[:])
	return h.Sum64() | 1
}

func (s *sigStore) shard(k uint64) *sigShard { return &s.shards[k>>58] }

// find returns the slot of k, or of the empty slot where it would go.
func (sh *sigShard) find(k uint64) (int, bool) {
	if len(sh.slots) == 0 {
		return -1, false
	}
	mask := len(sh.slots) - 1
	for i := int(k) & mask; ; i = (i + 1) & mask {
		switch sh.slots[i].key {
		case k:
			return i, true
		case 0:
			return i, false
		}
	}
}

// entryHead is the length of an entry's head: the length of its signatures, and its key.
const entryHead = 2 + 8

// getHinted returns the signatures stored under k (see signer.sign for their form), and
// the hint to keep for finding them again: where they are, plus one. It tries first the
// entry at hint-1, where an earlier call may have found k: a hint kept with the name costs
// no read of the table; 0 is no hint. The bytes are the store's own, not a copy: what is
// written in a chunk is never written over (a replaced entry is added anew, and compaction
// copies into new chunks; only the key in the head of an entry no slot refers to is
// cleared), so they stay as they are for as long as the caller holds them.
func (s *sigStore) getHinted(k uint64, hint uint32) ([]byte, uint32, bool) {
	sh := s.shard(k)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if hint != 0 {
		if sigs, ok := sh.entryOf(hint-1, k); ok {
			return sigs, hint, true
		}
	}
	i, ok := sh.find(k)
	if !ok {
		return nil, 0, false
	}
	at := sh.slots[i].at
	return sh.entry(at), at + 1, true
}

// entryOf returns the signatures of the entry at at if it is k's: at may be stale (left
// from before a replacement or a compaction) and point anywhere in a chunk, or past it.
// An entry no slot refers to has its key cleared, and a slot refers to the one entry of
// its key, so k's key at at is k's live entry. The shard's lock is held.
func (sh *sigShard) entryOf(at uint32, k uint64) ([]byte, bool) {
	if int(at>>16) >= len(sh.chunks) {
		return nil, false
	}
	c := sh.chunks[at>>16]
	off := int(at & 0xffff)
	if off+entryHead > len(c) || binary.BigEndian.Uint64(c[off+2:]) != k {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(c[off:]))
	if off+entryHead+n > len(c) {
		return nil, false
	}
	return c[off+entryHead : off+entryHead+n : off+entryHead+n], true
}

// entry returns the packed signatures at at; the shard's lock is held.
func (sh *sigShard) entry(at uint32) []byte {
	c := sh.chunks[at>>16]
	off := int(at&0xffff) + entryHead
	n := int(binary.BigEndian.Uint16(c[off-entryHead:]))
	return c[off : off+n : off+n] // capped: an append must not reach the next entry
}

// put stores packed signatures under k, marked as seen by pass, and returns the hint
// getHinted takes: where they are, plus one (0 when not stored).
func (s *sigStore) put(k uint64, sigs []byte, pass uint32) uint32 {
	if len(sigs) == 0 || len(sigs)+entryHead > sigChunk {
		return 0
	}
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.garbage > sigChunk && sh.garbage > sh.live {
		sh.compact() // before k's slot changes: compaction copies what every slot refers to
	}
	i, ok := sh.find(k)
	if ok {
		sh.drop(sh.slots[i].at)
	} else {
		for c := int(s.capacity.Load()); c > 0 && sh.n >= c; {
			sh.remove(sh.victim()) // more than one when the bound was lowered
		}
		if 4*(sh.n+1) > 3*len(sh.slots) {
			sh.grow()
		}
		i, _ = sh.find(k)
		sh.slots[i].key = k
		sh.n++
	}
	sh.slots[i].at, sh.slots[i].mark = sh.add(k, sigs), uint8(pass)
	return sh.slots[i].at + 1
}

// victim is an occupied slot picked at random.
func (sh *sigShard) victim() int {
	mask := len(sh.slots) - 1
	i := rand.IntN(len(sh.slots))
	for sh.slots[i].key == 0 {
		i = (i + 1) & mask
	}
	return i
}

// remove empties slot i, moving back the entries after it that probed past it.
func (sh *sigShard) remove(i int) {
	sh.drop(sh.slots[i].at)
	mask := len(sh.slots) - 1
	for j := (i + 1) & mask; sh.slots[j].key != 0; j = (j + 1) & mask {
		home := int(sh.slots[j].key) & mask
		if (j-home)&mask >= (j-i)&mask { // j's probe passed i: move it there
			sh.slots[i] = sh.slots[j]
			i = j
		}
	}
	sh.slots[i] = sigSlot{}
	sh.n--
}

// grow doubles the table.
func (sh *sigShard) grow() {
	old := sh.slots
	sh.slots = make([]sigSlot, max(64, 2*len(old)))
	for _, sl := range old {
		if sl.key != 0 {
			i, _ := sh.find(sl.key)
			sh.slots[i] = sl
		}
	}
}

// drop counts the octets at at as garbage, and clears the entry's key: a hint to it no
// longer finds it.
func (sh *sigShard) drop(at uint32) {
	n := len(sh.entry(at)) + entryHead
	sh.garbage += n
	sh.live -= n
	off := int(at & 0xffff)
	binary.BigEndian.PutUint64(sh.chunks[at>>16][off+2:], 0)
}

// add appends k's packed signatures to the chunks and returns where.
func (sh *sigShard) add(k uint64, sigs []byte) uint32 {
	need := len(sigs) + entryHead
	last := len(sh.chunks) - 1
	if last < 0 || len(sh.chunks[last])+need > sigChunk {
		sh.chunks = append(sh.chunks, make([]byte, 0, sigChunk))
		last++
	}
	c := sh.chunks[last]
	at := uint32(last)<<16 | uint32(len(c))
	c = binary.BigEndian.AppendUint16(c, uint16(len(sigs)))
	c = binary.BigEndian.AppendUint64(c, k)
	sh.chunks[last] = append(c, sigs...)
	sh.live += need
	return at
}

// compact copies the live entries into new chunks, freeing the old ones.
func (sh *sigShard) compact() {
	old := sh.chunks
	sh.chunks, sh.garbage, sh.live = nil, 0, 0
	for i := range sh.slots {
		if sl := &sh.slots[i]; sl.key != 0 {
			c := old[sl.at>>16]
			off := int(sl.at & 0xffff)
			n := int(binary.BigEndian.Uint16(c[off:]))
			sl.at = sh.add(sl.key, c[off+entryHead:off+entryHead+n])
		}
	}
}

// mark records that pass saw the entry under k, and returns its signatures, as getHinted does.
func (s *sigStore) mark(k uint64, pass uint32) ([]byte, bool) {
	sh := s.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, ok := sh.find(k)
	if !ok {
		return nil, false
	}
	sh.slots[i].mark = uint8(pass)
	return sh.entry(sh.slots[i].at), true
}

// sweep forgets every entry that neither pass nor a query since it began saw: signatures
// of names no longer in the index, or of their rdata before it changed.
func (s *sigStore) sweep(pass uint32) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for j := 0; j < len(sh.slots); {
			if sh.slots[j].key != 0 && sh.slots[j].mark != uint8(pass) {
				sh.remove(j) // an entry may move into j: look at it again
				continue
			}
			j++
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
		n += sh.n
		sh.mu.RUnlock()
	}
	return n
}
