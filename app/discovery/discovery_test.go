package discovery

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"certctl/app/agentapi"
)

// index maps a scan's certificates and problems by location.
func index(t *testing.T, d agentapi.Discovery) (map[string]agentapi.Discovered,
	map[string]string) {
	t.Helper()
	found := map[string]agentapi.Discovered{}
	for _, c := range d.Certificates {
		if _, dup := found[c.Location]; dup {
			t.Errorf("location %s reported twice", c.Location)
		}
		found[c.Location] = c
	}
	problems := map[string]string{}
	for _, p := range d.Errors {
		problems[p.Location] += p.Error + ";"
	}
	return found, problems
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func p12(t testing.TB, enc *pkcs12.Encoder, c chain, password string) []byte {
	t.Helper()
	data, err := enc.Encode(c.leafKey, c.leaf, []*x509.Certificate{c.inter}, password)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestScanTree(t *testing.T) {
	c := newChain(t)
	other := newChain(t)
	dir := t.TempDir()
	outside := t.TempDir()
	leafPEM := certPEM(c.leaf)
	truncated := certPEM(c.inter)
	truncated = truncated[:len(truncated)/2]

	write(t, dir, "leaf.pem", leafPEM)
	write(t, dir, "chain.pem", certPEM(c.leaf, c.inter, c.root))
	write(t, dir, "bundle.pem", append(certPEM(c.leaf), keyPEM(t, c.leafKey)...))
	write(t, dir, "wrongkey.pem", append(certPEM(c.leaf), keyPEM(t, other.leafKey)...))
	write(t, dir, "server.crt", leafPEM)
	write(t, dir, "server.key", keyPEM(t, c.leafKey))
	write(t, dir, "cert.der", c.leaf.Raw)
	write(t, dir, "bundle.p12", p12(t, pkcs12.Modern, c, ""))
	write(t, dir, "open.pfx", p12(t, pkcs12.Passwordless, c, ""))
	write(t, dir, "locked.p12", p12(t, pkcs12.Modern, c, "secret"))
	write(t, dir, "garbage.crt", []byte("this is not a certificate\n"))
	write(t, dir, "empty.pem", nil)
	write(t, dir, "empty.txt", nil)
	write(t, dir, "notes.txt", []byte("nothing to see\n"))
	write(t, dir, "only.key", keyPEM(t, c.leafKey))
	write(t, dir, "key-only.pem", keyPEM(t, c.leafKey))
	write(t, dir, "truncated.pem", truncated)
	write(t, dir, "half-chain.pem", append(certPEM(c.leaf), truncated...))
	write(t, dir, "a/b/c/deep.crt", leafPEM)
	write(t, dir, "big.pem", bytes.Repeat([]byte("#"), 5000))
	write(t, dir, "big.bin", bytes.Repeat([]byte("#"), 5000))
	write(t, outside, "linked.pem", leafPEM)
	for link, to := range map[string]string{
		"loop":      ".",                                  // a directory loop: not followed
		"up":        "..",                                 // out of the tree: not followed
		"ping":      "pong",                               // a file link loop
		"pong":      "ping",                               //
		"dangling":  "missing.pem",                        //
		"ext.pem":   filepath.Join(outside, "linked.pem"), // a file outside: followed
		"a/b/cross": outside,                              // a directory outside: not followed
	} {
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}

	got := Scan(context.Background(), []string{dir}, Options{MaxFileSize: 4096})
	found, problems := index(t, got)

	in := func(name string) string { return filepath.Join(dir, name) }
	wantFound := map[string]struct {
		format   string
		cert     *x509.Certificate
		keyFound bool
	}{
		"leaf.pem":       {"pem", c.leaf, false},
		"chain.pem":      {"pem", c.leaf, false},
		"chain.pem#2":    {"pem", c.inter, false},
		"chain.pem#3":    {"pem", c.root, false},
		"bundle.pem":     {"pem", c.leaf, true},
		"wrongkey.pem":   {"pem", c.leaf, false},
		"server.crt":     {"pem", c.leaf, true},
		"cert.der":       {"der", c.leaf, false},
		"bundle.p12":     {"pkcs12", c.leaf, true},
		"bundle.p12#2":   {"pkcs12", c.inter, false},
		"open.pfx":       {"pkcs12", c.leaf, true},
		"open.pfx#2":     {"pkcs12", c.inter, false},
		"half-chain.pem": {"pem", c.leaf, false},
		"a/b/c/deep.crt": {"pem", c.leaf, false},
		"ext.pem":        {"pem", c.leaf, false},
	}
	for name, want := range wantFound {
		d, ok := found[in(name)]
		if !ok {
			t.Errorf("%s: not found", name)
			continue
		}
		if d.Format != want.format || d.KeyFound != want.keyFound ||
			d.Fingerprint != Describe(want.cert, "", "").Fingerprint {
			t.Errorf("%s: got format %s, key found %v, fingerprint %.8s; want %s, %v, %.8s",
				name, d.Format, d.KeyFound, d.Fingerprint, want.format, want.keyFound,
				Describe(want.cert, "", "").Fingerprint)
		}
		if strings.Contains(d.CertPEM, "PRIVATE") {
			t.Errorf("%s: key material in the report", name)
		}
	}
	if len(found) != len(wantFound) {
		t.Errorf("got certificates at %v, want %d", keys(found), len(wantFound))
	}

	wantProblems := map[string]string{
		"locked.p12":     "password",
		"garbage.crt":    "no certificate",
		"empty.pem":      "empty file",
		"truncated.pem":  "truncated or damaged",
		"half-chain.pem": "truncated or damaged",
		"big.pem":        "4096-byte limit",
		"ping":           "broken link",
		"pong":           "broken link",
		"dangling":       "broken link",
	}
	for name, want := range wantProblems {
		if !strings.Contains(problems[in(name)], want) {
			t.Errorf("%s: got problem %q, want one containing %q", name, problems[in(name)], want)
		}
	}
	if len(problems) != len(wantProblems) {
		t.Errorf("got problems %v, want %d", problems, len(wantProblems))
	}
	if !got.StartedAt.Before(got.FinishedAt) && !got.StartedAt.Equal(got.FinishedAt) {
		t.Errorf("started %v after finishing %v", got.StartedAt, got.FinishedAt)
	}
}

func TestScanMissingAndFileRoots(t *testing.T) {
	c := newChain(t)
	dir := t.TempDir()
	file := write(t, dir, "one.pem", certPEM(c.leaf))
	missing := filepath.Join(dir, "nope")

	got := Scan(context.Background(), []string{missing, file, ""}, Options{})
	found, problems := index(t, got)

	if _, ok := found[file]; !ok || len(found) != 1 {
		t.Errorf("got certificates at %v, want only %s", keys(found), file)
	}
	if !strings.Contains(problems[missing], "no such file") {
		t.Errorf("got problem %q for a missing directory", problems[missing])
	}
	if !strings.Contains(problems[""], "empty directory name") {
		t.Errorf("got problems %v, want one for the empty name", problems)
	}
	if len(got.Directories) != 3 {
		t.Errorf("got directories %v, want all three as given", got.Directories)
	}
}

func TestScanLimits(t *testing.T) {
	c := newChain(t)
	dir := t.TempDir()
	for _, name := range []string{"1.pem", "2.pem", "3.pem", "4.pem", "d1/d2/d3/deep.pem"} {
		write(t, dir, name, certPEM(c.leaf))
	}

	t.Run("files", func(t *testing.T) {
		got := Scan(context.Background(), []string{dir}, Options{MaxFiles: 2})
		found, problems := index(t, got)
		if len(found) != 2 {
			t.Errorf("got %d certificates, want 2 before the limit", len(found))
		}
		if !strings.Contains(problems[dir], "after 2 entries") {
			t.Errorf("got problems %v, want the limit named", problems)
		}
	})
	t.Run("depth", func(t *testing.T) {
		got := Scan(context.Background(), []string{dir}, Options{MaxDepth: 2})
		found, problems := index(t, got)
		if len(found) != 4 {
			t.Errorf("got certificates at %v, want the 4 near the top", keys(found))
		}
		if p := problems[filepath.Join(dir, "d1/d2/d3")]; !strings.Contains(p, "deeper than 2") {
			t.Errorf("got problems %v, want d1/d2/d3 refused as too deep", problems)
		}
	})
}

func TestScanCancelled(t *testing.T) {
	c := newChain(t)
	dir := t.TempDir()
	write(t, dir, "leaf.pem", certPEM(c.leaf))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	got := Scan(ctx, []string{dir, dir + "/other"}, Options{})

	if len(got.Certificates) != 0 || len(got.Errors) != 2 {
		t.Fatalf("got %d certificates and problems %v, want none and two", len(got.Certificates),
			got.Errors)
	}
	if !strings.Contains(got.Errors[0].Error, "canceled") {
		t.Errorf("got problem %q, want the cancellation named", got.Errors[0].Error)
	}
}

// TestScanUnreadable checks that files and directories the agent may not read become
// problems of the scan. Permissions do not stop root, so as root the scan runs in a child
// process as the user nobody.
func TestScanUnreadable(t *testing.T) {
	c := newChain(t)
	dir := t.TempDir()
	file := write(t, dir, "secret.pem", certPEM(c.leaf))
	sub := filepath.Join(dir, "closed")
	write(t, sub, "inside.pem", certPEM(c.leaf))
	for _, p := range []string{file, sub} {
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(p, 0o755) })
	}

	var got agentapi.Discovery
	if os.Geteuid() == 0 {
		got = scanAsNobody(t, dir)
	} else {
		got = Scan(context.Background(), []string{dir}, Options{})
	}
	_, problems := index(t, got)

	if len(problems) != 2 {
		t.Errorf("got problems %v, want the two closed paths", problems)
	}
	for _, p := range []string{file, sub} {
		if !strings.Contains(problems[p], "permission denied") {
			t.Errorf("%s: got problem %q, want permission denied", p, problems[p])
		}
	}
}

func TestScanUsesClock(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	got := Scan(context.Background(), nil, Options{Now: func() time.Time { return at }})
	if !got.StartedAt.Equal(at) || got.StartedAt.Location() != time.UTC {
		t.Errorf("got started %v, want %v in UTC", got.StartedAt, at)
	}
	if got.Certificates == nil {
		t.Error("got nil certificates, want an empty list")
	}
}
