package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

// walker finds the files of a key directory. What it finds is kept pointer-free, so that
// the collections a large read runs meanwhile have nothing of it to scan.
type walker struct {
	root  string
	pace  *Pacer
	seen  map[string]bool // real directories visited, against symlink loops
	dirs  []walkDir       // the real directories the files are in
	paths []byte          // every file's path relative to root, one after the other
	text  string          // paths, once the walk is done: the files' paths are made over it
	jobs  []job           // the files, to be read in path order
	other []string        // the real paths of files reached through a symlink
	errs  []error         // the refusals of the walk itself
}

// walkDir is one real directory of the walk.
type walkDir struct {
	path string
	hash uint64 // hash64 of path and a separator: a file's real path hash goes on from it
	fd   int    // open for opening its files by name, or -1
}

// job is one file the walk found, to read or already refused.
type job struct {
	head  uint64 // the first 8 octets of the path, big-endian, zero-padded: most of the sort's comparisons
	next  uint64 // the 8 octets after them, the same way: most of the rest
	rel   span   // the path relative to root, in paths; its last base octets name it in dir
	base  int32  // the length of its name in dir
	dir   int32  // in dirs
	other int32  // its real path in other when reached through a symlink; -1 otherwise
	err   int32  // its refusal in errs, or -1
}

// maxDirFDs is how many directories a walk keeps open to open their files by name; the
// files of any more are opened by full path.
const maxDirFDs = 64

func (w *walker) walk(dir, rel string) error {
	d, err := os.Open(dir)
	if err != nil {
		if rel == "" {
			return fmt.Errorf("key directory: %w", err)
		}
		w.refuse(rel, keyfile.Refuse(keyfile.ReasonRead, "%w", errors.Unwrap(err)))
		return nil
	}
	defer d.Close()
	di := int32(len(w.dirs))
	fd := -1
	if len(w.dirs) < maxDirFDs {
		fd = openDir(dir)
	}
	w.dirs = append(w.dirs, walkDir{path: dir, hash: hash64(dir + string(filepath.Separator)), fd: fd})
	var subdirs []string
	err = eachEntry(d, func(name string, regular bool) {
		w.pace.tick()
		switch {
		case strings.HasPrefix(name, "."):
		case regular:
			w.add(rel, name, di, -1, -1)
		default:
			subdirs = append(subdirs, strings.Clone(name))
		}
	})
	if err != nil {
		if rel == "" {
			return fmt.Errorf("key directory: %w", err)
		}
		w.refuse(rel, keyfile.Refuse(keyfile.ReasonRead, "%w", errors.Unwrap(err)))
		return nil
	}
	slices.Sort(subdirs)
	for _, name := range subdirs {
		if err := w.follow(dir, rel, name, di); err != nil {
			return err
		}
	}
	return nil
}

// follow follows what is neither a hidden name nor a regular file: a directory, a symlink,
// or something refused.
func (w *walker) follow(dir, rel, name string, di int32) error {
	path, relPath := filepath.Join(dir, name), filepath.Join(rel, name)
	fi, err := os.Lstat(path)
	if err != nil {
		w.refuse(relPath, keyfile.Refuse(keyfile.ReasonRead, "%w", errors.Unwrap(err)))
		return nil
	}
	typ, followed := fi.Mode().Type(), false
	if typ&os.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			w.refuse(relPath, keyfile.Refuse(keyfile.ReasonSymlink, "unresolvable symlink: %w", errors.Unwrap(err)))
			return nil
		}
		if !within(w.root, target) {
			w.refuse(relPath, keyfile.Refuse(keyfile.ReasonSymlink, "symlink leads outside the key directory"))
			return nil
		}
		fi, err := os.Stat(target)
		if err != nil {
			w.refuse(relPath, keyfile.Refuse(keyfile.ReasonRead, "%w", errors.Unwrap(err)))
			return nil
		}
		path, typ, followed = target, fi.Mode().Type(), true
	}
	switch {
	case typ.IsDir():
		if w.seen[path] {
			return nil
		}
		w.seen[path] = true
		return w.walk(path, relPath)
	case !typ.IsRegular():
		w.refuse(relPath, keyfile.Refuse(keyfile.ReasonRead, "not a regular file"))
	case followed:
		w.other = append(w.other, path)
		w.add(rel, name, di, int32(len(w.other)-1), -1)
	default:
		w.add(rel, name, di, -1, -1)
	}
	return nil
}

