package ipsecoe

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxFileSize is the largest key file read; anything bigger is refused.
const maxFileSize = 1 << 20

// timeNow is the clock certificate validity is checked against; tests replace it.
var timeNow = time.Now

// keyFile is what one file of the key directory gave.
type keyFile struct {
	path string // path relative to the key directory, through visible names only
	sum  [sha256.Size]byte
	stat fileStat  // what the file looked like when it was read
	keys []*pubKey // the keys published for this file (possibly from an earlier, good read)
	err  error     // why the file was refused on this read, if it was
	kept bool      // err is set and keys are the last good ones

	warnings []string // published, but something in it was skipped or is out of date
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
	st := fileStat{real: hash64(real), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = uint64(sys.Ino)
	}
	return st
}

// fileError is a refused file, with the path relative to the key directory.
type fileError struct {
	path string
	err  error
}

func (e *fileError) Error() string { return e.path + ": " + e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// readKeyDir reads every key file under dir. A file that fails to parse but parsed before
// (in prev, by path) keeps its earlier keys. Only a dir that cannot be read at all is an
// error; a bad file is reported in its keyFile.
func readKeyDir(dir string, prev map[string]*keyFile) ([]*keyFile, error) {
	return readKeyDirFor(dir, prev, nil)
}

// readKeyDirFor is readKeyDir for the records o asks for: each key keeps its IPSECA rdata,
// computed once, and not the certificate and SubjectPublicKeyInfo it came from. With a nil
// o the keys keep everything.
func readKeyDirFor(dir string, prev map[string]*keyFile, o *options) ([]*keyFile, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("key directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("key directory %s: not a directory", dir)
	}
	w := &walker{root: root, prev: prev, opts: o, seen: map[string]bool{root: true}}
	if err := w.walk(root, ""); err != nil {
		return nil, err
	}
	w.readAll()
	sort.Slice(w.files, func(i, j int) bool { return w.files[i].path < w.files[j].path })
	return w.files, nil
}

type walker struct {
	root  string
	prev  map[string]*keyFile
	opts  *options
	seen  map[string]bool // real directories visited, against symlink loops
	files []*keyFile
	jobs  []readJob // files to read and parse, with their place in files
}

type readJob struct {
	at        int
	path, rel string
	stat      fileStat
}

// readAll reads and parses the files the walk found changed, on every CPU.
func (w *walker) readAll() {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(w.jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(w.jobs); i = int(next.Add(1)) - 1 {
				j := w.jobs[i]
				w.files[j.at] = w.read(j.path, j.rel, j.stat)
			}
		}()
	}
	wg.Wait()
}

func (w *walker) walk(dir, rel string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if rel == "" {
			return fmt.Errorf("key directory: %w", err)
		}
		w.refuse(rel, refuse(reasonRead, "%v", errors.Unwrap(err)))
		return nil
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path, relPath := filepath.Join(dir, name), filepath.Join(rel, name)
		if e.Type()&os.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(path)
			if err != nil {
				w.refuse(relPath, refuse(reasonSymlink, "unresolvable symlink: %v", errors.Unwrap(err)))
				continue
			}
			if !within(w.root, target) {
				w.refuse(relPath, refuse(reasonSymlink, "symlink leads outside the key directory"))
				continue
			}
			path = target
		}
		fi, err := os.Stat(path)
		if err != nil {
			w.refuse(relPath, refuse(reasonRead, "%v", errors.Unwrap(err)))
			continue
		}
		switch {
		case fi.IsDir():
			if w.seen[path] {
				continue
			}
			w.seen[path] = true
			if err := w.walk(path, relPath); err != nil {
				return err
			}
		case !fi.Mode().IsRegular():
			w.refuse(relPath, refuse(reasonRead, "not a regular file"))
		case fi.Size() > maxFileSize:
			w.refuse(relPath, refuse(reasonSize, "%d bytes, over the %d byte limit", fi.Size(), maxFileSize))
		default:
			st := statOf(path, fi)
			if p := w.prev[relPath]; p != nil && p.stat == st {
				w.files = append(w.files, p) // the same file as last time: not read again
				continue
			}
			w.jobs = append(w.jobs, readJob{at: len(w.files), path: path, rel: relPath, stat: st})
			w.files = append(w.files, nil)
		}
	}
	return nil
}

func within(root, path string) bool {
	r, err := filepath.Rel(root, path)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

// read reads and parses one file. It runs concurrently: it only reads w.prev.
func (w *walker) read(path, rel string, st fileStat) *keyFile {
	f, err := os.Open(path)
	if err != nil {
		return w.refused(rel, refuse(reasonRead, "%v", errors.Unwrap(err)))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	f.Close()
	if err != nil {
		return w.refused(rel, refuse(reasonRead, "%v", err))
	}
	if len(data) > maxFileSize {
		return w.refused(rel, refuse(reasonSize, "over the %d byte limit", maxFileSize))
	}
	sum := sha256.Sum256(data)
	if p := w.prev[rel]; p != nil && p.sum == sum {
		// Same content under a new name or inode (a kubelet swap): reuse the parse.
		kf := *p
		kf.stat = st
		return &kf
	}
	kf := &keyFile{path: rel, sum: sum, stat: st}
	kf.keys, kf.err = parseKeyFile(data)
	if kf.err == nil {
		kf.warnings, kf.err = assignOwners(filepath.Base(rel), kf.keys)
		for i, k := range kf.keys {
			if k.expired {
				kf.warnings = append(kf.warnings, fmt.Sprintf("certificate %d is expired or not yet valid; published all the same", i+1))
			}
			if w.opts != nil {
				k.compact(w.opts)
			}
		}
	}
	if kf.err != nil {
		w.keep(kf)
	}
	return kf
}

// refused is a file that could not be read at all.
func (w *walker) refused(rel string, err error) *keyFile {
	kf := &keyFile{path: rel, err: err}
	w.keep(kf)
	return kf
}

// refuse records a file that could not be read at all.
func (w *walker) refuse(rel string, err error) {
	w.files = append(w.files, w.refused(rel, err))
}

// keep gives a refused file the keys of its last good read, if there was one.
func (w *walker) keep(kf *keyFile) {
	kf.keys = nil
	if p := w.prev[kf.path]; p != nil && len(p.keys) > 0 {
		kf.keys, kf.kept = p.keys, true
	}
}
