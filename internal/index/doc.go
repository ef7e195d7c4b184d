// Package index reads a key directory and builds from it the immutable, packed index that
// answers queries: every key of every file, the names it is published at, the _PORT names
// of IPSECA and the empty non-terminals above them, in pointer-free arrays and one blob
// that the collector never scans, with an open-addressing table of names. It remembers each
// file's state, so that the next read parses only what changed, and it paces a reload to a
// share of one CPU. Every length it packs is checked against its field and against what one
// DNS message can carry.
//
// It imports neither CoreDNS, caddy nor Prometheus: the plugin logs, counts and answers
// with what it builds. A test holds it to that.
package index
