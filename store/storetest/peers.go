package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// RequireAll reports whether CERTCTL_TEST_REQUIRE_ALL is set, in which case a test that
// would skip for a missing peer fails instead (CI sets it, so nothing skips silently).
func RequireAll() bool { return os.Getenv("CERTCTL_TEST_REQUIRE_ALL") == "1" }

// MissingPeer skips t with why, or fails it when RequireAll is set.
func MissingPeer(t testing.TB, why string) {
	t.Helper()
	if RequireAll() {
		t.Fatalf("required test peer missing: %s", why)
	}
	t.Skip(why)
}

// PostgresURL returns CERTCTL_TEST_POSTGRES_URL, or skips t (see MissingPeer) when it is
// unset or the database does not answer.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("CERTCTL_TEST_POSTGRES_URL")
	if u == "" {
		MissingPeer(t, "PostgreSQL tests need CERTCTL_TEST_POSTGRES_URL, e.g. "+
			"postgres://postgres@127.0.0.1:5432/test (install the postgresql package)")
		return ""
	}
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		MissingPeer(t, "PostgreSQL at CERTCTL_TEST_POSTGRES_URL does not answer: "+err.Error())
		return ""
	}
	conn.Close(context.Background())
	return u
}

// PostgresSchema creates an empty schema in the test database and returns a URL whose
// connections use it, so tests can run in parallel without seeing each other's rows. The
// schema is dropped when t ends.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "certctl_test_" + hex.EncodeToString(b)

	conn, err := pgx.Connect(context.Background(), base)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse CERTCTL_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
