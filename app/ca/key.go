package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Key specs name the key types the CA generates and accepts.
const (
	ECDSAP256 = "ecdsa-p256"
	ECDSAP384 = "ecdsa-p384"
	RSA2048   = "rsa-2048"
	RSA3072   = "rsa-3072"
	RSA4096   = "rsa-4096"
	Ed25519   = "ed25519"
)

// KeySpecs returns every spec GenerateKey accepts, in the order a form should offer them.
func KeySpecs() []string {
	return []string{ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096, Ed25519}
}

// ErrKeySpec reports a key spec or key type the CA does not handle.
var ErrKeySpec = errors.New("unsupported key type")

// minRSABits is the smallest RSA key the CA signs or certifies.
const minRSABits = 2048

// GenerateKey makes a new private key of the given spec, one of KeySpecs().
func GenerateKey(spec string) (crypto.Signer, error) {
	switch spec {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case Ed25519:
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	}
	return nil, fmt.Errorf("generate key %q: %w", spec, ErrKeySpec)
}

// KeySpecOf names the type of a public key and its size in bits. An RSA key of a size not
// in KeySpecs is named "rsa-<bits>"; ECDSA keys on other curves and other key types are
// refused with ErrKeySpec.
func KeySpecOf(pub crypto.PublicKey) (spec string, bits int, err error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits = k.N.BitLen()
		return fmt.Sprintf("rsa-%d", bits), bits, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return ECDSAP256, 256, nil
		case elliptic.P384():
			return ECDSAP384, 384, nil
		}
		return "", 0, fmt.Errorf("ecdsa curve %s: %w", k.Curve.Params().Name, ErrKeySpec)
	case ed25519.PublicKey:
		return Ed25519, 256, nil
	}
	return "", 0, fmt.Errorf("key type %T: %w", pub, ErrKeySpec)
}

// checkPublicKey refuses keys the CA will not certify: unknown types and short RSA keys.
func checkPublicKey(pub crypto.PublicKey) error {
	spec, bits, err := KeySpecOf(pub)
	if err != nil {
		return err
	}
	if _, ok := pub.(*rsa.PublicKey); ok && bits < minRSABits {
		return fmt.Errorf("%s is below the %d-bit minimum: %w", spec, minRSABits, ErrKeySpec)
	}
	return nil
}

// MarshalKey encodes a private key as PKCS#8 DER, the form ParseKey reads.
func MarshalKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return der, nil
}

// ParseKey decodes a PKCS#8 DER private key of a type the CA handles.
func ParseKey(der []byte) (crypto.Signer, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return signerOf(key)
}

// parseKeyPEM reads the first private key in PEM text: PKCS#8, PKCS#1 RSA or SEC1 EC.
// Other blocks, such as the EC PARAMETERS some tools write first, are skipped.
func parseKeyPEM(text []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, text = pem.Decode(text)
		if block == nil {
			return nil, errors.New("parse key: no private key PEM block")
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
			return nil, errors.New("parse key: encrypted PEM keys are not supported")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", strings.ToLower(block.Type), err)
		}
		return signerOf(key)
	}
}

func signerOf(key any) (crypto.Signer, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T: %w", key, ErrKeySpec)
	}
	if _, _, err := KeySpecOf(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}
