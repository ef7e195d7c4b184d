// Command genkeys writes the inputs of bench/run.sh: a key directory of RSA-2048-shaped
// public keys named by IPv4 address (10.0.0.0/8, one key per address), the equivalent zone
// file of 10.in-addr.arpa for the file plugin, and dnsperf query files.
//
// The keys are made like fakeRSAKey in bench_test.go: a random 2048-bit modulus (top and
// bottom bits set) with exponent 65537, as a PEM SubjectPublicKeyInfo. Nothing checks
// primality, so a million keys take seconds instead of hours. They are deterministic: key i
// of -seed S is the same on every run.
//
//	go run ./bench/genkeys -n 100000 -dir keys -zone zone.db -queries q/100000 -rdata rdata.txt
package main

import (
	"bufio"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// maxKeys is the size of 10.0.0.0/8 that host owners may use: 10.0.0.0 to 10.199.255.255.
// 10.200.0.0 and above are left free for the NXDOMAIN queries.
const maxKeys = 200 << 16

// Gateway prefix of the ipsecoe Corefile: every address in it answers through 10.0.0.1.
var gwPrefix = netip.MustParsePrefix("2001:db8:1::/64")

func main() {
	n := flag.Int("n", 0, "number of keys (1 to 13107200)")
	dir := flag.String("dir", "", "write the key files into this directory")
	zone := flag.String("zone", "", "write the equivalent zone file of 10.in-addr.arpa here")
	queries := flag.String("queries", "", "write dnsperf query files PREFIX.{whoami,hot,random,gw6,nodata,nxdomain,ipseca}")
	rdata := flag.String("rdata", "", "write the IPSECKEY rdata of key 0 here (for the template plugin)")
	seed := flag.Uint64("seed", 1, "seed of the key material (the same seed gives the same keys)")
	hot := flag.Int("hot", 100, "names in the hot query set")
	precedence := flag.Int("precedence", 10, "IPSECKEY precedence in the zone file (ipsecoe's default is 10)")
	flag.Parse()
	if *n < 1 || *n > maxKeys || flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "genkeys: -n must be 1 to %d\n", maxKeys)
		flag.Usage()
		os.Exit(2)
	}
	if *dir == "" && *zone == "" && *queries == "" && *rdata == "" {
		fatal(fmt.Errorf("nothing to do: give -dir, -zone, -queries or -rdata"))
	}
	if *dir != "" {
		check(writeKeys(*dir, *n, *seed))
	}
	if *zone != "" {
		check(writeZone(*zone, *n, *seed, uint8(*precedence)))
	}
	if *rdata != "" {
		check(os.WriteFile(*rdata, []byte(fmt.Sprintf("%d 0 2 . %s\n", *precedence, keyField(modulus(*seed, 0)))), 0o644))
	}
	if *queries != "" {
		check(writeQueries(*queries, *n, *hot))
	}
}

func check(err error) {
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "genkeys:", err)
	os.Exit(1)
}

// addr is the address of key i: 10.0.0.0 + i.
func addr(i int) [4]byte { return [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)} }

func fileName(i int) string {
	a := addr(i)
	return fmt.Sprintf("%d.%d.%d.%d.pem", a[0], a[1], a[2], a[3])
}

// owner is the reverse name of key i.
func owner(i int) string {
	a := addr(i)
	return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", a[3], a[2], a[1], a[0])
}

// modulus returns the 2048-bit modulus of key i: random, with the top and bottom bits set.
func modulus(seed uint64, i int) *big.Int {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[0:], seed)
	binary.LittleEndian.PutUint64(s[8:], uint64(i))
	r := rand.NewChaCha8(s)
	b := make([]byte, 256)
	_, _ = r.Read(b)
	b[0] |= 0x80
	b[255] |= 1
	return new(big.Int).SetBytes(b)
}

// keyPEM is key i as a PEM SubjectPublicKeyInfo.
func keyPEM(m *big.Int) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: m, E: 65537})
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// keyField is the IPSECKEY public key field of an RSA key (RFC 3110), in base64:
// exponent length, exponent 65537, modulus.
func keyField(m *big.Int) string {
	f := append([]byte{3, 1, 0, 1}, m.Bytes()...)
	return base64.StdEncoding.EncodeToString(f)
}

