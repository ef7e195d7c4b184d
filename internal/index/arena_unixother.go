//go:build unix && !linux

package index

import "unsafe"

// useHugePages does nothing: transparent huge pages are a Linux feature.
func useHugePages([]byte) {}

// noAccess is not done here: a freed block is unmapped at once.
func noAccess([]byte) bool { return false }

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
