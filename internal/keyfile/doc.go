// Package keyfile reads one file of a key directory: X.509 certificates, SubjectPublicKeyInfo
// and PKCS#1 public keys (PEM or DER) and Libreswan's key lines. It gives each public key's
// IPSECKEY key field (RFC 3110, RFC 2536, RFC 6605, RFC 8080 forms), its IPSECA data and
// the names it is published at (certificate SANs, else the file name), and refuses, with a
// reason, any file that holds a private key or anything it cannot read.
//
// It imports neither CoreDNS, caddy nor Prometheus, and reads no file itself: the caller
// hands it bytes. A test holds it to that.
package keyfile
