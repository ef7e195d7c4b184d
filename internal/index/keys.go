package index

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

// maxFileSize is the largest key file read; anything bigger is refused.
const maxFileSize = 1 << 20

// File is what one file of the key directory gave.
type File struct {
	Path     string  // path relative to the key directory, through visible names only
	Same     bool    // the file looked as it did on the last read, and was not read again
	Err      error   // why the file was refused on this read, if it was
	Kept     bool    // Err is set, and the file keeps the keys of its last good read
	Warnings []error // published, but something in it was left out or is out of date

	sum  [16]byte // the first half of the content's SHA-256
	stat fileStat // what the file looked like when it was read

	// Its keys are in one of two places: packed as parsed on this read (see packKeys), so
	// that a reload of many files holds bytes rather than objects for the collector to
	// trace; or, once an index is built, in that index (possibly an earlier one, for a file
	// unchanged or kept).
	packed []byte
	nkeys  int32
	src    *Index
	fid    int32
}

// fileStat identifies one version of a file: a file whose real path, inode, size and
// modification time are unchanged is not read again.
type fileStat struct {
	real  uint64 // hash of the real path, after symlinks
	ino   uint64
	size  int64
	mtime int64
}

func statOf(real string, fi os.FileInfo) fileStat {
	return fileStat{real: hash64(real), ino: inode(fi), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// readKeyDirFor is readKeyDir for the records o asks for: each key keeps its IPSECA rdata,
// computed once, and not the certificate and SubjectPublicKeyInfo it came from. With a nil
// o the keys keep everything. It also returns the state of the directories it walked. A
// non-nil pc paces the reading to a share of one CPU, on one goroutine.
func ReadDir(dir string, prev *Index, o *Options, pc *Pacer) ([]*File, *DirState, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("key directory: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, nil, fmt.Errorf("key directory: %w", err)
	} else if !fi.IsDir() {
		return nil, nil, fmt.Errorf("key directory %s: not a directory", dir)
	}
	if o == nil {
		o = &Options{}
	}
	w := &walker{root: root, prev: prev, opts: o, pace: pc, seen: map[string]bool{root: true}}
	if err := w.walk(root, ""); err != nil {
		return nil, nil, err
	}
	w.readAll()
	sort.Slice(w.files, func(i, j int) bool { return w.files[i].Path < w.files[j].Path })
	ds := &DirState{root: root}
	for d := range w.seen {
		if fi, err := os.Stat(d); err == nil {
			ds.dirs = append(ds.dirs, statOf(d, fi))
			ds.paths = append(ds.paths, d)
		}
	}
	return w.files, ds, nil
}

// DirState is what the directories of a key directory looked like after a read: a
// kubelet or git-sync swap, and any file added, removed or renamed, changes it.
type DirState struct {
	root  string
	paths []string
	dirs  []fileStat
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
		fi, err := os.Stat(d)
		if err != nil || statOf(d, fi) != ds.dirs[i] {
			return false
		}
	}
	return true
}

type walker struct {
	root  string
	prev  *Index // the index of the last read, nil for none
	opts  *Options
	pace  *Pacer
	seen  map[string]bool // real directories visited, against symlink loops
	files []*File
	jobs  []readJob // files to read and parse, with their place in files
}

type readJob struct {
	at        int
	path, rel string
}

// readAll reads and parses the files the walk found, on every CPU, or paced on one.
func (w *walker) readAll() {
	if w.pace.Paced() {
		for _, j := range w.jobs {
			w.files[j.at] = w.read(j.path, j.rel)
			w.pace.tick()
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(w.jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(w.jobs) && !w.pace.stopped(); i = int(next.Add(1)) - 1 {
				j := w.jobs[i]
				w.files[j.at] = w.read(j.path, j.rel)
			}
		}()
	}
	wg.Wait()
	w.pace.tick() // a shutdown while the workers ran ends the load here
}

func (w *walker) walk(dir, rel string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if rel == "" {
			return fmt.Errorf("key directory: %w", err)
		}
		w.refuse(rel, keyfile.Refuse(keyfile.ReasonRead, "%w", errors.Unwrap(err)))
		return nil
	}
	for _, e := range entries {
		w.pace.tick()
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path, relPath := filepath.Join(dir, name), filepath.Join(rel, name)
		typ := e.Type()
		if typ&os.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(path)
			if err != nil {
				w.refuse(relPath, keyfile.Refuse(keyfile.ReasonSymlink, "unresolvable symlink: %w", errors.Unwrap(err)))
				continue
			}
			if !within(w.root, target) {
				w.refuse(relPath, keyfile.Refuse(keyfile.ReasonSymlink, "symlink leads outside the key directory"))
				continue
			}
			fi, err := os.Stat(target)
			if err != nil {
				w.refuse(relPath, keyfile.Refuse(keyfile.ReasonRead, "%w", errors.Unwrap(err)))
				continue
			}
			path, typ = target, fi.Mode().Type()
		}
		switch {
		case typ.IsDir():
			if w.seen[path] {
				continue
			}
			w.seen[path] = true
			if err := w.walk(path, relPath); err != nil {
				return err
			}
		case !typ.IsRegular():
			w.refuse(relPath, keyfile.Refuse(keyfile.ReasonRead, "not a regular file"))
		default:
			// Stat and read on the workers: a large directory is mostly files.
			w.jobs = append(w.jobs, readJob{at: len(w.files), path: path, rel: relPath})
			w.files = append(w.files, nil)
		}
	}
	return nil
}

