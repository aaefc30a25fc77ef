package metrics_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certctl/app/metrics"
	"certctl/store"
	"certctl/store/sqlite"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestInventory(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, end := range []time.Duration{5 * 24 * time.Hour, 20 * 24 * time.Hour} {
		c := store.Certificate{ID: store.NewID("cert"), Name: "c" + string(rune('a'+i)),
			CommonName: "x.example.com", KeyMode: "server", Status: "Active",
			CreatedAt: now, UpdatedAt: now}
		if err := st.CreateCertificate(ctx, c); err != nil {
			t.Fatal(err)
		}
		v := store.CertificateVersion{ID: store.NewID("ver"), CertificateID: c.ID,
			Serial: string(rune('a' + i)), CertPEM: "x", Fingerprint: "f",
			NotBefore: now, NotAfter: now.Add(end), KeyAlgorithm: "ecdsa-p256",
			KeyBits: 256, KeyLocation: "none", CreatedAt: now}
		if err := st.AddVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
	}

	m := metrics.New()
	inv := m.NewInventory()
	if err := inv.Refresh(ctx, st, now); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP certctl_certificate_expiry_earliest_timestamp_seconds Earliest end of validity among active and expiring certificates; 0 when there is none.
# TYPE certctl_certificate_expiry_earliest_timestamp_seconds gauge
certctl_certificate_expiry_earliest_timestamp_seconds 1.780704e+09
# HELP certctl_certificates_expiring Active and expiring certificates that end within the window.
# TYPE certctl_certificates_expiring gauge
certctl_certificates_expiring{within="30d"} 2
certctl_certificates_expiring{within="7d"} 1
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want),
		"certctl_certificate_expiry_earliest_timestamp_seconds",
		"certctl_certificates_expiring"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(inv.Certificates("Active")); got != 2 {
		t.Errorf("active certificates: got %v, want 2", got)
	}
	if got := testutil.ToFloat64(inv.Certificates("Revoked")); got != 0 {
		t.Errorf("revoked certificates: got %v, want a 0 series", got)
	}
}
