package deploy

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Material is what a deployment writes: the leaf certificate, the chain that leads from it
// towards a root (PEM, leaf first; CertPEM may carry the chain too), and the private key.
type Material struct {
	CertPEM  string
	ChainPEM string
	Key      crypto.Signer
}

// material is Material checked and rendered in the forms the target types write.
type material struct {
	leaf     *x509.Certificate
	chain    []*x509.Certificate
	key      crypto.Signer
	leafPEM  []byte
	chainPEM []byte
	keyPEM   []byte // PKCS#8 "PRIVATE KEY"
}

// newMaterial parses m and checks that the leaf belongs to the key.
func newMaterial(m Material) (*material, error) {
	certs, err := parseCerts(m.CertPEM + "\n" + m.ChainPEM)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("the material holds no certificate")
	}
	if m.Key == nil {
		return nil, errors.New("the material holds no private key")
	}
	pub, ok := certs[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(m.Key.Public()) {
		return nil, fmt.Errorf("the certificate (serial %s) does not match the private key",
			certs[0].SerialNumber.Text(16))
	}
	der, err := x509.MarshalPKCS8PrivateKey(m.Key)
	if err != nil {
		return nil, fmt.Errorf("encode the private key as PKCS#8: %w", err)
	}
	out := &material{leaf: certs[0], chain: certs[1:], key: m.Key,
		leafPEM: certPEM(certs[0]),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})}
	for _, c := range out.chain {
		out.chainPEM = append(out.chainPEM, certPEM(c)...)
	}
	return out, nil
}

// fullchain is the leaf followed by the chain.
func (m *material) fullchain() []byte {
	return append(append([]byte{}, m.leafPEM...), m.chainPEM...)
}

// parseCerts reads every CERTIFICATE block of s, refusing other blocks so that a key
// pasted into a certificate field is never written where a certificate belongs.
func parseCerts(s string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return certs, nil
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("the certificates hold a %q block", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d does not parse: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
