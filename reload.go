package ipsecoe

import (
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/ipsecoe/ipsecoe/internal/index"
	"github.com/ipsecoe/ipsecoe/internal/keyfile"
)

// reloadShare is the share of one CPU a reload may take while the server answers from the
// index it replaces; the first load, which nothing waits on but readiness, runs flat out.
const reloadShare = 0.1

// Polls of a directory of quickPollFiles files or more check its directories only, and
// every file once in fullScanEvery polls, or more seldom: a full scan is followed by at
// least fullScanRest times as long as it took of polls that check the directories only.
// Paced to a tenth of one CPU, full scans then take about a hundredth of one on average,
// however many files there are.
const (
	quickPollFiles = 10_000
	fullScanEvery  = 12
	fullScanRest   = 10
)

// start is the OnStartup hook: it loads the key directory and starts the poller. When the
// process starts, the first load runs in the background, so that the server's other zones
// answer at once (the plugin's own SERVFAIL until it is in, and ready waits for it). When
// a new Corefile is read, the load runs here, while the servers of the old one still
// answer from their index.
func (p *IPSecOE) start(background bool) error {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	if !background {
		p.load()
	}
	go func() {
		defer close(p.done)
		if background {
			p.load()
		}
		var poll <-chan time.Time // no polling with reload 0
		if p.reload > 0 {
			t := time.NewTicker(p.reload)
			defer t.Stop()
			poll = t.C
		}
		renew := time.NewTicker(renewEvery)
		defer renew.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-poll:
				p.load()
			case <-renew.C:
				p.renewPaced()
			}
		}
	}()
	return nil
}

// renewPaced runs the signatures' renewal pass on a share of one CPU, the way a reload
// runs; a shutdown ends it where it is.
func (p *IPSecOE) renewPaced() {
	defer func() {
		if r := recover(); r != nil && r != index.ErrStopped {
			panic(r)
		}
	}()
	p.renew(index.NewPacer(reloadShare, p.stop))
}

// shutdown stops the poller, and a load under way, within moments; it is the OnShutdown
// hook.
func (p *IPSecOE) shutdown() error {
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
	}
	return nil
}

