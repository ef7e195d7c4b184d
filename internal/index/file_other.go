//go:build !linux

package index

import (
	"errors"
	"os"
)

// openDir does nothing here: files are opened by their full path.
func openDir(string) int { return -1 }

// closeDir does nothing here.
func closeDir(int) {}

// statPath is what the file at path looks like, its symlinks followed; real is the hash of
// its real path.
func statPath(path string, real uint64) (fileStat, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStat{}, errors.Unwrap(err)
	}
	return statOfInfo(real, fi), nil
}

// statAt is statPath: only Linux opens files by name in a directory.
func statAt(_ int, _, path string, real uint64) (fileStat, error) { return statPath(path, real) }

func statOfInfo(real uint64, fi os.FileInfo) fileStat {
	return fileStat{real: real, ino: inode(fi), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// readFile reads path whole into buf; a file that is not regular, or is larger than
// maxFileSize, is refused unread (errNotRegular, errTooLarge), with its stat.
func readFile(_ int, _, path string, real uint64, buf []byte, _ *[]byte) ([]byte, fileStat, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileStat{}, errors.Unwrap(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileStat{}, errors.Unwrap(err)
	}
	st := statOfInfo(real, fi)
	if !fi.Mode().IsRegular() {
		return nil, st, errNotRegular
	}
	if st.size > maxFileSize {
		return nil, st, errTooLarge
	}
	data, err := readAll(st.size, buf, f.Read)
	return data, st, err
}
