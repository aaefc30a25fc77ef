package cli_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"certctl/app/certs"
	"certctl/app/config"
	"certctl/app/server"
	"certctl/store/storetest"
)

// issueServerKey builds the server on vars, issues one certificate whose key the server
// holds, and returns its ID. The store is closed again, as a stopped server leaves it.
func issueServerKey(t *testing.T, vars map[string]string) string {
	t.Helper()
	app, closeStore := build(t, vars)
	defer closeStore()
	c, _, err := app.Certs.Create(context.Background(), certs.Input{Name: "held",
		CommonName: "held.example.com", IssuerID: "iss-local", KeyMode: "server"})
	if err != nil {
		t.Fatal(err)
	}
	if !app.Certs.RunOne(context.Background()) {
		t.Fatal("no issuance job ran")
	}
	return c.ID
}

// build starts the server's parts on vars without serving, as a restart would.
func build(t *testing.T, vars map[string]string) (*server.App, func()) {
	t.Helper()
	cfg, err := config.Load(lookup(vars))
	if err != nil {
		t.Fatal(err)
	}
	st, err := server.OpenStore(context.Background(), cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	app, err := server.Build(context.Background(), cfg, st,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		st.Close()
		t.Fatalf("build: %v", err)
	}
	return app, func() { st.Close() }
}

// usable checks that the server's sealed keys open: a PKCS#12 export needs the
// certificate's key, and a new issuance needs the CA's.
func usable(t *testing.T, vars map[string]string, id string) {
	t.Helper()
	app, closeStore := build(t, vars)
	defer closeStore()
	if _, err := app.Certs.ExportPKCS12(context.Background(), id, "long password"); err != nil {
		t.Errorf("export after rotation: %v", err)
	}
	if _, err := app.Certs.Renew(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if !app.Certs.RunOne(context.Background()) {
		t.Fatal("no renewal ran")
	}
	c, _ := app.Certs.Get(context.Background(), id)
	if c.Status != "Active" {
		t.Errorf("renewal after rotation: status %s, want Active", c.Status)
	}
}

func TestRotateGeneratedKey(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"CERTCTL_DATA_DIR": dir}
	id := issueServerKey(t, vars)
	before, _ := os.ReadFile(filepath.Join(dir, "encryption.key"))

	code, out, errOut := certctl(t, vars, "rotate-key")
	if code != 0 || out != "" {
		t.Fatalf("rotate-key: exit %d, stdout %q (the key file holds the key), stderr %s",
			code, out, errOut)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "encryption.key"))
	previous, _ := os.ReadFile(filepath.Join(dir, "encryption.key.previous"))
	if string(after) == string(before) || string(previous) != string(before) {
		t.Fatal("the key file was not replaced, or the old key not kept beside it")
	}
	usable(t, vars, id)
}

func TestRotateConfiguredKey(t *testing.T) {
	old := strings.Repeat("1f", 32)
	vars := map[string]string{"CERTCTL_DATA_DIR": t.TempDir(),
		"CERTCTL_DATABASE_URL": storetest.PostgresSchema(t), "CERTCTL_CONFIG_ENCRYPTION_KEY": old}
	id := issueServerKey(t, vars)

	newFile := filepath.Join(t.TempDir(), "new.key")
	os.WriteFile(newFile, []byte(strings.Repeat("2e", 32)+"\n"), 0o600)
	if code, _, errOut := certctl(t, vars, "rotate-key", "--new-key-file", newFile); code != 0 {
		t.Fatalf("rotate-key: exit %d: %s", code, errOut)
	}
	cfg, _ := config.Load(lookup(vars))
	st, err := server.OpenStore(context.Background(), cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.Build(context.Background(), cfg, st, slog.New(slog.NewTextHandler(
		io.Discard, nil)))
	st.Close()
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Var != "CERTCTL_CONFIG_ENCRYPTION_KEY" {
		t.Errorf("start with the old key after rotation: got %v, want a refusal naming "+
			"CERTCTL_CONFIG_ENCRYPTION_KEY", err)
	}
	vars["CERTCTL_CONFIG_ENCRYPTION_KEY"] = strings.Repeat("2e", 32)
	usable(t, vars, id)

	vars["CERTCTL_CONFIG_ENCRYPTION_KEY"] = old
	if code, _, errOut := certctl(t, vars, "rotate-key"); code == 0 ||
		!strings.Contains(errOut, "does not match") {
		t.Errorf("rotate with a stale key: exit %d, %s; want a refusal", code, errOut)
	}
}
