package servertls

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"certctl/app/ca"
)

// Lifetime of the server certificate, and how long before its end it is replaced.
const (
	leafLifetime = 90 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// Files in the TLS folder of the data directory.
const (
	RootFile    = "ca.pem" // the root clients may trust, e.g. with curl --cacert
	leafFile    = "server.pem"
	leafKeyFile = "server.key"
)

// Issuer signs the server's certificate: the local CA.
type Issuer interface {
	// Issue signs a leaf and returns it with the chain above it, PEM, ending with the root.
	Issue(ctx context.Context, r ca.LeafRequest) (*x509.Certificate, []byte, error)
	// Issued reports whether leaf was signed by the CA that issues now.
	Issued(leaf *x509.Certificate) bool
}

// Issued serves a certificate for hosts from iss, kept in dir so restarts reuse it. It is
// replaced when it nears its end, when hosts change, or when iss no longer issues under the
// CA that signed it. The key is written with mode 0600; the root of the chain is written
// to RootFile for clients to trust.
func Issued(dir string, hosts []string, iss Issuer, now func() time.Time,
	log *slog.Logger) (*Source, error) {
	if len(hosts) == 0 {
		return nil, fmt.Errorf("server certificate: no host names")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	refresh := func(current *tls.Certificate) (*tls.Certificate, error) {
		if current != nil && !due(current.Leaf, hosts, iss, now()) {
			return current, nil
		}
		return loadOrIssue(dir, hosts, iss, now(), log)
	}
	return newSource(refresh, now, log)
}

// due reports whether leaf must be replaced.
func due(leaf *x509.Certificate, hosts []string, iss Issuer, now time.Time) bool {
	if leaf == nil || now.After(leaf.NotAfter.Add(-renewBefore)) || !iss.Issued(leaf) {
		return true
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return true
		}
	}
	return false
}

func loadOrIssue(dir string, hosts []string, iss Issuer, now time.Time,
	log *slog.Logger) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(filepath.Join(dir, leafFile), filepath.Join(dir, leafKeyFile))
	if err == nil && !due(c.Leaf, hosts, iss, now) {
		return &c, nil
	}
	key, err := ca.GenerateKey("ecdsa-p256")
	if err != nil {
		return nil, err
	}
	req := ca.LeafRequest{PublicKey: key.Public(), CommonName: hosts[0],
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(leafLifetime),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			req.IPAddresses = append(req.IPAddresses, ip)
		} else if !slices.Contains(req.DNSNames, h) {
			req.DNSNames = append(req.DNSNames, h)
		}
	}
	leaf, chain, err := iss.Issue(context.Background(), req)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	if err := write(dir, leaf, chain, key); err != nil {
		return nil, err
	}
	out, err := tls.LoadX509KeyPair(filepath.Join(dir, leafFile), filepath.Join(dir, leafKeyFile))
	if err != nil {
		return nil, fmt.Errorf("reload server certificate: %w", err)
	}
	log.Info("server certificate issued", "hosts", hosts, "not_after", leaf.NotAfter,
		"serial", leaf.SerialNumber.Text(16))
	return &out, nil
}

// write stores the key, the leaf with its chain, and the chain's root, each through a
// temporary file and a rename, so a crash never leaves half a file behind.
func write(dir string, leaf *x509.Certificate, chain []byte, key crypto.Signer) error {
	der, err := ca.MarshalKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, leafKeyFile),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	if err := writeFile(filepath.Join(dir, leafFile), append(leafPEM, chain...),
		0o644); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, RootFile), lastPEM(chain), 0o644)
}

// lastPEM returns the last PEM block of text: the root of a chain.
func lastPEM(text []byte) []byte {
	var last *pem.Block
	for {
		b, rest := pem.Decode(text)
		if b == nil {
			break
		}
		last, text = b, rest
	}
	if last == nil {
		return nil
	}
	return pem.EncodeToMemory(last)
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
