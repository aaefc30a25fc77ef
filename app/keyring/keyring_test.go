package keyring

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"certctl/app/secret"
	"certctl/store/sqlite"
)

func TestLoad(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()

	generated, err := Load(ctx, Source{DataDir: dir, Generate: true}, st, log)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	info, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", info, err)
	}
	again, err := Load(ctx, Source{DataDir: dir, Generate: true}, st, log)
	if err != nil || again != generated {
		t.Errorf("second start must read the same key: %v", err)
	}
	same, err := Load(ctx, Source{Hex: generated.Hex()}, st, log)
	if err != nil || same != generated {
		t.Errorf("the same key given as hex: %v", err)
	}

	other := secret.NewKey()
	if _, err := Load(ctx, Source{Hex: other.Hex()}, st, log); !errors.Is(err, ErrWrongKey) {
		t.Errorf("another key: got %v, want ErrWrongKey", err)
	}
	if _, err := Load(ctx, Source{}, st, log); !errors.Is(err, ErrNoKey) ||
		!strings.Contains(err.Error(), "openssl rand -hex 32") {
		t.Errorf("no key without generation: got %v, want advice", err)
	}
	if _, err := Load(ctx, Source{Hex: "abc"}, st, log); err == nil ||
		!strings.Contains(err.Error(), "CERTCTL_CONFIG_ENCRYPTION_KEY") {
		t.Errorf("malformed key: got %v", err)
	}
}
