//go:build unix

package index

import (
	"sync"
	"syscall"
)

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
	return block, func() { retire(mem) }
}

// quarantined is how many freed blocks stay reserved, unreadable, before they are unmapped.
const quarantined = 2

var retired struct {
	sync.Mutex
	blocks [][]byte
}

// retire frees a block's memory but keeps its addresses reserved and unreadable for the
// next frees (see noAccess): should an answer ever keep a slice of a freed index, reading
// it faults, loudly, instead of quietly reading whatever index was mapped there next.
func retire(mem []byte) {
	if !noAccess(mem) {
		_ = syscall.Munmap(mem)
		return
	}
	retired.Lock()
	defer retired.Unlock()
	retired.blocks = append(retired.blocks, mem)
	if len(retired.blocks) > quarantined {
		_ = syscall.Munmap(retired.blocks[0])
		retired.blocks = append(retired.blocks[:0], retired.blocks[1:]...)
	}
}

func alignTo(n, to uintptr) uintptr { return (n + to - 1) &^ (to - 1) }
