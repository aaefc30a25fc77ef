package discovery

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// certExtensions are the file name endings that promise a certificate: such a file that
// holds none is reported, where any other file is skipped quietly.
var certExtensions = []string{".pem", ".crt", ".cer", ".der", ".p12", ".pfx"}

func namedLikeCertificate(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	for _, e := range certExtensions {
		if ext == e {
			return true
		}
	}
	return false
}

var (
	errTooLarge   = errors.New("file too large")
	errNotRegular = errors.New("not a regular file")
)

// file reads and reports the certificates of one regular file of the given size.
func (w *walker) file(path string, size int64) {
	named := namedLikeCertificate(path)
	tooLarge := fmt.Sprintf("larger than the %d-byte limit; not read", w.opts.MaxFileSize)
	if size > w.opts.MaxFileSize {
		if named {
			w.problem(path, tooLarge)
		}
		return
	}

	data, err := readFile(path, w.opts.MaxFileSize)
	switch {
	case errors.Is(err, errTooLarge):
		if named {
			w.problem(path, tooLarge)
		}
		return
	case err != nil:
		w.problem(path, reason(err))
		return
	}

	c, err := parseFile(path, data)
	if err != nil && (named || !errors.Is(err, errUnrecognized)) {
		w.problem(path, err.Error())
	}
	if len(c.certs) == 0 {
		return
	}
	keys := c.keys
	if !allMatched(c.certs, keys) {
		keys = append(keys, w.siblingKeys(path)...)
	}
	for i, cert := range c.certs {
		// Location tells the certificates of one file apart: the store keys on it.
		loc := path
		if i > 0 {
			loc = fmt.Sprintf("%s#%d", path, i+1)
		}
		d := Describe(cert, loc, c.format)
		d.KeyFound = matches(cert, keys)
		w.out.Certificates = append(w.out.Certificates, d)
	}
}

// siblingKeys returns the public halves of the keys in the file beside path with the same
// base name and the extension .key, such as server.key for server.crt. A missing or
// unreadable key file is no problem worth reporting: the certificate is simply reported
// without a key.
func (w *walker) siblingKeys(path string) []crypto.PublicKey {
	keyPath := strings.TrimSuffix(path, filepath.Ext(path)) + ".key"
	if keyPath == path {
		return nil
	}
	data, err := readFile(keyPath, w.opts.MaxFileSize)
	if err != nil {
		return nil
	}
	c, _ := parseFile(keyPath, data)
	return c.keys
}

// readFile reads a regular file of at most max bytes.
func readFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	info, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !info.Mode().IsRegular():
		return nil, errNotRegular
	case info.Size() > max:
		return nil, errTooLarge
	}
	// The file may have grown since it was measured.
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, errTooLarge
	}
	return data, nil
}

// matches reports whether one of keys is cert's public key.
func matches(cert *x509.Certificate, keys []crypto.PublicKey) bool {
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return false
	}
	for _, k := range keys {
		if pub.Equal(k) {
			return true
		}
	}
	return false
}

func allMatched(certs []*x509.Certificate, keys []crypto.PublicKey) bool {
	for _, c := range certs {
		if !matches(c, keys) {
			return false
		}
	}
	return true
}
