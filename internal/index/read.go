package index

import (
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

// reader reads and parses the files a walk found and packs their keys, in path order, into
// the stage: the index the read builds as it goes, which Build completes. Nothing of the
// whole key set is held twice: each file's keys go from its parse straight into the
// stage's arrays.
type reader struct {
	w     *walker
	prev  *Index
	opts  *Options
	pace  *Pacer
	stage *builder
	same  []int32 // by job: the number in prev of a file unchanged since, or -1
	nSame int

	mu     sync.Mutex
	turn   sync.Cond
	next   int // the batch whose turn it is to be packed
	copied int // files packed so far
}

// worker is what one goroutine of a read reuses from file to file.
type worker struct {
	buf     []byte          // the file being read
	cname   []byte          // its name as a C string
	scratch keyfile.Scratch // what its parse makes, until the next file's
	hint    int             // in the last read's index, the file after the last one found
	packed  []byte          // the batch's keys, packed
	out     []parsed        // the batch's files
}

// readAhead is how many workers an unpaced read runs at least, whatever the CPUs: files
// that are not in the page cache keep a worker waiting on the disk, and the others go on
// meanwhile, so a first load after a pod starts, or after the cache was evicted, is not
// bound by one read at a time. On files in the cache the extra workers only take turns.
const readAhead = 8

// readWorkers is how many goroutines read batches files: one when paced, else one per
// CPU and at least readAhead, and never more than there are batches.
func readWorkers(batches int, paced bool) int {
	if paced {
		return 1
	}
	return min(max(runtime.GOMAXPROCS(0), readAhead), batches)
}

// batchSize is how many files a worker reads and parses before it packs them into the
// stage, in its turn.
const batchSize = 256

// readAll reads, parses and packs every file of the walk, on every CPU, or paced on this
// goroutine; it returns the read's files in path order.
func (r *reader) readAll() []*File {
	r.turn.L = &r.mu
	n := len(r.w.jobs)
	batches := (n + batchSize - 1) / batchSize
	var next atomic.Int64
	run := func() {
		var wk worker
		for b := int(next.Add(1)) - 1; b < batches; b = int(next.Add(1)) - 1 {
			lo, hi := b*batchSize, min(n, (b+1)*batchSize)
			wk.packed, wk.out = wk.packed[:0], wk.out[:0]
			for j := lo; j < hi && !r.pace.stopped(); j++ {
				wk.out = append(wk.out, parsed{})
				r.parse(&wk, j, &wk.out[len(wk.out)-1])
				if r.pace.Paced() {
					r.pace.tick()
				}
			}
			r.commit(b, lo, &wk)
		}
	}
	if workers := readWorkers(batches, r.pace.Paced()); workers <= 1 {
		run()
	} else {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(run)
		}
		wg.Wait()
	}
	r.pace.tick() // a shutdown while the workers ran ends the load here
	return r.files()
}

// commit packs batch b, whose first file is job lo, into the stage once every batch
// before it is in.
func (r *reader) commit(b, lo int, wk *worker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.next != b {
		r.turn.Wait()
	}
	for i := range wk.out {
		r.stageFile(lo+i, &wk.out[i], wk.packed)
	}
	r.copied += len(wk.out)
	if b == 0 && r.prev == nil {
		r.stage.reserve(r.copied, len(r.w.jobs))
	}
	r.next++
	r.turn.Broadcast()
}

// stageFile packs job j's file into the stage: its keys as parsed, or those of its last
// read that it keeps.
func (r *reader) stageFile(j int, p *parsed, packed []byte) {
	if p.same {
		if r.same == nil {
			r.same = make([]int32, len(r.w.jobs))
			for i := range r.same {
				r.same[i] = -1
			}
		}
		r.same[j] = p.prev
		r.nSame++
		return
	}
	b, ix := r.stage, r.stage.ix
	fid := len(ix.fileRecs)
	ix.fileRecs = append(ix.fileRecs, fileRec{stat: p.stat, sum: p.sum, kept: p.kept})
	var src *Index
	var sfid int32
	if p.from != nil {
		src, sfid = p.from.src, p.from.fid
	}
	if p.from != nil || p.err != nil {
		packed = nil
	} else {
		packed = p.packed.of(packed)
	}
	b.addFile(fid, r.w.rel(&r.w.jobs[j]), packed, src, sfid)
	if p.err != nil || len(p.warnings) > 0 {
		if ix.notes == nil {
			ix.notes = map[uint32]*fileNote{}
		}
		ix.notes[uint32(fid)] = &fileNote{err: p.err, warnings: p.warnings}
	}
}

// files returns the read's files, in path order: those packed into the stage, their paths
// made over the walk's, and those unchanged since the last read. A poll of a large
// directory where nothing changed makes them all here, in two allocations: until now the
// read holds nothing per file that the collector would trace while it runs.
func (r *reader) files() []*File {
	w, ix := r.w, r.stage.ix
	files := make([]*File, len(w.jobs))
	staged := make([]File, len(ix.fileRecs)+r.nSame)
	same := staged[len(ix.fileRecs):]
	fid := 0
	for j := range w.jobs {
		if r.same != nil && r.same[j] >= 0 {
			f := &same[0]
			same = same[1:]
			r.prev.fileInto(f, int(r.same[j]))
			f.Path, f.Same = w.rel(&w.jobs[j]), true
			files[j] = f
			continue
		}
		f := &staged[fid]
		f.Path, f.src, f.fid, f.Kept = w.rel(&w.jobs[j]), ix, int32(fid), ix.fileRecs[fid].kept
		if n := ix.notes[uint32(fid)]; n != nil {
			f.Err, f.Warnings = n.err, n.warnings
		}
		files[j] = f
		fid++
	}
	return files
}

// newStage returns the builder of a read's stage for n files, packed for o; a first read
// packs them all, a reload those that changed.
func newStage(n int, first bool, o *Options) *builder {
	ix := &Index{seed: maphash.MakeSeed(), records: map[string]int{}, algCount: map[string]int{}}
	if first {
		ix.fileRecs = make([]fileRec, 0, n)
	}
	b := &builder{ix: ix, opts: o, kinds: map[string]uint8{}}
	ix.stage = b
	return b
}

// reserve sizes the stage's arrays for total files from the first done: growing a blob of
// hundreds of megabytes by doubling would hold it twice at once.
func (b *builder) reserve(done, total int) {
	if done == 0 || total <= done {
		return
	}
	ix := b.ix
	grow := func(n int) int { return int(int64(n)*int64(total-done)/int64(done)*21/20) + 64 }
	ix.blob = growTo(ix.blob, grow(len(ix.blob)+portBytes(ix, b.opts.Ports))) // and the _PORT names Build adds
	ix.keys = growTo(ix.keys, grow(len(ix.keys)))
	ix.owners = growTo(ix.owners, grow(len(ix.owners)))
}

// growTo returns s with room for n more.
func growTo[S ~[]E, E any](s S, n int) S {
	if cap(s)-len(s) >= n {
		return s
	}
	t := make(S, len(s), len(s)+n)
	copy(t, s)
	return t
}
