package test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

// FakeRSAKey returns a PEM SubjectPublicKeyInfo of a random 2048-bit "RSA" modulus: the
// same size and shape as a real key, made in microseconds (nothing checks primality).
func FakeRSAKey(tb testing.TB) []byte {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 2048))
	if err != nil {
		tb.Fatal(err)
	}
	n.SetBit(n, 2047, 1)
	n.SetBit(n, 0, 1)
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// HostKeyDir writes n host keys for 10.0.0.0/8 addresses into a new directory.
func HostKeyDir(tb testing.TB, n int) string {
	dir := tb.TempDir()
	for i := range n {
		name := fmt.Sprintf("10.%d.%d.%d.pem", i>>16&255, i>>8&255, i&255)
		if err := os.WriteFile(filepath.Join(dir, name), FakeRSAKey(tb), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}
