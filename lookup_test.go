package ipsecoe

import (
	"encoding/base64"

	"github.com/miekg/dns"
)

// readKeyDir reads every key file under dir, each key kept whole rather than packed.
func readKeyDir(dir string, prev *index) ([]*keyFile, error) {
	files, _, err := readKeyDirFor(dir, prev, nil, nil)
	return files, err
}

// keys returns n's IPSECKEY rdata.
func (n node) keys() []*ipseckeyData {
	var out []*ipseckeyData
	for _, rr := range n.appendIPSECKEY(nil, ".", 0) {
		k := rr.(*dns.IPSECKEY)
		d := &ipseckeyData{precedence: k.Precedence, gwType: k.GatewayType, algorithm: k.Algorithm,
			gwAddr: k.GatewayAddr, publicKey: k.PublicKey}
		if k.GatewayType == gwTypeHost {
			d.gwHost = k.GatewayHost
		}
		out = append(out, d)
	}
	return out
}

// ipsecas returns n's IPSECA rdata.
func (n node) ipsecas() []*IPSECA {
	var out []*IPSECA
	for _, rr := range n.appendIPSECA(nil, ".", 0) {
		out = append(out, rr.(*dns.PrivateRR).Data.(*IPSECA))
	}
	return out
}

// field returns k's IPSECKEY public key field.
func (k *pubKey) field() []byte {
	b, _ := base64.StdEncoding.DecodeString(k.key)
	return b
}

// fileList returns every file of the index, by path.
func (ix *index) fileList() []*keyFile {
	out := make([]*keyFile, ix.fileCount())
	for i := range out {
		out[i] = ix.fileAt(i)
	}
	return out
}
