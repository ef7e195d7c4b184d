//go:build unix

package index

import "syscall"

// hugePage is the size a block is aligned to, so that it can be mapped with huge pages.
const hugePage = 2 << 20

// offHeap maps size zeroed bytes of anonymous memory, aligned to hugePage and, where the
// system has them, backed by huge pages (a million keys span hundreds of megabytes that
// queries touch at random: with small pages nearly every lookup would miss the TLB). It
// returns them with the function that unmaps them; nil when the mapping fails.
func offHeap(size int) ([]byte, func()) {
	if size == 0 {
		return nil, nil
	}
	pad := 0
	if size >= hugePage {
		pad = hugePage
	}
	mem, err := syscall.Mmap(-1, 0, size+pad, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil
	}
	block := mem[:size]
	if pad > 0 {
		start := int(alignTo(addrOf(mem), hugePage) - addrOf(mem))
		block = mem[start : start+size : start+size]
		useHugePages(block)
	}
	return block, func() { _ = syscall.Munmap(mem) }
}

func alignTo(n, to uintptr) uintptr { return (n + to - 1) &^ (to - 1) }
