package keyfile

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
)

// block is one PEM block: its type and its decoded content.
type block struct {
	typ string
	der []byte
}

const (
	pemBegin = "-----BEGIN "
	pemEnd   = "\n-----END "
	pemDash  = "-----"
)

// nextPEM returns the first PEM block of data and what follows it, exactly as pem.Decode
// does; ok is false when there is none. A block written the usual way (armor at the
// start, no headers, lines of base64) is decoded by quickPEM, at a fraction of
// pem.Decode's cost; pem.Decode takes every other.
func nextPEM(s *Scratch, data []byte) (b block, rest []byte, ok bool) {
	if b, rest, ok := quickPEM(s, data); ok {
		return b, rest, true
	}
	p, rest := pem.Decode(data)
	if p == nil {
		return block{}, rest, false
	}
	return block{typ: p.Type, der: p.Bytes}, rest, true
}

// quickPEM decodes the block data starts with when it has the usual shape: data begins
// with its BEGIN line, the body up to the first END line is base64 and nothing else, and
// the END line names the same type and ends the line. ok is false for anything else, which
// pem.Decode then reads. A body that decodes holds no space, tab, colon or dash, so it has
// no headers and no other BEGIN line, and pem.Decode would decode the same octets.
func quickPEM(s *Scratch, data []byte) (b block, rest []byte, ok bool) {
	if !bytes.HasPrefix(data, []byte(pemBegin)) {
		return block{}, nil, false
	}
	nl := bytes.IndexByte(data, '\n')
	end := bytes.Index(data, []byte(pemEnd))
	if nl < 0 || end <= nl || bytes.Contains(data[1:nl], []byte(pemBegin)) {
		return block{}, nil, false // no END, an empty body (pem.Decode's own corner), or a second BEGIN
	}
	typ, _ := line(data[len(pemBegin):])
	if !bytes.HasSuffix(typ, []byte(pemDash)) {
		return block{}, nil, false
	}
	typ = typ[:len(typ)-len(pemDash)]
	trailer := data[end+len(pemEnd):]
	if !bytes.HasPrefix(trailer, typ) || !bytes.HasPrefix(trailer[len(typ):], []byte(pemDash)) {
		return block{}, nil, false
	}
	last, rest := line(trailer[len(typ)+len(pemDash):])
	body := data[nl+1 : end]
	if len(last) != 0 || len(body) == 0 {
		return block{}, nil, false
	}
	der := s.alloc(base64.StdEncoding.DecodedLen(len(body)))
	n, err := decodeLines(der, body)
	if err != nil {
		return block{}, nil, false
	}
	return block{typ: typeName(typ), der: der[:n]}, rest, true
}

// typeName is typ as a string, without an allocation for the types a key file holds.
func typeName(typ []byte) string {
	switch string(typ) {
	case "PUBLIC KEY":
		return "PUBLIC KEY"
	case "CERTIFICATE":
		return "CERTIFICATE"
	case "RSA PUBLIC KEY":
		return "RSA PUBLIC KEY"
	}
	return string(typ)
}

// decodeLines decodes base64 body into der as base64.StdEncoding.Decode does, newlines
// ignored. It hands the decoder one line at a time while every line but the last holds
// whole quanta and no padding, so the decoder stays on its fast path, which a newline
// inside its 8-octet window takes it off; any other body it decodes whole.
func decodeLines(der, body []byte) (int, error) {
	n := 0
	for rest := body; ; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			k, err := base64.StdEncoding.Decode(der[n:], rest)
			return n + k, err
		}
		l := rest[:i]
		if len(l) > 0 && l[len(l)-1] == '\r' {
			l = l[:len(l)-1]
		}
		if len(l)%4 != 0 || len(l) > 0 && l[len(l)-1] == '=' {
			return base64.StdEncoding.Decode(der, body)
		}
		k, err := base64.StdEncoding.Decode(der[n:], l)
		if err != nil {
			return base64.StdEncoding.Decode(der, body) // the error as it reports it
		}
		n, rest = n+k, rest[i+1:]
	}
}

// line splits data at its first newline: the line without its line ending and trailing
// spaces and tabs, and what follows the newline.
func line(data []byte) (l, rest []byte) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return bytes.TrimRight(data, " \t"), data[len(data):]
	}
	rest = data[i+1:]
	if i > 0 && data[i-1] == '\r' {
		i--
	}
	return bytes.TrimRight(data[:i], " \t"), rest
}
