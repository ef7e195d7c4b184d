//go:build unix && !linux

package index

import "unsafe"

// useHugePages does nothing: transparent huge pages are a Linux feature.
func useHugePages([]byte) {}

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
