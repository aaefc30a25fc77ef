package netscan

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"strings"

	"certctl/app/agentapi"
	"certctl/app/ca"
)

// describe turns a served certificate into its wire form, in the same words file discovery
// uses, so that a certificate found both on disk and on the network reads the same.
//
// TODO: file discovery describes certificates with code of its own; one shared function
// would keep the two from drifting apart.
func describe(cert *x509.Certificate, location, format string) agentapi.Discovered {
	sum := sha256.Sum256(cert.Raw)
	alg, bits := keyAlgorithm(cert)
	return agentapi.Discovered{
		Fingerprint:  hex.EncodeToString(sum[:]),
		Subject:      distinguishedName(cert.RawSubject, cert.Subject),
		CommonName:   cert.Subject.CommonName,
		SANs:         subjectAltNames(cert),
		Issuer:       distinguishedName(cert.RawIssuer, cert.Issuer),
		Serial:       cert.SerialNumber.Text(16),
		NotBefore:    cert.NotBefore.UTC(),
		NotAfter:     cert.NotAfter.UTC(),
		KeyAlgorithm: alg,
		KeyBits:      bits,
		IsCA:         cert.IsCA,
		Location:     location,
		Format:       format,
		CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
			Bytes: cert.Raw})),
	}
}

// distinguishedName writes a name in RFC 2253 order, the reverse of the certificate's, as
// `openssl -nameopt RFC2253` shows it. pkix.Name.String sorts attributes its own way, so it
// is used only when the raw name cannot be read.
func distinguishedName(raw []byte, name pkix.Name) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		return name.String()
	}
	return seq.String()
}

// subjectAltNames lists DNS names, then IP addresses, e-mail addresses and URIs.
func subjectAltNames(cert *x509.Certificate) []string {
	out := make([]string, 0, len(cert.DNSNames)+len(cert.IPAddresses)+
		len(cert.EmailAddresses)+len(cert.URIs))
	out = append(out, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		out = append(out, ip.String())
	}
	out = append(out, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		out = append(out, u.String())
	}
	return out
}

// keyAlgorithm names the key as the CA names key specs ("ecdsa-p256", "rsa-2048",
// "ed25519"). Keys the CA does not take are named all the same: other ECDSA curves as
// "ecdsa-p521" and the like, other types by their algorithm in lower case.
func keyAlgorithm(cert *x509.Certificate) (string, int) {
	if spec, bits, err := ca.KeySpecOf(cert.PublicKey); err == nil {
		return spec, bits
	}
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); ok && k.Curve != nil {
		params := k.Curve.Params()
		name := strings.ToLower(strings.ReplaceAll(params.Name, "-", ""))
		return "ecdsa-" + name, params.BitSize
	}
	if cert.PublicKeyAlgorithm == x509.UnknownPublicKeyAlgorithm {
		return "unknown", 0
	}
	return strings.ToLower(cert.PublicKeyAlgorithm.String()), 0
}
