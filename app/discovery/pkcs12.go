package discovery

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// maxIterations bounds the key derivation work a PKCS#12 file may ask for. The file picks
// its own iteration counts and go-pkcs12 runs them as given, so a crafted file could keep
// the scan busy for hours. Tools write 2,048 (OpenSSL) to 10,000 (Java); a million is well
// under a second.
const maxIterations = 1 << 20

// parsePKCS12 reads a PKCS#12 bundle protected by no password or the empty one. Data that is
// not PKCS#12 at all gives an error wrapping errUnrecognized; a bundle that needs a password
// or cannot be read gives an error that says so.
func parsePKCS12(data []byte) (contents, error) {
	if !isPFX(data) {
		return contents{}, fmt.Errorf("%w: not PKCS#12", errUnrecognized)
	}
	// TODO: key bags inside encrypted parts are decrypted before their iteration counts can
	// be seen, so a crafted bundle can still cost one long key derivation there.
	if n := kdfIterations(data, 0); n > maxIterations {
		return contents{}, fmt.Errorf("pkcs12 bundle asks for %d key derivation iterations, "+
			"more than %d", n, maxIterations)
	}

	key, leaf, chain, err := pkcs12.DecodeChain(data, "")
	if errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption) {
		return contents{}, errors.New("pkcs12 bundle is protected by a password")
	}
	if err == nil {
		c := contents{format: formatPKCS12, certs: append([]*x509.Certificate{leaf}, chain...)}
		if pub := publicOf(key); pub != nil {
			c.keys = append(c.keys, pub)
		}
		return c, nil
	}
	// A bundle of certificates alone, as Java writes trust stores.
	// TODO: read other bundles without a key too (openssl pkcs12 -nokeys writes them);
	// go-pkcs12 offers no way, so for now they are reported as "private key missing".
	if certs, tsErr := pkcs12.DecodeTrustStore(data, ""); tsErr == nil && len(certs) > 0 {
		return contents{format: formatPKCS12, certs: certs}, nil
	}
	return contents{}, fmt.Errorf("pkcs12 bundle: %s", strings.TrimPrefix(err.Error(), "pkcs12: "))
}

// pfxHeader is the outer shape of a PKCS#12 file (RFC 7292, section 4).
type pfxHeader struct {
	Version  int
	AuthSafe asn1.RawValue
	MacData  asn1.RawValue `asn1:"optional"`
}

func isPFX(data []byte) bool {
	var h pfxHeader
	rest, err := asn1.Unmarshal(data, &h)
	return err == nil && len(rest) == 0 && h.Version == 3
}

// kdfIterations returns the largest key derivation iteration count visible in DER data,
// looking no deeper than depth 24. In PKCS#12 every set of key derivation parameters (MAC
// data, PBE parameters, PBKDF2 parameters) has a salt OCTET STRING directly followed by the
// iteration count INTEGER; the walk finds that pattern anywhere, including inside OCTET
// STRINGs, in which PKCS#12 wraps its parts.
func kdfIterations(der []byte, depth int) int {
	if depth > 24 {
		return 0
	}
	most := 0
	afterOctets := false
	for len(der) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(der, &v)
		if err != nil {
			break
		}
		der = rest
		universal := v.Class == asn1.ClassUniversal
		octets := universal && v.Tag == asn1.TagOctetString && !v.IsCompound
		switch {
		case universal && v.Tag == asn1.TagInteger && afterOctets:
			most = max(most, intValue(v.Bytes))
		case v.IsCompound || octets:
			most = max(most, kdfIterations(v.Bytes, depth+1))
		}
		afterOctets = octets
	}
	return most
}

// intValue reads a DER INTEGER, taking a negative or very large one as math.MaxInt32.
func intValue(b []byte) int {
	if len(b) == 0 || len(b) > 5 || b[0]&0x80 != 0 {
		return math.MaxInt32
	}
	n := 0
	for _, c := range b {
		n = n<<8 | int(c)
	}
	return min(n, math.MaxInt32)
}
