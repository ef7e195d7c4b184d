package index

import (
	"reflect"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestPlacedTypesHoldNoPointers: what freeze places off the heap must hold no pointer, or
// the collector would not see what it points to.
func TestPlacedTypesHoldNoPointers(t *testing.T) {
	ix := &Index{}
	v := reflect.ValueOf(ix).Elem()
	placed := 0
	for _, name := range []string{"blob", "keys", "owners", "names", "lists", "slots", "fileRecs"} {
		f := v.FieldByName(name)
		if f.Kind() != reflect.Slice {
			t.Fatalf("%s is not a slice", name)
		}
		if hasPointers(f.Type().Elem()) {
			t.Errorf("%s holds %s, which has pointers", name, f.Type().Elem())
		}
		placed++
	}
	if placed != 7 {
		t.Fatalf("%d arrays checked", placed)
	}
	// The check itself can fail.
	if !hasPointers(reflect.TypeFor[struct {
		a int
		b []byte
	}]()) || hasPointers(reflect.TypeFor[[4]uint32]()) {
		t.Fatal("hasPointers is wrong")
	}
}

// TestFreedBlockFaults reads a freed block and expects a fault, not the bytes of whatever
// was mapped there since: freed blocks stay reserved and unreadable for a while.
func TestFreedBlockFaults(t *testing.T) {
	mem, free := offHeap(hugePage + 1)
	if mem == nil {
		t.Skip("no off-heap block on this system")
	}
	if runtime.GOOS != "linux" {
		t.Skip("freed blocks are unmapped at once on this system")
	}
	mem[0] = 42
	free()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() == nil {
			t.Error("reading a freed block did not fault")
		}
	}()
	_ = mem[0]
	t.Errorf("read %d from a freed block", mem[0])
}
