//go:build !linux

package index

import (
	"io"
	"os"
)

// readBatch is how many directory entries are read at once.
const readBatch = 1024

// eachEntry calls fn for each entry of the open directory d: its name, and whether the
// directory lists it as a regular file.
func eachEntry(d *os.File, fn func(name string, regular bool)) error {
	for {
		entries, err := d.ReadDir(readBatch)
		for _, e := range entries {
			typ := e.Type()
			fn(e.Name(), typ&os.ModeSymlink == 0 && typ.IsRegular())
		}
		if err == io.EOF || len(entries) == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
