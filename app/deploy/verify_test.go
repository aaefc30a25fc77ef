package deploy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"certctl/app/agentapi"
)

// tlsServer serves, on a loopback port, the certificate that cert returns.
func tlsServer(t *testing.T, cert func() (*tls.Certificate, error)) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert() }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestDeployVerify(t *testing.T) {
	pki := newPKI(t)
	old, m := pki.issue(t, 1), pki.issue(t, 2)
	oldCert := tlsPair(t, old)

	t.Run("old certificate still served", func(t *testing.T) {
		dir := t.TempDir()
		addr := tlsServer(t, func() (*tls.Certificate, error) { return oldCert, nil })
		cfg := oldFiles(t, dir, old, map[string]any{
			"verify": map[string]any{"address": addr, "server_name": "site.test"}})
		r := Deploy(context.Background(), "file", cfg, []string{dir}, m,
			Options{VerifyTimeout: 500 * time.Millisecond})
		wantResult(t, r, agentapi.ResultRolledBack,
			"check prepare backup write verify! restore")
		if r.Serial != "1" || !strings.Contains(r.Error, "still serves serial 1, not the new 2") {
			t.Errorf("serial %q, error %q", r.Serial, r.Error)
		}
		wantOld(t, dir, old)
	})

	t.Run("server reads the files", func(t *testing.T) {
		dir := t.TempDir()
		cfg := oldFiles(t, dir, old, nil)
		addr := tlsServer(t, func() (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(filepath.Join(dir, "fullchain.pem"),
				filepath.Join(dir, "key.pem"))
			return &c, err
		})
		var fields map[string]any
		json.Unmarshal(cfg, &fields)
		// No server name: the certificate's first DNS name is sent.
		fields["verify"] = map[string]any{"address": addr}
		r := Deploy(context.Background(), "file", config(t, fields), []string{dir}, m,
			Options{})
		wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write verify")
		if r.Serial != "2" {
			t.Errorf("serial %q, want 2", r.Serial)
		}
		if d := r.Steps[4].Detail; !strings.Contains(d, `SNI "site.test"`) {
			t.Errorf("verify detail %q", d)
		}
	})

	t.Run("nothing listens", func(t *testing.T) {
		dir := t.TempDir()
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		cfg := oldFiles(t, dir, old, map[string]any{"verify": map[string]any{"address": addr}})
		r := Deploy(context.Background(), "file", cfg, []string{dir}, m,
			Options{VerifyTimeout: 300 * time.Millisecond})
		wantResult(t, r, agentapi.ResultRolledBack,
			"check prepare backup write verify! restore")
		if r.Serial != "" || !strings.Contains(r.Error, "no handshake with "+addr) {
			t.Errorf("serial %q, error %q", r.Serial, r.Error)
		}
	})
}

func tlsPair(t *testing.T, m Material) *tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair([]byte(m.CertPEM+m.ChainPEM), []byte(keyPEM(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

// reloadingServer serves the certificate it loaded from dir's files at start, and loads
// them again when its reload marker file appears, as a server does on reload; with
// ignoreReload it never does.
func reloadingServer(t *testing.T, dir string, loaded Material, ignoreReload bool) (
	addr, marker string) {
	t.Helper()
	marker = filepath.Join(dir, "reload")
	var mu sync.Mutex
	current := tlsPair(t, loaded)
	addr = tlsServer(t, func() (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		if err := os.Remove(marker); err == nil && !ignoreReload {
			c, err := tls.LoadX509KeyPair(filepath.Join(dir, "fullchain.pem"),
				filepath.Join(dir, "key.pem"))
			if err != nil {
				return nil, err
			}
			current = &c
		}
		return current, nil
	})
	return addr, marker
}

// A deployment whose files are in place still checks the endpoint when the target has
// verify, and reloads a server that serves something else.
func TestDeployUnchangedVerifies(t *testing.T) {
	pki := newPKI(t)
	old, m := pki.issue(t, 1), pki.issue(t, 2)
	for _, tc := range []struct {
		name         string
		served       Material // what the server has loaded
		reload       bool     // the target has a reload command
		ignoreReload bool
		result       string
		steps        string
		serial       string
	}{
		{"served", m, true, false, agentapi.ResultUnchanged, "check prepare verify", "2"},
		{"stale server reloaded", old, true, false, agentapi.ResultDeployed,
			"check prepare verify! reload verify", "2"},
		{"stale server without reload", old, false, false, agentapi.ResultFailed,
			"check prepare verify!", "1"},
		{"reload does not help", old, true, true, agentapi.ResultFailed,
			"check prepare verify! reload verify!", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			oldFiles(t, dir, m, nil) // the files hold the new certificate already
			addr, marker := reloadingServer(t, dir, tc.served, tc.ignoreReload)
			fields := map[string]any{"fullchain_path": filepath.Join(dir, "fullchain.pem"),
				"key_path": filepath.Join(dir, "key.pem"), "validate_command": []string{},
				"verify": map[string]any{"address": addr, "server_name": "site.test"}}
			if tc.reload {
				fields["reload_command"] = []string{"touch", marker}
			}
			r := Deploy(context.Background(), "nginx", config(t, fields), []string{dir}, m,
				Options{VerifyTimeout: 500 * time.Millisecond})
			wantResult(t, r, tc.result, tc.steps)
			if r.Serial != tc.serial {
				t.Errorf("served serial %q, want %q", r.Serial, tc.serial)
			}
			if tc.result == agentapi.ResultFailed && !strings.Contains(r.Error, "serial 1") {
				t.Errorf("error %q does not say what is served", r.Error)
			}
			if _, err := os.Stat(filepath.Join(dir, BackupDir)); err == nil {
				t.Error("a deployment whose files were in place made a backup")
			}
		})
	}
}
