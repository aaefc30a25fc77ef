package discovery

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Formats of the files certificates are found in.
const (
	formatPEM    = "pem"
	formatDER    = "der"
	formatPKCS12 = "pkcs12"
)

// errUnrecognized is a file that holds nothing this package reads.
var errUnrecognized = errors.New("no certificate, key or PKCS#12 bundle found")

// contents is what one file holds: its certificates in file order, and the public halves of
// its private keys. Private keys themselves are dropped as soon as they are read.
type contents struct {
	format string
	certs  []*x509.Certificate
	keys   []crypto.PublicKey
}

// parseFile reads the bytes of one file as PEM, DER or PKCS#12; name only hints at the
// format and is never opened. A file that parses but holds no certificate, such as a lone
// key, gives no certificates and no error. An error wrapping errUnrecognized means the bytes
// are none of these formats. Any other error is a problem worth reporting, and may come with
// the certificates that did parse, as for a chain with one damaged block.
func parseFile(name string, data []byte) (contents, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return contents{}, fmt.Errorf("%w: empty file", errUnrecognized)
	}
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		return parseBinary(name, data)
	}
	c, err := parsePEM(data)
	if errors.Is(err, errUnrecognized) {
		// Binary data can hold the PEM marker by chance.
		if b, binErr := parseBinary(name, data); binErr == nil {
			return b, nil
		}
	}
	return c, err
}

// certBlockTypes are the PEM block types that hold a certificate. OpenSSL's TRUSTED
// CERTIFICATE adds trust settings after the certificate.
var certBlockTypes = []string{"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"}

func parsePEM(data []byte) (contents, error) {
	c := contents{format: formatPEM}
	var problems []string
	blocks, certBlocks := 0, 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		if !isCertBlock(block.Type) {
			if pub := pemPublicKey(block); pub != nil {
				c.keys = append(c.keys, pub)
			}
			continue
		}
		certBlocks++
		cert, err := parseCertBlock(block)
		if err != nil {
			problems = append(problems, fmt.Sprintf("certificate %d: %v", certBlocks, err))
			continue
		}
		c.certs = append(c.certs, cert)
	}

	// pem.Decode skips a block it cannot read, and stops at a truncated one: count the
	// certificate headers to notice either.
	if lost := countCertHeaders(data) - certBlocks; lost > 0 {
		problems = append(problems, fmt.Sprintf("truncated or damaged PEM certificates: %d", lost))
	}
	if len(problems) > 0 {
		return c, errors.New(strings.Join(problems, "; "))
	}
	if blocks == 0 {
		return c, fmt.Errorf("%w: no readable PEM block", errUnrecognized)
	}
	return c, nil
}

func isCertBlock(typ string) bool {
	for _, t := range certBlockTypes {
		if typ == t {
			return true
		}
	}
	return false
}

func countCertHeaders(data []byte) int {
	n := 0
	for _, t := range certBlockTypes {
		n += bytes.Count(data, []byte("-----BEGIN "+t+"-----"))
	}
	return n
}

func parseCertBlock(block *pem.Block) (*x509.Certificate, error) {
	der := block.Bytes
	if block.Type == "TRUSTED CERTIFICATE" {
		var raw asn1.RawValue
		if _, err := asn1.Unmarshal(der, &raw); err != nil {
			return nil, fmt.Errorf("trusted certificate: %w", err)
		}
		der = raw.FullBytes
	}
	return x509.ParseCertificate(der)
}

// pemPublicKey returns the public half of an unencrypted private key block, or nil.
func pemPublicKey(block *pem.Block) crypto.PublicKey {
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
		return nil
	}
	if err != nil {
		return nil
	}
	return publicOf(key)
}

// derPublicKey returns the public half of a DER private key in any of the usual
// encodings, or nil.
func derPublicKey(der []byte) crypto.PublicKey {
	if key, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return publicOf(key)
	}
	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key.Public()
	}
	if key, err := x509.ParseECPrivateKey(der); err == nil {
		return key.Public()
	}
	return nil
}

func publicOf(key any) crypto.PublicKey {
	if s, ok := key.(crypto.Signer); ok {
		return s.Public()
	}
	return nil
}

// parseBinary reads DER: a certificate, a private key or a PKCS#12 bundle.
func parseBinary(name string, data []byte) (contents, error) {
	cert, derErr := x509.ParseCertificate(data)
	if derErr == nil {
		return contents{format: formatDER, certs: []*x509.Certificate{cert}}, nil
	}
	if pub := derPublicKey(data); pub != nil {
		return contents{format: formatDER, keys: []crypto.PublicKey{pub}}, nil
	}
	c, p12Err := parsePKCS12(data)
	if p12Err == nil || !errors.Is(p12Err, errUnrecognized) {
		return c, p12Err
	}
	// For DER that is not PKCS#12, say why it is no certificate either.
	lower := strings.ToLower(name)
	if data[0] == 0x30 && !strings.HasSuffix(lower, ".p12") && !strings.HasSuffix(lower, ".pfx") {
		return contents{}, fmt.Errorf("%w: %w", errUnrecognized, derErr)
	}
	return contents{}, errUnrecognized
}
