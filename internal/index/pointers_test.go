package index

import (
	"reflect"
	"testing"
)

// TestArraysHoldNoPointers: the index's arrays hold no pointers, so that the collector has
// nothing to scan in them however many keys there are.
func TestArraysHoldNoPointers(t *testing.T) {
	v := reflect.ValueOf(&Index{}).Elem()
	checked := 0
	for _, name := range []string{"blob", "keys", "owners", "names", "lists", "slots", "fileRecs"} {
		f := v.FieldByName(name)
		if f.Kind() != reflect.Slice {
			t.Fatalf("%s is not a slice", name)
		}
		if hasPointers(f.Type().Elem()) {
			t.Errorf("%s holds %s, which has pointers", name, f.Type().Elem())
		}
		checked++
	}
	if checked != 7 {
		t.Fatalf("%d arrays checked", checked)
	}
	// The check itself can fail.
	if !hasPointers(reflect.TypeFor[struct {
		a int
		b []byte
	}]()) || hasPointers(reflect.TypeFor[[4]uint32]()) {
		t.Fatal("hasPointers is wrong")
	}
}

// hasPointers reports whether a value of type t holds a pointer the collector must follow.
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
