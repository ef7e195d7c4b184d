package index

import (
	"syscall"
	"unsafe"
)

// useHugePages asks for transparent huge pages; where they are off, nothing changes.
func useHugePages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) }

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
