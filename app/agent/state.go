package agent

import (
	"cmp"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"certctl/app/ca"
)

// keepKeys is how many keys per certificate stay on the host: the one deployed, and the
// ones before it for a rollback.
const keepKeys = 3

// identity is what enrollment gave the agent, kept in the state directory.
type identity struct {
	AgentID    string `json:"agent_id"`
	Credential string `json:"credential"`
	ServerURL  string `json:"server_url"`
}

// state is the agent's state directory: its identity and the private keys it made.
type state struct {
	dir string
}

// openState makes sure dir exists with mode 0700 and returns it.
func openState(dir string) (state, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return state{}, fmt.Errorf("state directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return state{}, fmt.Errorf("state directory: %w", err)
	}
	return state{dir: dir}, nil
}

func (s state) identityPath() string { return filepath.Join(s.dir, "agent.json") }

// loadIdentity returns the stored identity, or ok false when the agent has not enrolled.
func (s state) loadIdentity() (identity, bool, error) {
	b, err := os.ReadFile(s.identityPath())
	if errors.Is(err, fs.ErrNotExist) {
		return identity{}, false, nil
	}
	if err != nil {
		return identity{}, false, err
	}
	var id identity
	if err := json.Unmarshal(b, &id); err != nil || id.AgentID == "" || id.Credential == "" {
		return identity{}, false, fmt.Errorf("%s is damaged; remove it to enroll again",
			s.identityPath())
	}
	return id, true, nil
}

func (s state) saveIdentity(id identity) error {
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.identityPath(), b, 0o600)
}

// writeFileAtomic writes b to path through a temporary file in the same directory, synced
// and renamed over path, so that path holds either the old or the new content.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// keyID names a key by the SHA-256 of its public key.
func keyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

func (s state) keyDir(certID string) string {
	return filepath.Join(s.dir, "keys", filepath.Base(certID))
}

// saveKey stores key for certificate certID, 0600, and removes all but the newest keys.
func (s state) saveKey(certID string, key crypto.Signer) error {
	dir := s.keyDir(certID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	der, err := ca.MarshalKey(key)
	if err != nil {
		return err
	}
	id, err := keyID(key.Public())
	if err != nil {
		return err
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeFileAtomic(filepath.Join(dir, id+".key"), pemKey, 0o600); err != nil {
		return err
	}
	return s.pruneKeys(dir)
}

// pruneKeys keeps the keepKeys newest keys in dir.
func (s state) pruneKeys(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	type keyFile struct {
		name string
		mod  int64
	}
	var keys []keyFile
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || filepath.Ext(e.Name()) != ".key" {
			continue
		}
		keys = append(keys, keyFile{e.Name(), info.ModTime().UnixNano()})
	}
	slices.SortFunc(keys, func(a, b keyFile) int { return cmp.Compare(b.mod, a.mod) })
	for _, k := range keys[min(len(keys), keepKeys):] {
		os.Remove(filepath.Join(dir, k.name))
	}
	return nil
}

// keyFor returns the stored key of certificate certID whose public key is pub.
func (s state) keyFor(certID string, pub crypto.PublicKey) (crypto.Signer, error) {
	id, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.keyDir(certID), id+".key"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("this host holds no key for the issued certificate (the " +
			"key was made on another host, or the state directory was lost); renew the " +
			"certificate to make a new key here")
	}
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("key file for %s is damaged", certID)
	}
	return ca.ParseKey(block.Bytes)
}
