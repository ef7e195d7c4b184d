// Command ipsecoe checks a key directory before it ships, exports the records the plugin
// would serve from it, and prints a zone's trust anchor, using the plugin's own code.
//
//	ipsecoe check DIR [-conf Corefile] [-zone ZONE] [-json]
//	ipsecoe records DIR [-conf Corefile] [-zone ZONE]
//	ipsecoe anchor Kzone.+013+NNNNN.key
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/ipsecoe/ipsecoe"

	"github.com/miekg/dns"
)

const usage = `usage:
  ipsecoe check DIR [-conf Corefile] [-zone ZONE] [-json]
  ipsecoe records DIR [-conf Corefile] [-zone ZONE]
  ipsecoe anchor Kzone.+013+NNNNN.key
`

func main() {
	clog.Discard() // the plugin's setup warnings are about a server, not this command
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status, 2 for a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	conf := fs.String("conf", "", "take gateway, ipseca and dane from this Corefile's ipsecoe block")
	zone := fs.String("zone", "", "the zone: selects the Corefile block, and limits records")
	asJSON := fs.Bool("json", false, "check: one JSON object per file")
	// Flags may come before or after the one argument.
	var pos []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos, rest = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) != 1 || *asJSON && args[0] != "check" || args[0] == "anchor" && (*conf != "" || *zone != "") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	status := 0
	switch args[0] {
	case "check":
		status, err = check(pos[0], *conf, *zone, *asJSON, stdout)
	case "records":
		err = records(pos[0], *conf, *zone, stdout)
	case "anchor":
		err = anchor(pos[0], stdout)
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "ipsecoe %s: %v\n", args[0], err)
		return 1
	}
	return status
}

func loader(dir, conf, zone string) (*ipsecoe.Loader, error) {
	if conf != "" {
		return ipsecoe.LoaderFromCorefile(conf, zone, dir)
	}
	if zone != "" {
		return ipsecoe.NewLoader(dir, zone)
	}
	return ipsecoe.NewLoader(dir)
}

// check prints one line per file and returns 1 when any file or gateway is refused.
func check(dir, conf, zone string, asJSON bool, w io.Writer) (int, error) {
	l, err := loader(dir, conf, zone)
	if err != nil {
		return 0, err
	}
	files, gateways, err := l.Check()
	if err != nil {
		return 0, err
	}
	status := 0
	enc := json.NewEncoder(w)
	for _, f := range files {
		if f.Error != "" || len(f.Omitted) > 0 {
			status = 1 // a file refused, or records of it left out
		}
		if asJSON {
			if err := enc.Encode(f); err != nil {
				return 0, err
			}
			continue
		}
		switch {
		case f.Error != "":
			fmt.Fprintf(w, "REFUSED %q: %s (%s)\n", f.Path, f.Error, f.Reason)
		default:
			fmt.Fprintf(w, "ok      %q: %s at %s\n", f.Path, strings.Join(f.Keys, ", "), strings.Join(f.Owners, " "))
		}
		for _, warn := range f.Warnings {
			fmt.Fprintf(w, "WARNING %q: %s\n", f.Path, warn)
		}
		for _, o := range f.Omitted {
			fmt.Fprintf(w, "OMITTED %q: %s\n", f.Path, o)
		}
	}
	for _, g := range gateways {
		status = 1
		if asJSON {
			if err := enc.Encode(map[string]string{"gateway": g}); err != nil {
				return 0, err
			}
			continue
		}
		fmt.Fprintf(w, "REFUSED %s\n", g)
	}
	return status, nil
}

// records prints the zone-file text of every record at an explicit owner; IPSECA in the
// RFC 3597 form other servers load.
func records(dir, conf, zone string, w io.Writer) error {
	l, err := loader(dir, conf, zone)
	if err != nil {
		return err
	}
	rrs, comments, err := l.Records(zone)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "; records of the key directory %s for %s\n", l.Dir(), strings.Join(l.Zones(), " "))
	for _, c := range comments {
		fmt.Fprintf(w, "; %s\n", c)
	}
	for _, rr := range rrs {
		if h := rr.Header(); h.Rrtype == ipsecoe.TypeIPSECA {
			generic := new(dns.RFC3597)
			if err := generic.ToRFC3597(rr); err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\t%d\tIN\tTYPE65347\t\\# %d %s\n", h.Name, h.Ttl, len(generic.Rdata)/2, generic.Rdata)
			continue
		}
		fmt.Fprintln(w, rr.String())
	}
	return nil
}

// anchor prints the trust anchor of a zone key file in the forms validators read.
func anchor(file string, w io.Writer) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	rr, err := dns.ReadRR(f, file)
	if err != nil {
		return err
	}
	k, ok := rr.(*dns.DNSKEY)
	if !ok {
		return errors.New("not a DNSKEY key file")
	}
	if k.Flags&dns.SEP == 0 {
		fmt.Fprintf(w, "; note: %s is a ZSK (flags %d); the anchor is usually the KSK or CSK\n", file, k.Flags)
	}
	ds := k.ToDS(dns.SHA256)
	if ds == nil {
		return errors.New("cannot compute the DS")
	}
	zone := k.Hdr.Name
	key := fmt.Sprintf("%d %d %d %s", k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
	dsText := fmt.Sprintf("%s IN DS %d %d %d %s", zone, ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest))
	fmt.Fprintf(w, "; DS for the parent zone (and for unbound's trust-anchor-file, Libreswan's\n; dnssec-anchors file)\n%s\n\n", dsText)
	fmt.Fprintf(w, "; unbound.conf\ntrust-anchor: \"%s DNSKEY %s\"\n\n", zone, key)
	fmt.Fprintf(w, "; BIND named.conf, delv -a FILE\ntrust-anchors {\n\t%q static-key %s %q;\n};\n\n", zone, fmt.Sprintf("%d %d %d", k.Flags, k.Protocol, k.Algorithm), k.PublicKey)
	fmt.Fprintf(w, "; Libreswan: config setup dnssec-enable=yes, dnssec-anchors=FILE with the DS line above\n")
	fmt.Fprintf(w, "; strongSwan: charon.plugins.unbound.trust_anchors = FILE with this line\n%s IN DNSKEY %s\n", zone, key)
	return nil
}
