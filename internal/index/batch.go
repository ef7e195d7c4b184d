package index

import "hash/maphash"

// nameBatch holds names on their way into the table, so that the table is read for several
// of them at once: a table of millions of slots is far larger than the CPU's caches, and
// reads that do not depend on one another wait for memory together, not one after the
// other. The names go in in the order they came, as one at a time would put them.
type nameBatch struct {
	n int
	q [16]batched
}

type batched struct {
	name   span
	h      uint64
	key    uint32
	ipseca bool
}

// add queues the publication of key at the name at s, and enters the queue when it is full.
func (q *nameBatch) add(b *builder, s span, key uint32, ipseca bool) {
	q.q[q.n] = batched{name: s, h: maphash.Bytes(b.ix.seed, s.of(b.ix.blob)), key: key, ipseca: ipseca}
	if q.n++; q.n == len(q.q) {
		q.flush(b)
	}
}

// flush enters the queued names and notes their publications.
func (q *nameBatch) flush(b *builder) {
	slots := b.ix.slots
	mask := uint64(len(slots) - 1)
	for _, p := range q.q[:q.n] {
		b.sink += uint64(slots[p.h&mask]) // only to have the line in cache when insert reads it
	}
	for _, p := range q.q[:q.n] {
		b.pairs = append(b.pairs, pair{name: b.insert(p.name, p.h), key: p.key, ipseca: p.ipseca})
	}
	q.n = 0
}
