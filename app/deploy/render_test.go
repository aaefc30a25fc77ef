package deploy

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

func TestRenderLayouts(t *testing.T) {
	m := newPKI(t).issue(t, 7)
	mat, err := newMaterial(m)
	if err != nil {
		t.Fatal(err)
	}
	leaf, chain, key := m.CertPEM, m.ChainPEM, keyPEM(t, m)
	tests := []struct {
		typ, config string
		want        map[string]string // path field -> content
	}{
		{"apache", `{"cert_path": "/s/c", "key_path": "/s/k"}`,
			map[string]string{"cert_path": leaf + chain, "key_path": key}},
		{"apache", `{"cert_path": "/s/c", "chain_path": "/s/ch", "key_path": "/s/k"}`,
			map[string]string{"cert_path": leaf, "chain_path": chain, "key_path": key}},
		{"nginx", `{"cert_path": "/s/c", "key_path": "/s/k"}`,
			map[string]string{"cert_path": leaf, "key_path": key}},
		{"caddy", `{"cert_path": "/s/c", "key_path": "/s/k"}`,
			map[string]string{"cert_path": leaf + chain, "key_path": key}},
		{"haproxy", `{"pem_path": "/s/p"}`, map[string]string{"pem_path": leaf + chain + key}},
		{"traefik", `{"cert_path": "/s/c", "key_path": "/s/k",
			"dynamic_config_path": "/s/d.yml"}`,
			map[string]string{"cert_path": leaf + chain, "key_path": key,
				"dynamic_config_path": "# Written by certctl; replaced on every deployment.\n" +
					"tls:\n  certificates:\n    - certFile: \"/s/c\"\n      keyFile: \"/s/k\"\n"}},
	}
	for _, tc := range tests {
		tg, err := parse(tc.typ, []byte(tc.config), []string{"/s"})
		if err != nil {
			t.Fatal(err)
		}
		files, err := tg.render(mat)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != len(tc.want) {
			t.Errorf("%s %s: got %d files, want %d", tc.typ, tc.config, len(files),
				len(tc.want))
		}
		for _, f := range files {
			if string(f.data) != tc.want[f.field] {
				t.Errorf("%s %s: %s holds\n%s", tc.typ, tc.config, f.field, f.data)
			}
		}
	}
}

func TestKeystore(t *testing.T) {
	pki := newPKI(t)
	mat, err := newMaterial(pki.issue(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	other, err := newMaterial(pki.issue(t, 8))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := encodeKeystore(mat, "changeit", "tomcat")
	if err != nil {
		t.Fatal(err)
	}
	// The library checks the MAC we computed afresh after adding the alias.
	key, leaf, chain, err := pkcs12.DecodeChain(ks, "changeit")
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !bytes.Equal(leaf.Raw, mat.leaf.Raw) || len(chain) != 1 ||
		!key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(mat.key) {
		t.Fatal("the keystore holds other material")
	}
	if _, _, _, err := pkcs12.DecodeChain(ks, "wrong-password"); err == nil {
		t.Fatal("the keystore opens with a wrong password")
	}
	p, err := parsePFX(ks)
	if err != nil || p.keyBag().friendlyName() != "tomcat" {
		t.Fatalf("alias: %v", err)
	}
	for name, tc := range map[string]struct {
		m               *material
		password, alias string
		want            bool
	}{
		"same":           {mat, "changeit", "tomcat", true},
		"other password": {mat, "changeme", "tomcat", false},
		"other alias":    {mat, "changeit", "server", false},
		"other material": {other, "changeit", "tomcat", false},
	} {
		if got := keystoreHolds(ks, tc.m, tc.password, tc.alias); got != tc.want {
			t.Errorf("%s: keystoreHolds got %v, want %v", name, got, tc.want)
		}
	}
	if keystoreHolds([]byte("garbage"), mat, "changeit", "") {
		t.Error("garbage holds the material")
	}
	if bytes.Contains(ks, []byte("PRIVATE KEY")) || bytes.Contains(ks, mat.keyPEM) {
		t.Error("the keystore holds the key in the clear")
	}
	if b, _ := pem.Decode(mat.keyPEM); bytes.Contains(ks, b.Bytes) {
		t.Error("the keystore holds the key's DER in the clear")
	}
}

// FuzzCheck feeds Check arbitrary configurations: it must not panic, and what it accepts
// must stay inside the allowed paths.
func FuzzCheck(f *testing.F) {
	f.Add("nginx", `{"fullchain_path": "/srv/certs/f", "key_path": "/srv/certs/k",
		"verify": {"address": "127.0.0.1:443"}, "reload_command": ["true"]}`)
	f.Add("jks", `{"path": "/srv/certs/a.p12", "password": "changeit", "mode": "0600"}`)
	f.Add("file", `{"cert_path": "/srv/certs/../x", "owner": "0"}`)
	f.Fuzz(func(t *testing.T, typ, config string) {
		tg, err := parse(typ, []byte(config), []string{"/srv/certs"})
		if err != nil {
			return
		}
		for field, p := range tg.paths {
			if !inside(p, []string{"/srv/certs"}) {
				t.Fatalf("accepted %s %q outside the allowed paths", field, p)
			}
		}
	})
}
