package test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// RR is one record as dig or delv prints it with +unknownformat.
type RR struct {
	Name  string
	TTL   uint32
	Class string
	Type  uint16
	Hex   string // the RDATA in lower-case hex
}

// Answer is one dig run, parsed.
type Answer struct {
	Question string // what was asked: "NAME QTYPE over PROTO"
	Raw      string // dig's output
	Status   string
	Flags    []string
	Proto    string // UDP or TCP, from dig's SERVER line
	Sections map[string][]RR
}

// Flag reports whether the header had flag f ("aa", "tc", "ad", ...).
func (a *Answer) Flag(f string) bool { return slices.Contains(a.Flags, f) }

// ParseDig reads dig's default output. The records of the sections are parsed only when
// their RDATA is in the RFC 3597 form (+unknownformat); otherwise they are in Raw alone.
func ParseDig(out string, unknownFormat bool) (*Answer, error) {
	a := &Answer{Raw: out, Sections: map[string][]RR{}}
	section := ""
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case strings.Contains(line, "->>HEADER<<-"):
			_, rest, _ := strings.Cut(line, "status: ")
			a.Status, _, _ = strings.Cut(rest, ",")
		case strings.HasPrefix(line, ";; flags:"):
			f, _, _ := strings.Cut(strings.TrimPrefix(line, ";; flags:"), ";")
			a.Flags = strings.Fields(f)
		case strings.HasPrefix(line, ";; SERVER:"):
			if i := strings.LastIndexByte(line, '('); i >= 0 {
				a.Proto = strings.TrimSuffix(line[i+1:], ")")
			}
		case strings.HasPrefix(line, ";; ") && strings.HasSuffix(line, " SECTION:"):
			section = strings.TrimSuffix(strings.TrimPrefix(line, ";; "), " SECTION:")
			if _, ok := a.Sections[section]; !ok {
				a.Sections[section] = []RR{}
			}
		case line == "" || strings.HasPrefix(line, ";"):
			section = ""
		case section != "" && unknownFormat:
			rr, err := ParseRR(line)
			if err != nil {
				return nil, fmt.Errorf("%s section: %w", section, err)
			}
			a.Sections[section] = append(a.Sections[section], rr)
		}
	}
	if a.Status == "" {
		return nil, errors.New("no header in dig output")
	}
	return a, nil
}

// ParseRR reads "NAME TTL CLASS TYPE \# LEN HEX...".
func ParseRR(line string) (RR, error) {
	f := strings.Fields(line)
	if len(f) < 6 || f[4] != `\#` {
		return RR{}, fmt.Errorf("not an RFC 3597 record: %q", line)
	}
	ttl, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return RR{}, fmt.Errorf("bad TTL in %q", line)
	}
	var typ uint16
	if n, ok := strings.CutPrefix(f[3], "TYPE"); ok {
		v, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return RR{}, fmt.Errorf("bad type in %q", line)
		}
		typ = uint16(v)
	} else if typ, ok = dns.StringToType[f[3]]; !ok {
		return RR{}, fmt.Errorf("unknown type in %q", line)
	}
	n, err := strconv.Atoi(f[5])
	if err != nil {
		return RR{}, fmt.Errorf("bad RDATA length in %q", line)
	}
	h := strings.ToLower(strings.Join(f[6:], ""))
	if b, err := hex.DecodeString(h); err != nil || len(b) != n {
		return RR{}, fmt.Errorf("RDATA is not %d bytes of hex in %q", n, line)
	}
	return RR{Name: f[0], TTL: uint32(ttl), Class: f[2], Type: typ, Hex: h}, nil
}

// ParseRecords reads the records of delv's output (+unknownformat), skipping comments.
func ParseRecords(out string) ([]RR, error) {
	var rrs []RR
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := ParseRR(line)
		if err != nil {
			return nil, err
		}
		rrs = append(rrs, rr)
	}
	return rrs, nil
}

// Hexes returns the RDATA of the records of type typ.
func Hexes(rrs []RR, typ uint16) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Type == typ {
			out = append(out, rr.Hex)
		}
	}
	return out
}

// Set returns list sorted, without repeats.
func Set(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}

// Dig asks the server on a port of 127.0.0.1 with the dig program, and keeps every answer.
type Dig struct {
	path, port string

	mu   sync.Mutex
	seen []*Answer
}

// NewDig returns a Dig that runs the dig at path against the server on port.
func NewDig(path, port string) *Dig { return &Dig{path: path, port: port} }

// Run runs dig with args, without recursion, and returns its standard output; a timeout or
// an exit status is an error, returned with the standard error after the output. A warning
// dig writes to its standard error never lands inside the reply it prints.
func (d *Dig) Run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args = append([]string{"@127.0.0.1", "-p", d.port, "+norec"}, args...)
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, d.path, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

// Query asks name/qtype over proto ("udp" or "tcp") with +unknownformat and parses the
// reply. Over UDP it passes +ignore, so that a truncated reply is seen as such rather than
// retried over TCP.
func (d *Dig) Query(t testing.TB, proto, name, qtype string, extra ...string) *Answer {
	t.Helper()
	return d.Ask(t, true, proto, name, qtype, extra...)
}

// Ask is Query with a choice of the RDATA form: unknownFormat false keeps dig's
// presentation form, which Answer holds in Raw only.
func (d *Dig) Ask(t testing.TB, unknownFormat bool, proto, name, qtype string, extra ...string) *Answer {
	t.Helper()
	args := []string{"+time=3", "+tries=1"}
	if unknownFormat {
		args = append(args, "+unknownformat")
	}
	wantProto := "UDP"
	switch proto {
	case "udp":
		args = append(args, "+ignore", "+notcp") // dig sends ANY over TCP unless told not to
	case "tcp":
		args = append(args, "+tcp")
		wantProto = "TCP"
	default:
		t.Fatalf("bad proto %q", proto)
	}
	args = append(append(args, extra...), name, qtype)
	out, err := d.Run(15*time.Second, args...)
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	a, err := ParseDig(out, unknownFormat)
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	a.Question = name + " " + qtype + " over " + wantProto
	if a.Proto != wantProto {
		t.Fatalf("dig %s: answered over %q, want %s\n%s", strings.Join(args, " "), a.Proto, wantProto, out)
	}
	d.mu.Lock()
	d.seen = append(d.seen, a)
	d.mu.Unlock()
	return a
}

// Resolve asks a resolver, with recursion and DNSSEC OK, and parses the reply.
func (d *Dig) Resolve(t testing.TB, name, qtype string) *Answer {
	t.Helper()
	args := []string{"@127.0.0.1", "-p", d.port, "+time=5", "+tries=1", "+dnssec", "+unknownformat", name, qtype}
	out := Exec(t, 20*time.Second, d.path, args...)
	a, err := ParseDig(out, true)
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	a.Question = name + " " + qtype
	return a
}

// Seen returns every answer Query and Ask parsed so far.
func (d *Dig) Seen() []*Answer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.seen)
}
