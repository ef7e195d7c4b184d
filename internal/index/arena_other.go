//go:build !unix

package index

// offHeap is not available here: the index stays on the Go heap.
func offHeap(int) ([]byte, func()) { return nil, nil }
