package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

// contentSeeds key contentSum: they are made afresh by each process, and the sums are
// only compared within it.
var contentSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// contentSum identifies a file's content between two reads: two 64-bit hashes under
// seeds no one outside the process knows. A changed file taken for unchanged would need
// its old and new content to agree in all 128 bits, by chance; a cryptographic hash, which
// would also hold against someone who knew the seeds, costs a load of a million keys
// most of a second.
func contentSum(data []byte) (sum [16]byte) {
	binary.LittleEndian.PutUint64(sum[:8], maphash.Bytes(contentSeeds[0], data))
	binary.LittleEndian.PutUint64(sum[8:], maphash.Bytes(contentSeeds[1], data))
	return sum
}

// maxFileSize is the largest key file read; anything bigger is refused.
const maxFileSize = 1 << 20

var (
	errNotRegular = errors.New("not a regular file")
	errTooLarge   = errors.New("over the size limit")
)

// File is what one file of the key directory gave.
type File struct {
	Path     string  // path relative to the key directory, through visible names only
	Err      error   // why the file was refused on this read, if it was
	Warnings []error // published, but something in it was left out or is out of date

	// Its keys, stat and content hash are in an index: the one this read packed it into,
	// or an earlier one, for a file unchanged.
	src *Index
	fid int32

	Same bool // the file looked as it did on the last read, and was not read again
	Kept bool // Err is set, and the file keeps the keys of its last good read
}

// rec is what f's index holds of it.
func (f *File) rec() *fileRec { return &f.src.fileRecs[f.fid] }

// fileStat identifies one version of a file: a file whose real path, inode, size and
// modification time are unchanged is not read again.
type fileStat struct {
	real  uint64 // hash of the real path, after symlinks
	ino   uint64
	size  int64
	mtime int64
}

// ReadDir reads every key file under dir, packing their keys as it parses them into the
// index Build completes; prev is the index of the last read (nil for none), whose files
// are not read again when their stat is unchanged. Each key keeps the IPSECA rdata o asks
// for, computed once, and not the certificate and SubjectPublicKeyInfo it came from. It
// also returns the state of the directories it walked. A paced pc keeps the reading to a
// share of one CPU, on one goroutine; otherwise it runs on every CPU.
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
	w := &walker{root: root, pace: pc, seen: map[string]bool{root: true}}
	defer w.done()
	if err := w.walk(root, ""); err != nil {
		return nil, nil, err
	}
	w.sort()
	r := &reader{w: w, prev: prev, opts: o, pace: pc, stage: newStage(len(w.jobs), prev == nil, o)}
	files := r.readAll()
	return files, w.dirState(), nil
}

// parsed is one file read and parsed, waiting its turn to be packed into the stage.
type parsed struct {
	stat     fileStat
	sum      [16]byte
	err      error
	warnings []error
	from     *File // a file of the last read whose keys it has: the same content, or kept
	same     bool  // unchanged since the last read: prev is the file
	prev     int32 // the file's number in the last read's index, or -1
	kept     bool
	packed   span // its keys as packKeys packs them, in the worker's buffer
}

// parse reads and parses job j into out, its packed keys appended to wk.packed. It runs
// concurrently: it only reads the walk and r.prev, which are not written meanwhile.
func (r *reader) parse(wk *worker, j int, out *parsed) {
	w := r.w
	jb := &w.jobs[j]
	*out = parsed{prev: -1}
	if r.prev != nil {
		out.prev = int32(r.prev.prevFid(w.rel(jb), wk.hint))
		wk.hint = int(out.prev) + 1
	}
	if jb.err >= 0 {
		out.err = w.errs[jb.err]
		r.keep(out)
		return
	}
	dirfd, name, path, real := w.locate(jb)
	if out.prev >= 0 {
		// A file seen before is stat'ed first: most are unchanged, and are not opened.
		st, err := statAt(dirfd, name, path, real)
		if err != nil {
			out.err = keyfile.Refuse(keyfile.ReasonRead, "%w", err)
			r.keep(out)
			return
		}
		if st == r.prev.fileRecs[out.prev].stat {
			out.same = true
			return
		}
	}
	data, st, err := readFile(dirfd, name, path, real, wk.buf, &wk.cname)
	if cap(data) > cap(wk.buf) {
		wk.buf = data[:0]
	}
	out.stat = st
	switch {
	case err == errTooLarge:
		out.err = keyfile.Refuse(keyfile.ReasonSize, "%d bytes, over the %d byte limit", st.size, maxFileSize)
	case err == errNotRegular:
		out.err = keyfile.Refuse(keyfile.ReasonRead, "not a regular file")
	case err != nil:
		out.err = keyfile.Refuse(keyfile.ReasonRead, "%w", err)
	case len(data) > maxFileSize:
		out.err = keyfile.Refuse(keyfile.ReasonSize, "over the %d byte limit", maxFileSize)
	}
	if out.err != nil {
		r.keep(out)
		return
	}
	out.sum = contentSum(data)
	if out.prev >= 0 && r.prev.fileRecs[out.prev].sum == out.sum {
		// Same content under a new name or inode (a kubelet swap): reuse the parse.
		p := r.prev.fileAt(int(out.prev))
		out.from, out.err, out.warnings, out.kept = p, p.Err, p.Warnings, p.Kept
		return
	}
	// The keys live in the worker's scratch: packKeys copies what it keeps, before the
	// worker's next file.
	keys, err := keyfile.Parse(&wk.scratch, data)
	if err == nil {
		out.warnings, err = keyfile.AssignOwners(w.name(jb), keys)
	}
	for i, k := range keys {
		if err == nil {
			err = checkField(k.Field)
		}
		if k.Expired {
			out.warnings = append(out.warnings, fmt.Errorf("certificate %d is expired or not yet valid; published all the same", i+1))
		}
	}
	if out.err = err; err != nil {
		r.keep(out)
		return
	}
	start := len(wk.packed)
	var warnings []error
	wk.packed, warnings = packKeys(wk.packed, keys, r.opts, &wk.scratch)
	out.packed = span{uint32(start), uint32(len(wk.packed) - start)}
	out.warnings = append(out.warnings, warnings...)
}

