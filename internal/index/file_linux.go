//go:build linux

package index

import (
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openDir opens a directory for opening its files by name; -1 when it cannot.
func openDir(path string) int {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

// closeDir closes what openDir opened.
func closeDir(fd int) {
	if fd >= 0 {
		syscall.Close(fd)
	}
}

// statPath is what the file at path looks like, its symlinks followed; real is the hash of
// its real path.
func statPath(path string, real uint64) (fileStat, error) {
	var st syscall.Stat_t
	err := syscall.Stat(path, &st)
	for err == syscall.EINTR {
		err = syscall.Stat(path, &st)
	}
	if err != nil {
		return fileStat{}, err
	}
	return statOf(real, &st), nil
}

// statAt is what the file name in the directory dirfd (path, when dirfd is -1) looks like,
// its symlinks followed; real is the hash of its real path.
func statAt(dirfd int, name, path string, real uint64) (fileStat, error) {
	if dirfd < 0 {
		return statPath(path, real)
	}
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, 0)
	for err == unix.EINTR {
		err = unix.Fstatat(dirfd, name, &st, 0)
	}
	if err != nil {
		return fileStat{}, err
	}
	return fileStat{real: real, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano()}, nil
}

func statOf(real uint64, st *syscall.Stat_t) fileStat {
	return fileStat{real: real, ino: uint64(st.Ino), size: st.Size, mtime: st.Mtim.Nano()}
}

// openAt is openat(2) of name in dirfd, its C string made in cname, whose room it reuses:
// syscall.Openat allocates one per call.
func openAt(dirfd int, name string, flags int, cname *[]byte) (int, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return -1, syscall.EINVAL
	}
	b := append(append((*cname)[:0], name...), 0)
	*cname = b
	fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(&b[0])), uintptr(flags), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// readFile opens name in the directory dirfd (path, when dirfd is -1) and reads it whole
// into buf, with one open, one fstat and one read: an os.File would also register with
// the poller and set a finalizer, which costs more than the read itself for a small file.
// A file that is not regular, or is larger than maxFileSize, is refused unread
// (errNotRegular, errTooLarge), with its stat.
func readFile(dirfd int, name, path string, real uint64, buf []byte, cname *[]byte) ([]byte, fileStat, error) {
	const flags = syscall.O_RDONLY | syscall.O_CLOEXEC | syscall.O_NONBLOCK
	if dirfd < 0 {
		dirfd, name = unix.AT_FDCWD, path
	}
	fd, err := openAt(dirfd, name, flags, cname)
	for err == syscall.EINTR {
		fd, err = openAt(dirfd, name, flags, cname)
	}
	if err != nil {
		return nil, fileStat{}, err
	}
	defer syscall.Close(fd)
	var sys syscall.Stat_t
	if err := syscall.Fstat(fd, &sys); err != nil {
		return nil, fileStat{}, err
	}
	st := statOf(real, &sys)
	if sys.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, st, errNotRegular
	}
	if st.size > maxFileSize {
		return nil, st, errTooLarge
	}
	data, err := readAll(st.size, buf, func(b []byte) (int, error) {
		n, err := syscall.Read(fd, b)
		for err == syscall.EINTR {
			n, err = syscall.Read(fd, b)
		}
		return n, err
	})
	return data, st, err
}
