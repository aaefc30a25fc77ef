package ca

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
)

// testKeys holds one key per spec, made once: RSA 4096 is slow to generate.
var (
	testKeysMu sync.Mutex
	testKeys   = map[string]crypto.Signer{}
)

func testKey(t *testing.T, spec string) crypto.Signer {
	t.Helper()
	testKeysMu.Lock()
	defer testKeysMu.Unlock()
	if k, ok := testKeys[spec]; ok {
		return k
	}
	k, err := GenerateKey(spec)
	if err != nil {
		t.Fatalf("generate %s: %v", spec, err)
	}
	testKeys[spec] = k
	return k
}

func TestMarshalParseKeyRoundTrip(t *testing.T) {
	for _, spec := range KeySpecs() {
		t.Run(spec, func(t *testing.T) {
			key := testKey(t, spec)
			der, err := MarshalKey(key)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			back, err := ParseKey(der)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			type equaler interface{ Equal(crypto.PrivateKey) bool }
			if !back.(equaler).Equal(key) {
				t.Error("parsed key differs from the marshalled one")
			}
			got, _, err := KeySpecOf(back.Public())
			if err != nil || got != spec {
				t.Errorf("spec of parsed key: got %q, %v, want %q", got, err, spec)
			}
		})
	}
}

func TestKeySpecOf(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		pub      crypto.PublicKey
		wantSpec string
		wantBits int
		wantErr  bool
	}{
		{"p256", testKey(t, ECDSAP256).Public(), ECDSAP256, 256, false},
		{"p384", testKey(t, ECDSAP384).Public(), ECDSAP384, 384, false},
		{"rsa 2048", testKey(t, RSA2048).Public(), RSA2048, 2048, false},
		{"rsa 3072", testKey(t, RSA3072).Public(), RSA3072, 3072, false},
		{"rsa 4096", testKey(t, RSA4096).Public(), RSA4096, 4096, false},
		{"ed25519", testKey(t, Ed25519).Public(), Ed25519, 256, false},
		{"rsa of another size", rsa1024.Public(), "rsa-1024", 1024, false},
		{"p224", p224.Public(), "", 0, true},
		{"x25519", x25519.PublicKey(), "", 0, true},
		{"nil", nil, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, bits, err := KeySpecOf(tt.pub)
			if tt.wantErr {
				if !errors.Is(err, ErrKeySpec) {
					t.Errorf("key spec: got %v, want ErrKeySpec", err)
				}
				return
			}
			if err != nil || spec != tt.wantSpec || bits != tt.wantBits {
				t.Errorf("key spec: got %q, %d, %v, want %q, %d", spec, bits, err,
					tt.wantSpec, tt.wantBits)
			}
		})
	}
}

func TestGenerateKeyUnknownSpec(t *testing.T) {
	for _, spec := range []string{"", "rsa-1024", "ECDSA-P256", "ecdsa-p521"} {
		if _, err := GenerateKey(spec); !errors.Is(err, ErrKeySpec) {
			t.Errorf("generate %q: got %v, want ErrKeySpec", spec, err)
		}
	}
}

func TestParseKeyRefusals(t *testing.T) {
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	xDER, err := x509.MarshalPKCS8PrivateKey(x25519)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKey(xDER); !errors.Is(err, ErrKeySpec) {
		t.Errorf("parse x25519 key: got %v, want ErrKeySpec", err)
	}
	if _, err := ParseKey([]byte("not a key")); err == nil {
		t.Error("parse garbage: got no error")
	}
}

func TestParseKeyPEMSkipsOtherBlocks(t *testing.T) {
	key := testKey(t, ECDSAP256)
	sec1, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	// openssl ecparam -genkey writes the curve parameters before the key.
	text := "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" +
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	got, err := parseKeyPEM([]byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if !got.(*ecdsa.PrivateKey).Equal(key) {
		t.Error("parsed a different key")
	}

	bad := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1, 2}})
	if _, err := parseKeyPEM(bad); err == nil || !strings.Contains(err.Error(), "rsa") {
		t.Errorf("parse broken rsa key: got %v, want an error naming the block", err)
	}
}