func within(root, path string) bool {
	r, err := filepath.Rel(root, path)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

// read stats, reads and parses one file; a file whose stat is unchanged since the last
// read is not read again. It runs concurrently: it only reads w.prev, which is immutable.
func (w *walker) read(path, rel string) *File {
	fi, err := os.Stat(path)
	if err != nil {
		return w.refused(rel, keyfile.Refuse(keyfile.ReasonRead, "%w", errors.Unwrap(err)))
	}
	if fi.Size() > maxFileSize {
		return w.refused(rel, keyfile.Refuse(keyfile.ReasonSize, "%d bytes, over the %d byte limit", fi.Size(), maxFileSize))
	}
	st := statOf(path, fi)
	p := w.prev.prevFile(rel)
	if p != nil && p.stat == st {
		p.Same = true
		return p // the same file as last time
	}
	data, err := readFile(path, fi.Size())
	if err != nil {
		return w.refused(rel, keyfile.Refuse(keyfile.ReasonRead, "%w", err))
	}
	if len(data) > maxFileSize {
		return w.refused(rel, keyfile.Refuse(keyfile.ReasonSize, "over the %d byte limit", maxFileSize))
	}
	var sum [16]byte
	full := sha256.Sum256(data)
	copy(sum[:], full[:])
	if p != nil && p.sum == sum {
		// Same content under a new name or inode (a kubelet swap): reuse the parse.
		kf := *p
		kf.stat = st
		return &kf
	}
	kf := &File{Path: rel, sum: sum, stat: st}
	keys, err := keyfile.Parse(data)
	if err == nil {
		kf.Warnings, err = keyfile.AssignOwners(filepath.Base(rel), keys)
	}
	for i, k := range keys {
		if err == nil {
			err = checkField(k.Field)
		}
		if k.Expired {
			kf.Warnings = append(kf.Warnings, fmt.Errorf("certificate %d is expired or not yet valid; published all the same", i+1))
		}
	}
	if kf.Err = err; err == nil {
		var warnings []error
		kf.packed, warnings = packKeys(keys, w.opts)
		kf.nkeys, kf.Warnings = int32(len(keys)), append(kf.Warnings, warnings...)
	}
	if kf.Err != nil {
		w.keep(kf)
	}
	return kf
}

// refused is a file that could not be read at all.
func (w *walker) refused(rel string, err error) *File {
	kf := &File{Path: rel, Err: err}
	w.keep(kf)
	return kf
}

// refuse records a file that could not be read at all.
func (w *walker) refuse(rel string, err error) {
	w.files = append(w.files, w.refused(rel, err))
}

// keep gives a refused file the keys of its last good read, if there was one.
func (w *walker) keep(kf *File) {
	kf.src, kf.packed = nil, nil
	if p := w.prev.prevFile(kf.Path); p != nil && p.keyCount() > 0 {
		kf.src, kf.fid, kf.Kept = p.src, p.fid, true
	}
}

// keyCount is the number of keys the file gives.
func (f *File) keyCount() int {
	if f.src != nil {
		return int(f.src.fileRecs[f.fid].keys.n)
	}
	return int(f.nkeys)
}
