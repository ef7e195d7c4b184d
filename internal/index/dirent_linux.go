package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"syscall"
	"unsafe"
)

// direntBuf is the size of the buffer the entries of a directory are read into.
const direntBuf = 64 << 10

var errDirent = errors.New("malformed directory entry")

// eachEntry calls fn for each entry of the open directory d but "." and "..": its name,
// and whether the directory lists it as a regular file. The entries are read in batches
// and handed over as they lie in the buffer, with no string or os.DirEntry made for each,
// which a directory of a million keys would otherwise allocate twice a million times;
// name is only valid during the call.
func eachEntry(d *os.File, fn func(name string, regular bool)) error {
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, direntBuf)
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, rerr = syscall.ReadDirent(int(fd), buf)
			for rerr == syscall.EINTR {
				n, rerr = syscall.ReadDirent(int(fd), buf)
			}
			return true
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return &os.PathError{Op: "readdirent", Path: d.Name(), Err: err}
		}
		if n <= 0 {
			return nil
		}
		if err := eachDirent(buf[:n], fn); err != nil {
			return &os.PathError{Op: "readdirent", Path: d.Name(), Err: err}
		}
	}
}

// eachDirent calls fn for each linux_dirent64 in b: inode (8 octets), offset (8), record
// length (2), type (1), then the name up to a zero octet.
func eachDirent(b []byte, fn func(name string, regular bool)) error {
	const nameOff = 19
	for len(b) > 0 {
		if len(b) < nameOff {
			return errDirent
		}
		reclen := int(binary.NativeEndian.Uint16(b[16:]))
		if reclen <= nameOff || reclen > len(b) {
			return errDirent
		}
		ino, typ, name := binary.NativeEndian.Uint64(b), b[18], b[nameOff:reclen]
		b = b[reclen:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if ino == 0 || len(name) == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		fn(unsafe.String(&name[0], len(name)), typ == syscall.DT_REG)
	}
	return nil
}