func writeKeys(dir string, n int, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	workers := 4 * runtime.NumCPU()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int, 1024)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				b, err := keyPEM(modulus(seed, i))
				if err == nil {
					err = os.WriteFile(filepath.Join(dir, fileName(i)), b, 0o644)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// writeZone writes the zone the file plugin serves for the same keys. miekg/dns v1.1.73
// needs a blank line after each IPSECKEY line: without it the parser takes the next line
// as part of the record.
func writeZone(path string, n int, seed uint64, precedence uint8) error {
	return writeFile(path, func(w *bufio.Writer) {
		fmt.Fprintf(w, "$ORIGIN 10.in-addr.arpa.\n$TTL 3600\n")
		fmt.Fprintf(w, "@ 60 IN SOA ns1.10.in-addr.arpa. hostmaster.10.in-addr.arpa. 1 7200 1800 1209600 60\n")
		fmt.Fprintf(w, "@ 3600 IN NS ns1.10.in-addr.arpa.\n\n")
		for i := range n {
			fmt.Fprintf(w, "%s 3600 IN IPSECKEY %d 0 2 . %s\n\n", owner(i), precedence, keyField(modulus(seed, i)))
		}
	})
}

func writeFile(path string, body func(w *bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	body(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeQueries writes the dnsperf query files. The shuffles use a fixed seed: every run
// asks the same names in the same order.
func writeQueries(prefix string, n, hot int) error {
	if d := filepath.Dir(prefix); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	r := rand.New(rand.NewPCG(42, uint64(n)))
	perm := r.Perm(n)
	if hot > n {
		hot = n
	}
	hotSet := perm[:hot]
	lines := func(name string, count int, line func(k int) string) error {
		return writeFile(prefix+"."+name, func(w *bufio.Writer) {
			for k := range count {
				w.WriteString(line(k))
				w.WriteByte('\n')
			}
		})
	}
	// Sets over random names hold at least 1000 lines so that short runs do not cycle fast.
	many := max(n, 1000)
	steps := []struct {
		name  string
		count int
		line  func(k int) string
	}{
		// whoami answers any name: ask it the hot names, type A.
		{"whoami", hot, func(k int) string { return owner(hotSet[k]) + " A" }},
		{"hot", hot, func(k int) string { return owner(hotSet[k]) + " IPSECKEY" }},
		{"random", n, func(k int) string { return owner(perm[k]) + " IPSECKEY" }},
		{"gw6", many, func(int) string { return reverse6(randomIn(r, gwPrefix)) + " IPSECKEY" }},
		{"nodata", n, func(k int) string { return owner(perm[k]) + " TXT" }},
		{"nxdomain", many, func(int) string {
			// 10.200.0.0 and above hold no key: neither the name nor its parents exist.
			return fmt.Sprintf("%d.%d.%d.10.in-addr.arpa. IPSECKEY", r.IntN(256), r.IntN(256), 200+r.IntN(56))
		}},
		{"ipseca", n, func(k int) string { return "_500." + owner(perm[k]) + " TYPE65347" }},
	}
	for _, s := range steps {
		if err := lines(s.name, s.count, s.line); err != nil {
			return err
		}
	}
	return nil
}

// randomIn returns a random address inside the IPv6 prefix p.
func randomIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As16()
	var x [16]byte
	binary.BigEndian.PutUint64(x[0:], r.Uint64())
	binary.BigEndian.PutUint64(x[8:], r.Uint64())
	bits := p.Bits()
	for i := range 16 {
		keep := min(max(bits-8*i, 0), 8) // prefix bits in this byte
		mask := byte(0xff) << (8 - keep) // 0 when keep is 0
		b[i] = b[i]&mask | x[i]&^mask
	}
	return netip.AddrFrom16(b)
}

// reverse6 is the ip6.arpa name of a.
func reverse6(a netip.Addr) string {
	b := a.As16()
	var s strings.Builder
	for i := 15; i >= 0; i-- {
		fmt.Fprintf(&s, "%x.%x.", b[i]&15, b[i]>>4)
	}
	s.WriteString("ip6.arpa.")
	return s.String()
}