// add adds the file name in the directory rel (relative to root) as a job; a refused one
// has its whole relative path as name, and no directory.
func (w *walker) add(rel, name string, dir, other, err int32) {
	off := len(w.paths)
	if rel != "" {
		w.paths = append(append(w.paths, rel...), filepath.Separator)
	}
	w.paths = append(w.paths, name...)
	s := span{uint32(off), uint32(len(w.paths) - off)}
	base := int32(len(name))
	if err >= 0 {
		base = 0
	}
	w.jobs = append(w.jobs, job{head: head(w.paths[off:]), next: head(w.paths[min(off+8, len(w.paths)):]), rel: s, base: base, dir: dir, other: other, err: err})
}

// name is the name of jb's file in its directory.
func (w *walker) name(jb *job) string {
	return w.text[jb.rel.off+jb.rel.n-uint32(jb.base) : jb.rel.off+jb.rel.n]
}

// locate returns how to open jb's file: by name in an open directory (dirfd, name), or by
// path; and the hash of its real path.
func (w *walker) locate(jb *job) (dirfd int, name, path string, real uint64) {
	if jb.other >= 0 {
		path = w.other[jb.other]
		return -1, "", path, hash64(path)
	}
	d, name := &w.dirs[jb.dir], w.name(jb)
	real = hashOn(d.hash, name)
	if d.fd >= 0 {
		return d.fd, name, "", real
	}
	return -1, "", w.pathOf(jb), real
}

// hashOn goes on hashing with hash64 from h, the hash of a prefix, through b.
func hashOn(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// pathOf is the full path of jb's file.
func (w *walker) pathOf(jb *job) string {
	if jb.other >= 0 {
		return w.other[jb.other]
	}
	return w.dirs[jb.dir].path + string(filepath.Separator) + w.name(jb)
}

// refuse records a file that could not be read at all.
func (w *walker) refuse(rel string, err error) {
	w.errs = append(w.errs, err)
	w.add("", rel, -1, -1, int32(len(w.errs)-1))
}

// sort puts the jobs in path order, the order of the files of a read, and ends the walk:
// its paths are not written again. The paths are laid out again in that order, so that the
// read, which goes through them several times, goes through memory in order, not at random.
func (w *walker) sort() {
	w.jobs = sortJobs(w.jobs, unsafe.String(unsafe.SliceData(w.paths), len(w.paths)))
	paths := make([]byte, 0, len(w.paths))
	for i := range w.jobs {
		jb := &w.jobs[i]
		off := len(paths)
		paths = append(paths, w.paths[jb.rel.off:jb.rel.off+jb.rel.n]...)
		jb.rel.off = uint32(off)
	}
	w.paths, w.text = paths, unsafe.String(unsafe.SliceData(paths), len(paths))
}

// head is the first 8 octets of path as a big-endian number, zero-padded. A path holds no
// zero octet, so two heads compare as their paths do, unless they are equal.
func head(path []byte) uint64 {
	var h uint64
	for i := range 8 {
		h <<= 8
		if i < len(path) {
			h |= uint64(path[i])
		}
	}
	return h
}

// rel is the path of jb's file relative to root.
func (w *walker) rel(jb *job) string { return w.text[jb.rel.off : jb.rel.off+jb.rel.n] }

// done closes the directories the walk kept open.
func (w *walker) done() {
	for _, d := range w.dirs {
		closeDir(d.fd)
	}
}

func within(root, path string) bool {
	r, err := filepath.Rel(root, path)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

// DirState is what the directories of a key directory looked like after a read: a
// kubelet or git-sync swap, and any file added, removed or renamed, changes it.
type DirState struct {
	root  string
	paths []string
	dirs  []fileStat
}

// dirState is the state of the directories w walked.
func (w *walker) dirState() *DirState {
	ds := &DirState{root: w.root}
	for d := range w.seen {
		if st, err := statPath(d, hash64(d)); err == nil {
			ds.dirs = append(ds.dirs, st)
			ds.paths = append(ds.paths, d)
		}
	}
	return ds
}

// unchanged reports whether dir still resolves to the same root and its directories
// still have the same inode and modification time.
func (ds *DirState) unchanged(dir string) bool {
	if ds == nil {
		return false
	}
	if root, err := filepath.EvalSymlinks(dir); err != nil || root != ds.root {
		return false
	}
	for i, d := range ds.paths {
		st, err := statPath(d, hash64(d))
		if err != nil || st != ds.dirs[i] {
			return false
		}
	}
	return true
}
