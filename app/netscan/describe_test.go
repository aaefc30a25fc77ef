package netscan

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// Key algorithms read as the CA's key specs, and keys the CA does not take are still named.
func TestKeyAlgorithm(t *testing.T) {
	cases := []struct {
		name     string
		key      func() (crypto.Signer, error)
		wantAlg  string
		wantBits int
	}{
		{"rsa 3072", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 3072) },
			"rsa-3072", 3072},
		{"p-256", ecKey(elliptic.P256()), "ecdsa-p256", 256},
		{"p-384", ecKey(elliptic.P384()), "ecdsa-p384", 384},
		{"p-521", ecKey(elliptic.P521()), "ecdsa-p521", 521},
		{"ed25519", func() (crypto.Signer, error) {
			_, k, err := ed25519.GenerateKey(rand.Reader)
			return k, err
		}, "ed25519", 256},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, err := c.key()
			if err != nil {
				t.Fatal(err)
			}
			cert := newTestCert(t, key, 1, "key.test")
			alg, bits := keyAlgorithm(cert.x509)
			if alg != c.wantAlg || bits != c.wantBits {
				t.Errorf("got %s, %d bits; want %s, %d bits", alg, bits, c.wantAlg, c.wantBits)
			}
		})
	}
}

func ecKey(curve elliptic.Curve) func() (crypto.Signer, error) {
	return func() (crypto.Signer, error) { return ecdsa.GenerateKey(curve, rand.Reader) }
}
