package certs

import (
	"errors"
	"testing"

	"certctl/app/valid"
)

// FuzzParseBundle feeds arbitrary certificate and key text to the import parser: it must
// never panic, and every refusal must name the field at fault.
func FuzzParseBundle(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), []byte{})
	f.Add([]byte("not pem"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		b, err := ParseBundle(certPEM, keyPEM)
		if err == nil {
			if b.Leaf == nil {
				t.Fatal("no error and no leaf")
			}
			return
		}
		var fields valid.Errors
		if !errors.As(err, &fields) || (fields["cert_pem"] == "" && fields["key_pem"] == "") {
			t.Fatalf("refusal without a field: %v", err)
		}
	})
}

// FuzzParseNames feeds arbitrary names: no panic, and accepted names come back in a form
// that parses again to the same names.
func FuzzParseNames(f *testing.F) {
	for _, s := range []string{"www.example.com", "10.0.0.1", "ops@example.com",
		"spiffe://example.org/x", "*.example.com", "::1", "urn:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNames("", []string{s})
		if err != nil {
			return
		}
		again, err := ParseNames("", n.Strings())
		if err != nil || len(again.Strings()) != len(n.Strings()) {
			t.Fatalf("names %v do not parse again: %v", n.Strings(), err)
		}
	})
}
