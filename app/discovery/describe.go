package discovery

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

// Describe turns a certificate into its wire form, found at location in format ("pem",
// "der", "pkcs12" or "tls"). KeyFound is left false: only the caller knows whether a key was
// beside it.
func Describe(cert *x509.Certificate, location, format string) agentapi.Discovered {
	sum := sha256.Sum256(cert.Raw)
	alg, bits := keyAlgorithm(cert)
	return agentapi.Discovered{
		Fingerprint:  hex.EncodeToString(sum[:]),
		Subject:      rfc2253(cert.RawSubject, cert.Subject),
		CommonName:   cert.Subject.CommonName,
		SANs:         sans(cert),
		Issuer:       rfc2253(cert.RawIssuer, cert.Issuer),
		Serial:       cert.SerialNumber.Text(16),
		NotBefore:    cert.NotBefore.UTC(),
		NotAfter:     cert.NotAfter.UTC(),
		KeyAlgorithm: alg,
		KeyBits:      bits,
		IsCA:         cert.IsCA,
		Location:     location,
		Format:       format,
		CertPEM:      string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
	}
}

// rfc2253 writes a distinguished name as RFC 2253 does, as `openssl -nameopt RFC2253` does
// too: the attributes in the reverse of their order in the certificate. pkix.Name.String
// alone would put them in a fixed order of its own, so it serves only when raw is
// unreadable.
func rfc2253(raw []byte, name pkix.Name) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		return name.String()
	}
	return seq.String()
}

// sans lists the subject alternative names: DNS names, IP addresses, e-mail addresses and
// URIs, in that order.
func sans(cert *x509.Certificate) []string {
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

// keyAlgorithm names the certificate's key as the CA does ("ecdsa-p256", "rsa-2048"). Keys
// the CA does not handle are still named, since discovery reports whatever it finds: other
// ECDSA curves as "ecdsa-p521", other types by their algorithm in lower case.
func keyAlgorithm(cert *x509.Certificate) (string, int) {
	spec, bits, err := ca.KeySpecOf(cert.PublicKey)
	if err == nil {
		return spec, bits
	}
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); ok && k.Curve != nil {
		params := k.Curve.Params()
		return "ecdsa-" + strings.ToLower(strings.ReplaceAll(params.Name, "-", "")), params.BitSize
	}
	if cert.PublicKeyAlgorithm == x509.UnknownPublicKeyAlgorithm {
		return "unknown", 0
	}
	return strings.ToLower(cert.PublicKeyAlgorithm.String()), 0
}
