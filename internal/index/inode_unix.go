//go:build unix && !linux

package index

import (
	"os"
	"syscall"
)

// inode is the file's inode number: a kubelet swap gives an unchanged file a new one.
func inode(fi os.FileInfo) uint64 {
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Ino)
	}
	return 0
}
