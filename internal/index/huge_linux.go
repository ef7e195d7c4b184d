//go:build linux

package index

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// collapse backs the whole huge pages in [p, p+n) with huge pages now (MADV_COLLAPSE). It
// does not mark the range for khugepaged (MADV_HUGEPAGE): the Go heap reuses the memory
// once the index is gone, and its scavenger returns it in small pages, which a marked range
// would have collapsed again.
func collapse(p unsafe.Pointer, n uintptr) error {
	off, size := hugeRange(uintptr(p), n)
	if size == 0 {
		return nil
	}
	return unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, off)), size), unix.MADV_COLLAPSE)
}
