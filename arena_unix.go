//go:build unix

package ipsecoe

import "syscall"

// offHeap maps size zeroed bytes of anonymous memory, and returns them with the function
// that unmaps them; nil when the mapping fails.
func offHeap(size int) ([]byte, func()) {
	if size == 0 {
		return nil, nil
	}
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil
	}
	return mem, func() { _ = syscall.Munmap(mem) }
}
