package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"certctl/app/config"
)

// TestShutdownDrains cancels the server's context while a request is still sending its
// body: the request must complete, Run must return cleanly, and no new connection may be
// accepted afterwards.
func TestShutdownDrains(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	vals := map[string]string{"CERTCTL_DATA_DIR": dir, "CERTCTL_SERVER_HOST": "127.0.0.1",
		"CERTCTL_SERVER_PORT": fmt.Sprint(port), "CERTCTL_AUTH_SECRET": "drain-test-key-0123456"}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)),
			func(a string) { addr <- a })
	}()
	base := "https://" + <-addr
	client := rootClient(t, dir)

	body, send := io.Pipe()
	req, _ := http.NewRequest("POST", base+"/api/v1/teams", body)
	req.Header.Set("Authorization", "Bearer drain-test-key-0123456")
	req.Header.Set("Content-Type", "application/json")
	answer := make(chan *http.Response, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("request in flight during shutdown: %v", err)
			close(answer)
			return
		}
		answer <- resp
	}()
	send.Write([]byte(`{"name":`))
	time.Sleep(100 * time.Millisecond) // the request is now being read by the server
	cancel()
	time.Sleep(200 * time.Millisecond)
	send.Write([]byte(`"drained"}`))
	send.Close()

	resp := <-answer
	if resp == nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("request in flight: got %v, want 201", resp)
	}
	resp.Body.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := client.Get(base + "/health"); err == nil {
		t.Error("the server still accepts connections after shutdown")
	}
}

func rootClient(t *testing.T, dir string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
