package discovery

import (
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

// FuzzParseFile feeds arbitrary bytes to the per-file parser, under a neutral name and a
// PKCS#12 one: it must never panic, a file it accepts must have a format, and what it
// finds must describe without key material.
func FuzzParseFile(f *testing.F) {
	c := newChain(f)
	chainPEM := certPEM(c.leaf, c.inter)
	f.Add(chainPEM)
	f.Add(chainPEM[:len(chainPEM)/2])
	f.Add(append(certPEM(c.leaf), keyPEM(f, c.leafKey)...))
	f.Add(c.leaf.Raw)
	f.Add(p12(f, pkcs12.Modern, c, ""))
	f.Add(p12(f, pkcs12.Passwordless, c, ""))
	f.Add(p12(f, pkcs12.LegacyDES, c, "x"))
	f.Add([]byte("-----BEGIN TRUSTED CERTIFICATE-----\nMAA=\n-----END TRUSTED CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x80, 0x02, 0x01, 0x03})
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"file", "file.p12"} {
			got, err := parseFile(name, data)
			if err == nil && got.format == "" {
				t.Fatalf("%s: accepted without a format", name)
			}
			for _, cert := range got.certs {
				d := Describe(cert, name, got.format)
				if strings.Contains(d.CertPEM, "PRIVATE") || d.Fingerprint == "" {
					t.Fatalf("%s: bad description %+v", name, d)
				}
			}
		}
	})
}
