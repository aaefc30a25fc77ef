package servertls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Lifetimes of the self-issued certificates, and when the leaf is replaced.
const (
	rootLifetime = 10 * 365 * 24 * time.Hour
	leafLifetime = 90 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// Files in the TLS folder of the data directory.
const (
	RootFile    = "ca.pem" // the root clients may trust, e.g. with curl --cacert
	rootKeyFile = "ca.key"
	leafFile    = "server.pem"
	leafKeyFile = "server.key"
)

// SelfIssued serves a certificate for hosts, signed by a root kept in dir. The root and
// leaf are made on first use, and the leaf is replaced when it nears expiry or when hosts
// change. Keys are written with mode 0600.
func SelfIssued(dir string, hosts []string, now func() time.Time,
	log *slog.Logger) (*Source, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	refresh := func(current *tls.Certificate) (*tls.Certificate, error) {
		if current != nil && !leafDue(current.Leaf, hosts, now()) {
			return current, nil
		}
		return loadOrIssue(dir, hosts, now(), log)
	}
	return newSource(refresh, now, log)
}

// leafDue reports whether leaf must be replaced: near its end, or not naming every host.
func leafDue(leaf *x509.Certificate, hosts []string, now time.Time) bool {
	if leaf == nil || now.After(leaf.NotAfter.Add(-renewBefore)) {
		return true
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return true
		}
	}
	return false
}

func loadOrIssue(dir string, hosts []string, now time.Time,
	log *slog.Logger) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(filepath.Join(dir, leafFile), filepath.Join(dir, leafKeyFile))
	if err == nil && !leafDue(c.Leaf, hosts, now) {
		return &c, nil
	}
	root, rootKey, err := loadOrMakeRoot(dir, now, log)
	if err != nil {
		return nil, err
	}
	leafCert, err := issueLeaf(dir, root, rootKey, hosts, now)
	if err != nil {
		return nil, err
	}
	log.Info("server certificate issued", "hosts", hosts, "not_after", leafCert.Leaf.NotAfter,
		"root", filepath.Join(dir, RootFile))
	return leafCert, nil
}

func loadOrMakeRoot(dir string, now time.Time,
	log *slog.Logger) (*x509.Certificate, crypto.Signer, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, RootFile), filepath.Join(dir, rootKeyFile))
	if err == nil && now.Before(pair.Leaf.NotAfter) {
		return pair.Leaf, pair.PrivateKey.(crypto.Signer), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("load server root from %s: %w", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate root key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "certctl server root", Organization: []string{"certctl"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(rootLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create root: %w", err)
	}
	if err := writePair(dir, RootFile, rootKeyFile, [][]byte{der}, key); err != nil {
		return nil, nil, err
	}
	root, _ := x509.ParseCertificate(der)
	log.Info("server root created", "path", filepath.Join(dir, RootFile))
	return root, key, nil
}

func issueLeaf(dir string, root *x509.Certificate, rootKey crypto.Signer, hosts []string,
	now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if !slices.Contains(tmpl.DNSNames, h) {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, key.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("create server certificate: %w", err)
	}
	if err := writePair(dir, leafFile, leafKeyFile, [][]byte{der, root.Raw}, key); err != nil {
		return nil, err
	}
	c, err := tls.LoadX509KeyPair(filepath.Join(dir, leafFile), filepath.Join(dir, leafKeyFile))
	if err != nil {
		return nil, fmt.Errorf("reload server certificate: %w", err)
	}
	return &c, nil
}

// writePair writes the certificate chain and key, each through a temporary file and a
// rename, so a crash never leaves half a file behind.
func writePair(dir, certName, keyName string, chain [][]byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	var certPEM []byte
	for _, der := range chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := writeFile(filepath.Join(dir, keyName), keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, certName), certPEM, 0o644)
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// serial returns a random positive 128-bit serial number.
func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return n.Add(n, big.NewInt(1))
}
