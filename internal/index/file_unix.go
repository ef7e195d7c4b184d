//go:build unix

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

// readFile reads at most maxFileSize+1 bytes of path, expecting size, with plain system
// calls: an os.File would also register with the poller and set a finalizer, which costs
// more than the read itself for a small file.
func readFile(path string, size int64) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	buf := make([]byte, 0, min(size, maxFileSize)+1)
	for len(buf) <= maxFileSize {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grew since the stat
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if int64(len(buf)) == size {
			return buf, nil // all the stat promised; a later growth is a change for the next poll
		}
	}
	return buf, nil
}
