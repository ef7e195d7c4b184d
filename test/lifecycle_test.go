package test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// lifecycleKeys is how many key files the lifecycle tests load: enough that a load takes
// seconds, so that what happens while it runs can be told by order, not by a clock.
const lifecycleKeys = 300_000

// bigKeyDir writes n files named by the addresses of 10.0.0.0/8, each holding key.
func bigKeyDir(t *testing.T, dir string, n int, key []byte) {
	t.Helper()
	a := Addrs("10.0.0.0", n)
	for i, ip := range a {
		if i%256 == 0 {
			if err := os.MkdirAll(filepath.Join(dir, fmt.Sprint(i/256)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i/256), ip.String()+".pem"), key, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startBig starts the binary with a whoami block and an ipsecoe block over keys, and
// returns as soon as the whoami block answers.
func startBig(t *testing.T, keys, ready string) (*Server, time.Duration) {
	t.Helper()
	dir, bin := t.TempDir(), CoreDNS(t)
	begin := time.Now()
	srv := Start(t, time.Minute, func(port string) *exec.Cmd {
		conf := filepath.Join(dir, "Corefile."+port)
		WriteFile(t, conf, []byte("example.net:"+port+" {\n    bind 127.0.0.1\n    whoami\n}\n"+
			"10.in-addr.arpa:"+port+" {\n    bind 127.0.0.1\n    ready 127.0.0.1:"+ready+"\n"+
			"    ipsecoe {\n        keys "+keys+"\n        reload 1s\n    }\n}\n"))
		begin = time.Now()
		return exec.Command(bin, "-conf", conf)
	}, func(port string) bool {
		return Answers(port, "example.net.", dns.TypeA, dns.RcodeSuccess)
	})
	return srv, time.Since(begin)
}

func readyStatus(port string) int {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get("http://127.0.0.1:" + port + "/ready")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

var loadedLine = regexp.MustCompile(`plugin/ipsecoe: loaded .* in ([0-9.]+)s`)

// TestFirstLoadInBackground answers the server's other zones while the first load of a
// large key directory still runs: the plugin's zone gets SERVFAIL and ready says no until
// the load is in; then both answer.
func TestFirstLoadInBackground(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300,000 key files")
	}
	keys := t.TempDir()
	bigKeyDir(t, keys, lifecycleKeys, Vector(t, "keys/ed25519.pub.pem"))
	ready := FreePort(t)
	srv, first := startBig(t, keys, ready)
	name := "1.0.0.10.in-addr.arpa."
	if loadedLine.MatchString(srv.Log.String()) {
		t.Fatalf("the first load of %d keys was done before the other zone answered:\n%s", lifecycleKeys, srv.Log.String())
	}
	if Answers(srv.Port, name, dns.TypeIPSECKEY, dns.RcodeServerFailure) == false {
		t.Errorf("%s while loading: want SERVFAIL", name)
	}
	if code := readyStatus(ready); code == http.StatusOK {
		t.Errorf("ready says %d while loading", code)
	}
	t.Logf("the whoami block answered %.2fs after the start, while the first load ran", first.Seconds())
	for deadline := time.Now().Add(2 * time.Minute); !Answers(srv.Port, name, dns.TypeIPSECKEY, dns.RcodeSuccess); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered:\n%s", name, srv.Log.String())
		}
	}
	if code := readyStatus(ready); code != http.StatusOK {
		t.Errorf("ready says %d after the load", code)
	}
	if m := loadedLine.FindStringSubmatch(srv.Log.String()); m != nil {
		t.Logf("the first load took %ss", m[1])
	}
}

// TestShutdownDuringReload ends the process at SIGTERM while a paced reload of a large
// key directory runs, long before the reload could have finished.
func TestShutdownDuringReload(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 key files")
	}
	keys := t.TempDir()
	WriteFile(t, filepath.Join(keys, "10.0.0.1.pem"), Vector(t, "keys/ed25519.pub.pem"))
	srv, _ := startBig(t, keys, FreePort(t))
	for deadline := time.Now().Add(2 * time.Minute); !loadedLine.MatchString(srv.Log.String()); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first load never ended:\n%s", srv.Log.String())
		}
	}
	// 100,000 files arrive in a new folder: the reload parses them all, on a tenth of one
	// CPU, which takes many times as long as the few seconds the test waits.
	// They are written into a hidden folder (names starting with a dot are not read) and
	// moved in with one rename, so that no poll sees them half written.
	staging := filepath.Join(keys, ".staging")
	bigKeyDir(t, staging, 100_000, Vector(t, "keys/ecp256.pub.pem"))
	if err := os.Rename(staging, filepath.Join(keys, "more")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // a poll or two: the reload is under way
	begin := time.Now()
	if err := srv.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Exited():
	case <-time.After(time.Minute):
		t.Fatalf("no exit a minute after SIGTERM:\n%s", srv.Log.String())
	}
	took := time.Since(begin)
	if n := len(loadedLine.FindAllString(srv.Log.String(), -1)); n != 1 {
		t.Errorf("%d loads ended; want only the first: the reload must end unfinished\n%s", n, srv.Log.String())
	}
	t.Logf("exit %.2fs after SIGTERM, during the reload", took.Seconds())
}

// TestMetricsTwoBlocks reports each block's own records.
func TestMetricsTwoBlocks(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	WriteFile(t, filepath.Join(a, "gw.example.com.pem"), Vector(t, "keys/ed25519.pub.pem"))
	for _, name := range []string{"192.0.2.1.pem", "192.0.2.2.pem", "192.0.2.3.pem"} {
		WriteFile(t, filepath.Join(b, name), Vector(t, "keys/ecp256.pub.pem"))
	}
	metrics := FreePort(t)
	srv := StartCoreDNS(t, t.TempDir(), func(port string) string {
		return "example.com:" + port + " {\n    bind 127.0.0.1\n    prometheus 127.0.0.1:" + metrics + "\n    ipsecoe {\n        keys " + a + "\n    }\n}\n" +
			"2.0.192.in-addr.arpa:" + port + " {\n    bind 127.0.0.1\n    prometheus 127.0.0.1:" + metrics + "\n    ipsecoe {\n        keys " + b + "\n    }\n}\n"
	})
	page := Fetch(t, "http://127.0.0.1:"+metrics+"/metrics")
	for zone, want := range map[string]string{"example.com.": "1", "2.0.192.in-addr.arpa.": "3"} {
		line := fmt.Sprintf(`coredns_ipsecoe_records{server="dns://127.0.0.1:%s",type="IPSECKEY",view="",zones=%q} %s`, srv.Port, zone, want)
		if !strings.Contains(page, line+"\n") {
			t.Errorf("no line %s in\n%s", line, grep(page, "coredns_ipsecoe_records"))
		}
	}
}

// grep returns the lines of text that contain s.
func grep(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
