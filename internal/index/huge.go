package index

import "unsafe"

// hugePage is the size of a transparent huge page on x86-64 and arm64 with 4 KiB pages.
const hugePage = 2 << 20

// backHuge asks the kernel to back the whole huge pages inside s[:len(s)] with huge pages,
// where it can; what lies past the length was never written and stays unbacked. An index of
// a million keys spans about 120,000 small pages and a lookup at a random name touches
// several of them, each a likely TLB miss; 240 huge pages cover the same. Failure only
// leaves the small pages.
func backHuge[S ~[]E, E any](s S) {
	var e E
	if n := uintptr(len(s)) * unsafe.Sizeof(e); n >= 2*hugePage {
		collapse(unsafe.Pointer(unsafe.SliceData(s)), n)
	}
}

// hugeRange is the part of [start, start+n) made of whole huge pages, as an offset from
// start and a length; 0, 0 when there is none.
func hugeRange(start, n uintptr) (off, size uintptr) {
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := (start + n) &^ (hugePage - 1)
	if hi <= lo {
		return 0, 0
	}
	return lo - start, hi - lo
}

// backHuge backs the index's arrays with huge pages (see backHuge).
func (ix *Index) backHuge() {
	backHuge(ix.blob)
	backHuge(ix.keys)
	backHuge(ix.owners)
	backHuge(ix.names)
	backHuge(ix.lists)
	backHuge(ix.slots)
}
