package test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Log collects what a process writes; exec copies its output from goroutines of its own.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// FreePort returns a port that is free for both UDP and TCP on 127.0.0.1.
func FreePort(t testing.TB) string {
	t.Helper()
	for range 20 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			continue
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		tl.Close()
		if err != nil {
			continue
		}
		ul.Close()
		return strconv.Itoa(port)
	}
	t.Fatal("no port free for both UDP and TCP on 127.0.0.1")
	return ""
}

// Server is a child process of the test that listens on a port of 127.0.0.1.
type Server struct {
	Port string // its port, for UDP and TCP
	Log  *Log   // its standard output and standard error

	cmd    *exec.Cmd
	exited chan struct{}
}

// Addr returns the server's address, 127.0.0.1:Port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", s.Port) }

// PID returns the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Signal sends sig to the server's process.
func (s *Server) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }

// Exited is closed when the server's process has exited; ExitCode is then valid.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// ExitCode returns the exit status of the process once Exited is closed (-1 for a signal).
func (s *Server) ExitCode() int { return s.cmd.ProcessState.ExitCode() }

// kill kills the process by its own PID, if it still runs, and waits for it.
func (s *Server) kill(t testing.TB) {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Kill()
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("%s (pid %d) did not exit after kill", filepath.Base(s.cmd.Path), s.PID())
	}
}

// Start runs the program that cmd makes for a free port and waits, up to wait, until
// ready(port) holds. When the process exits or is not ready in time, Start kills it and
// tries again on another port (the port may have been taken meanwhile), three times in all,
// then fails the test with the process's output. The process is killed when the test ends;
// if the test failed, its output is logged.
func Start(t testing.TB, wait time.Duration, cmd func(port string) *exec.Cmd, ready func(port string) bool) *Server {
	t.Helper()
	var last *Server
	for range 3 {
		port := FreePort(t)
		c := cmd(port)
		s := &Server{Port: port, Log: &Log{}, cmd: c, exited: make(chan struct{})}
		c.Stdout, c.Stderr = s.Log, s.Log
		if err := c.Start(); err != nil {
			t.Fatalf("starting %s: %v", c.Path, err)
		}
		go func() { c.Wait(); close(s.exited) }()
		if s.waitReady(wait, ready) {
			t.Cleanup(func() {
				s.kill(t)
				if t.Failed() {
					t.Logf("%s output:\n%s", filepath.Base(c.Path), s.Log.String())
				}
			})
			return s
		}
		s.kill(t)
		last = s
	}
	t.Fatalf("%s did not start answering in %v; its last output:\n%s", filepath.Base(last.cmd.Path), wait, last.Log.String())
	return nil
}

// waitReady polls ready every 100 ms until it holds, the process exits or wait has passed.
func (s *Server) waitReady(wait time.Duration, ready func(port string) bool) bool {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return false
		default:
		}
		if ready(s.Port) {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// StartCoreDNS runs the CoreDNS binary in dir with the Corefile that corefile makes for a
// port, and waits up to a minute (a loaded machine, a large key directory) until it
// answers the SOA query of example.com, which every Corefile of the tests serves.
func StartCoreDNS(t testing.TB, dir string, corefile func(port string) string) *Server {
	t.Helper()
	bin := CoreDNS(t)
	return Start(t, time.Minute, func(port string) *exec.Cmd {
		conf := filepath.Join(dir, "Corefile."+port)
		WriteFile(t, conf, []byte(corefile(port)))
		c := exec.Command(bin, "-conf", conf)
		c.Dir = dir
		return c
	}, func(port string) bool {
		return Answers(port, "example.com.", dns.TypeSOA, dns.RcodeSuccess)
	})
}

// Answers reports whether the server on port of 127.0.0.1 answers name/qtype over UDP
// with rcode within a second.
func Answers(port, name string, qtype uint16, rcode int) bool {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	r, _, err := c.Exchange(m, net.JoinHostPort("127.0.0.1", port))
	return err == nil && r.Rcode == rcode
}

// Get fetches url over HTTP, with a timeout of a few seconds, and returns the status code
// and the body.
func Get(url string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, string(b), err
}

// Fetch returns the body of an HTTP GET of url, failing the test unless it is 200 OK.
func Fetch(t testing.TB, url string) string {
	t.Helper()
	code, body, err := Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, http.StatusText(code))
	}
	return body
}

// MetricValue returns the value of the unlabelled metric name in a Prometheus text page.
func MetricValue(t testing.TB, page, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+]+)$`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("metric %s not found", name)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