// load reads the key directory and swaps a new index in when the key set changed. A file
// that stops parsing keeps its last good keys; every refusal is logged and counted once.
// Only the poller (and start, before it) calls load. A shutdown ends it where it is, the
// index it would have replaced left as it was.
func (p *IPSecOE) load() {
	defer func() {
		if r := recover(); r != nil && r != index.ErrStopped {
			panic(r)
		}
	}()
	begin := time.Now()
	// A large directory is stat'ed file by file only when one of its directories changed
	// (a kubelet or git-sync swap, a file added, removed or renamed) or every fullScanEvery
	// polls, for files rewritten in place: a poll must not cost the server its queries.
	p.polls++
	old := p.idx.Load()
	if old.FileCount() >= quickPollFiles && !p.fullScanDue() && p.lastErr == "" && p.dirs.Unchanged(p.dir) {
		return
	}
	p.polls = 0
	// A reload runs beside the server on a share of one CPU; the old index serves meanwhile.
	// The first load runs flat out, with the heap kept close to what it holds.
	pc := index.NewPacer(1, p.stop)
	if old != nil {
		pc = index.NewPacer(reloadShare, p.stop)
	} else {
		defer index.FirstLoadGC()()
	}
	cpu := processCPU()
	files, dirs, err := index.ReadDir(p.dir, old, &p.opts, pc)
	p.scanTook = pacedTook(time.Since(begin), processCPU()-cpu, pc.Paced())
	if err != nil {
		if p.lastErr != err.Error() {
			log.Errorf("%s", printable(err))
			p.count(reloadCount, "result", "failure")
			p.lastErr = err.Error()
		}
		return
	}
	changed := old == nil || len(files) != old.FileCount() || p.lastErr != ""
	restat := false // some file has a new stat: the index must learn it, for the next poll
	p.lastErr = ""
	for _, f := range files {
		if f.Same {
			continue // not read again
		}
		restat = true
		pf := old.PrevFile(f.Path)
		if pf != nil && pf.SameContent(f) && errText(pf.Err) == errText(f.Err) {
			continue // the same content under a new inode
		}
		changed = true
		if f.Err != nil && (pf == nil || errText(pf.Err) != errText(f.Err)) {
			if f.Kept {
				log.Errorf("%q: %s; keeping its last good keys", f.Path, printable(f.Err))
			} else {
				log.Errorf("%q: %s", f.Path, printable(f.Err))
			}
			p.count(loadErrorCount, "reason", keyfile.Reason(f.Err))
		}
		for _, w := range f.Warnings {
			log.Warningf("%q: %s", f.Path, printable(w))
			if keyfile.Reason(w) == keyfile.ReasonSize {
				p.count(loadErrorCount, "reason", keyfile.ReasonSize) // a record left out
			}
		}
	}
	p.dirs = dirs
	if !changed {
		if restat {
			ix := index.Build(files, &p.opts, pc) // the same records, the new stats
			ix.SetSerial(old.Serial())
			p.idx.Store(ix)
		}
		return
	}
	ix := index.Build(files, &p.opts, pc)
	keySetChanged := old == nil || ix.Sum() != old.Sum()
	if keySetChanged {
		ix.SetSerial(nextSerial(old, time.Now()))
	} else {
		ix.SetSerial(old.Serial())
	}
	for _, e := range ix.Errors() {
		if old == nil || !containsErr(old.Errors(), e) {
			log.Errorf("%s", printable(e))
			p.count(loadErrorCount, "reason", keyfile.Reason(e))
		}
	}
	for _, n := range ix.Notices() {
		if old == nil || !slices.Contains(old.Notices(), n) {
			log.Warningf("%s", printable(n))
		}
	}
	p.idx.Store(ix)
	p.sizeStores(ix)
	p.publish(ix)
	if keySetChanged {
		p.notify()
	}
	if old == nil && ix.Names() >= 100_000 {
		// Reading a large directory leaves as much garbage as the index it built: hand it
		// back now rather than keep it resident until the heap grows to meet it.
		debug.FreeOSMemory()
	}
	index.SettleGC()
	p.count(reloadCount, "result", "success")
	paced := ""
	if pc.Paced() {
		paced = fmt.Sprintf(" (paced: %.3fs resting)", pc.Rested().Seconds())
	}
	log.Infof("loaded %s from %q%s in %.3fs", ix.Summary(), p.dir, paced, time.Since(begin).Seconds())
}

// fullScanDue reports whether a poll of a large directory whose directories did not change
// stats every file (see fullScanEvery).
func (p *IPSecOE) fullScanDue() bool {
	every := fullScanEvery
	if p.reload > 0 {
		every = max(every, int(fullScanRest*p.scanTook/p.reload)+1)
	}
	return p.polls >= every
}

// pacedTook is how long a full read that took wall time and cpu time of the process
// takes paced: wall itself when it was. A first load runs flat out on every CPU, so a
// paced read doing its work takes cpu/reloadShare, or wall/reloadShare where the process's
// time is not known. Counted as it ran, the first full scan of a million files would come
// about a minute after the start, and take a tenth of a core for half a minute.
func pacedTook(wall, cpu time.Duration, paced bool) time.Duration {
	switch {
	case paced:
		return wall
	case cpu > 0:
		return time.Duration(float64(cpu) / reloadShare)
	default:
		return time.Duration(float64(wall) / reloadShare)
	}
}

// nextSerial is the SOA serial of a new key set: the time of the change in seconds, or the
// old serial plus one where that is not earlier (two changes in one second, or a clock set
// back), so that it always increases in RFC 1982 serial arithmetic and a secondary fetches
// every change. Each replica counts on its own: secondaries transfer from one of them.
func nextSerial(old *index.Index, now time.Time) uint32 {
	t := uint32(now.Unix())
	if old == nil {
		return t
	}
	next := old.Serial() + 1
	if int32(t-next) > 0 {
		return t
	}
	return next
}

// printable is the text of a log line's reason with every character that could end the
// line or drive a terminal escaped: names in it come from the key directory.
func printable(v any) string {
	s := fmt.Sprint(v)
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func containsErr(list []error, e error) bool {
	for _, x := range list {
		if x.Error() == e.Error() {
			return true
		}
	}
	return false
}
