package keyfile

// Scratch is memory Parse and Key.Associations reuse from one file to the next. A reader
// of many files keeps one per goroutine: a PEM file of keys then costs no allocation for
// its decoded bodies, its RSA key fields, its Keys or their list, or its IPSECA rdata. What
// they return lives in s, and is good only until the next Parse with s.
type Scratch struct {
	bytes  []byte // the file's decoded bodies and key fields
	keys   []Key
	list   []*Key
	assocs []Association
}

// reset makes everything s handed out free to be handed out again.
func (s *Scratch) reset() {
	s.bytes, s.keys, s.list, s.assocs = s.bytes[:0], s.keys[:0], s.list[:0], s.assocs[:0]
}

// alloc returns n octets: from s, or newly made when s is nil. When s has no room it
// starts a new array; what it handed out before stays in the old one.
func (s *Scratch) alloc(n int) []byte {
	if s == nil {
		return make([]byte, n)
	}
	if cap(s.bytes)-len(s.bytes) < n {
		s.bytes = make([]byte, 0, max(2*cap(s.bytes), n, 4096))
	}
	start := len(s.bytes)
	s.bytes = s.bytes[:start+n]
	return s.bytes[start : start+n : start+n]
}

// newKey returns an empty Key: from s, or newly made when s is nil. A Key from s keeps
// the room of its Owners for AssignOwners.
func (s *Scratch) newKey() *Key {
	if s == nil {
		return new(Key)
	}
	if len(s.keys) == cap(s.keys) {
		s.keys = make([]Key, 0, max(4, 2*cap(s.keys))) // the Keys handed out stay in the old array
	}
	s.keys = s.keys[:len(s.keys)+1]
	k := &s.keys[len(s.keys)-1]
	*k = Key{Owners: k.Owners[:0]}
	return k
}

// keyList returns an empty list of keys: s's, or nil when s is nil.
func (s *Scratch) keyList() []*Key {
	if s == nil {
		return nil
	}
	return s.list[:0]
}

// keepList keeps the room of keys, a list keyList returned, for the next file.
func (s *Scratch) keepList(keys []*Key) {
	if s != nil {
		s.list = keys[:0]
	}
}

// assocList returns an empty list of IPSECA rdata: s's, or nil when s is nil.
func (s *Scratch) assocList() []Association {
	if s == nil {
		return nil
	}
	return s.assocs[:0]
}

// keepAssocs keeps the room of a, a list assocList returned, for the next key.
func (s *Scratch) keepAssocs(a []Association) {
	if s != nil {
		s.assocs = a[:0]
	}
}
