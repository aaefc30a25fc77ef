package cli_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// servedLeaf is the certificate the server presents in a handshake, verified against the
// root in its data directory.
func (in *instance) servedLeaf(t *testing.T) *x509.Certificate {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dataDir(in.env), "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	u, err := url.Parse(in.url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestServerCertificateIsManaged checks that the certificate the server presents is an
// inventory entry like any other: listed with its versions, and renewed through the API
// without a restart.
func TestServerCertificateIsManaged(t *testing.T) {
	const key = "servercert-bootstrap-key-0123"
	in := startServe(t, baseEnv(t.TempDir(), "CERTCTL_AUTH_SECRET="+key))
	const path = "/api/v1/certificates/cert-certctl-server"

	var cert struct {
		Name             string   `json:"name"`
		Status           string   `json:"status"`
		SANs             []string `json:"sans"`
		CurrentVersionID string   `json:"current_version_id"`
	}
	var versions struct {
		Data []struct {
			ID     string `json:"id"`
			Serial string `json:"serial"`
		} `json:"data"`
	}
	get := func(path string, into any) {
		t.Helper()
		status, body := in.request("GET", path, key, "")
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		if err := json.Unmarshal([]byte(body), into); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	// servedVersion checks that the leaf served is the current version and returns it.
	servedVersion := func() (*x509.Certificate, string) {
		t.Helper()
		leaf := in.servedLeaf(t)
		get(path, &cert)
		get(path+"/versions", &versions)
		for _, v := range versions.Data {
			if v.ID == cert.CurrentVersionID && v.Serial == leaf.SerialNumber.Text(16) {
				return leaf, v.ID
			}
		}
		t.Fatalf("served serial %x is not the current version %s of %+v", leaf.SerialNumber,
			cert.CurrentVersionID, versions.Data)
		return nil, ""
	}

	first, firstID := servedVersion()
	if cert.Name != "certctl-server" || cert.Status != "Active" {
		t.Errorf("the server's certificate in the inventory: %+v", cert)
	}
	if err := first.VerifyHostname("localhost"); err != nil {
		t.Errorf("served leaf: %v", err)
	}

	if status, body := in.request("POST", path+"/renew", key, ""); status != http.StatusAccepted {
		t.Fatalf("renew the server's certificate: %d %s", status, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for in.servedLeaf(t).Equal(first) {
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate was not served within 20 s:\n%s", in.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, id := servedVersion(); id == firstID || len(versions.Data) != 2 {
		t.Errorf("after renewal: serving version %s of %d, want a second one", id,
			len(versions.Data))
	}
}
