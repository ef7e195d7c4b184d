package index

import (
	"syscall"
	"unsafe"
)

// useHugePages asks for transparent huge pages; where they are off, nothing changes.
func useHugePages(b []byte) { _ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) }

// noAccess hands mem's pages back to the system and makes any later access to it fault; it
// reports whether it could.
func noAccess(mem []byte) bool {
	return syscall.Mprotect(mem, syscall.PROT_NONE) == nil && syscall.Madvise(mem, syscall.MADV_DONTNEED) == nil
}

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
