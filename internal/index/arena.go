package index

import (
	"reflect"
	"runtime"
	"unsafe"
)

// The arrays of a built index move into one block of memory outside the Go heap. They
// hold no pointers, so the garbage collector has nothing to find there; and outside the
// heap they do not count towards the heap size that paces collection, which otherwise lets
// the heap grow to twice the index before collecting (GOGC=100): a million keys would
// cost their size twice over in resident memory. The block is freed once the index is
// unreachable. Nothing read from it outlives the index: answers copy what they take.

// onHeap keeps every index on the Go heap: the benchmarks compare the two.
var onHeap bool

// freeze moves ix's arrays into an off-heap block.
func (ix *Index) freeze() {
	if onHeap {
		return
	}
	size := 0
	size = reserve(size, ix.blob)
	size = reserve(size, ix.keys)
	size = reserve(size, ix.owners)
	size = reserve(size, ix.names)
	size = reserve(size, ix.lists)
	size = reserve(size, ix.slots)
	size = reserve(size, ix.fileRecs)
	mem, free := offHeap(size)
	if mem == nil {
		return // no block to be had: the arrays stay on the heap
	}
	off := 0
	ix.blob = place(mem, &off, ix.blob)
	ix.keys = place(mem, &off, ix.keys)
	ix.owners = place(mem, &off, ix.owners)
	ix.names = place(mem, &off, ix.names)
	ix.lists = place(mem, &off, ix.lists)
	ix.slots = place(mem, &off, ix.slots)
	ix.fileRecs = place(mem, &off, ix.fileRecs)
	runtime.AddCleanup(ix, func(free func()) { free() }, free)
}

// reserve adds the room src takes, 8-aligned, to size.
func reserve[T any](size int, src []T) int {
	var zero T
	return alignUp(size) + int(unsafe.Sizeof(zero))*len(src)
}

// place copies src to mem at *off (8-aligned) and returns the copy. T must hold no pointers:
// the collector does not look off the heap.
func place[T any](mem []byte, off *int, src []T) []T {
	if hasPointers(reflect.TypeFor[T]()) {
		panic("index: " + reflect.TypeFor[T]().String() + " holds pointers and cannot be placed off the heap")
	}
	*off = alignUp(*off)
	if len(src) == 0 {
		return src[:0:0]
	}
	dst := unsafe.Slice((*T)(unsafe.Pointer(&mem[*off])), len(src))
	copy(dst, src)
	*off += int(unsafe.Sizeof(src[0])) * len(src)
	return dst
}

func alignUp(n int) int { return (n + 7) &^ 7 }

// hasPointers reports whether a value of type t holds a pointer the collector must see.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	}
	return true
}