// readAll reads a file of size octets into buf, whose room it reuses: at most
// maxFileSize+1 octets, so that a file grown past the limit since its stat is refused.
func readAll(size int64, buf []byte, read func([]byte) (int, error)) ([]byte, error) {
	if int64(cap(buf)) <= size {
		buf = make([]byte, 0, min(size, maxFileSize)+1)
	}
	buf = buf[:0]
	for len(buf) <= maxFileSize {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grew since the stat
		}
		n, err := read(buf[len(buf):cap(buf)])
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

// keep gives a refused file the keys of its last good read, if there was one.
func (r *reader) keep(out *parsed) {
	if out.prev >= 0 && r.prev.fileRecs[out.prev].keys.n > 0 {
		out.from, out.kept = r.prev.fileAt(int(out.prev)), true
	}
}

// packKeys appends keys, and the records o asks of them, to b, one after the other:
// algorithm, kind (length, text), key field (two-octet length), IPSECA rdata as packIPSECA
// packs it (four-octet length), owners (four-octet length; each a two-octet port and the
// name with a length octet). Every length is checked against its field; an IPSECA record
// too large for a DNS message is left out, with a warning.
// The IPSECA rdata are made in s (see keyfile.Scratch).
func packKeys(b []byte, keys []*keyfile.Key, o *Options, s *keyfile.Scratch) ([]byte, []error) {
	var warnings []error
	for i, k := range keys {
		recs, left := fitIPSECA(k.Associations(s, o.DANE))
		for _, d := range left {
			warnings = append(warnings, keyfile.Refuse(keyfile.ReasonSize, "key %d: IPSECA %d %d %d left out: %d octets of association data; the key's IPSECA records must fit in %d octets",
				i+1, d.Usage, d.Selector, d.Matching, len(d.Data), maxRRsetWire))
		}
		b = append(append(append(b, k.Algorithm), byte(len(k.Kind))), k.Kind...)
		b = append(binary.BigEndian.AppendUint16(b, uint16(len(k.Field))), k.Field...)
		at := len(b)
		b = packIPSECA(append(b, 0, 0, 0, 0), recs)
		binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
		at = len(b)
		b = append(b, 0, 0, 0, 0)
		for _, ow := range k.Owners {
			if len(ow.Name) > keyfile.MaxNameLen {
				continue // never: owners are checked when made
			}
			b = binary.BigEndian.AppendUint16(b, ow.Port)
			b = append(append(b, byte(len(ow.Name))), ow.Name...)
		}
		binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	return b, warnings
}

// packedKey is one key of packKeys' output.
type packedKey struct {
	alg                         uint8
	kind, field, ipseca, owners []byte
}

// nextPacked reads the first key of p; its field is nil when p is malformed.
func nextPacked(p []byte) (packedKey, []byte) {
	var k packedKey
	if len(p) < 2 || len(p) < 2+int(p[1]) {
		return k, nil
	}
	k.alg, k.kind, p = p[0], p[2:2+int(p[1])], p[2+int(p[1]):]
	if len(p) < 2 || len(p) < 2+int(binary.BigEndian.Uint16(p)) {
		return packedKey{}, nil
	}
	n := int(binary.BigEndian.Uint16(p))
	field := p[2 : 2+n]
	p = p[2+n:]
	if len(p) < 4 || uint64(len(p)) < 4+uint64(binary.BigEndian.Uint32(p)) {
		return packedKey{}, nil
	}
	n = int(binary.BigEndian.Uint32(p))
	k.ipseca, p = p[4:4+n], p[4+n:]
	if len(p) < 4 || uint64(len(p)) < 4+uint64(binary.BigEndian.Uint32(p)) {
		return packedKey{}, nil
	}
	n = int(binary.BigEndian.Uint32(p))
	k.owners, p = p[4:4+n], p[4+n:]
	k.field = field
	return k, p
}
