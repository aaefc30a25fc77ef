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

// countingStore counts the status counts the inventory asks for.
type countingStore struct {
	metrics.InventoryStore
	statusCounts, jobCounts int
}

func (c *countingStore) CountCertificates(ctx context.Context,
	f store.CertificateFilter) (int, error) {
	if f.ExpiresBefore.IsZero() {
		c.statusCounts++
	}
	return c.InventoryStore.CountCertificates(ctx, f)
}

func (c *countingStore) CountJobs(ctx context.Context, f store.JobFilter) (int, error) {
	c.jobCounts++
	return c.InventoryStore.CountJobs(ctx, f)
}

// Counts by status are read again only after their area changed.
func TestInventoryCountsOnlyAfterChanges(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, now := context.Background(), time.Now()
	counting := &countingStore{InventoryStore: st}
	inv := metrics.New().NewInventory()
	refresh := func() {
		t.Helper()
		counting.statusCounts, counting.jobCounts = 0, 0
		if err := inv.Refresh(ctx, counting, now); err != nil {
			t.Fatal(err)
		}
	}

	refresh()
	if counting.statusCounts == 0 || counting.jobCounts == 0 {
		t.Fatalf("the first refresh counted %d statuses and %d jobs, want all",
			counting.statusCounts, counting.jobCounts)
	}
	refresh()
	if counting.statusCounts != 0 || counting.jobCounts != 0 {
		t.Errorf("nothing changed, yet the refresh counted %d statuses and %d jobs",
			counting.statusCounts, counting.jobCounts)
	}
	c := store.Certificate{ID: store.NewID("cert"), Name: "new", CommonName: "n.example.com",
		KeyMode: "server", Status: "Pending", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateCertificate(ctx, c); err != nil {
		t.Fatal(err)
	}
	refresh()
	if counting.statusCounts == 0 || counting.jobCounts != 0 {
		t.Errorf("after a new certificate: counted %d statuses and %d jobs, want statuses "+
			"only", counting.statusCounts, counting.jobCounts)
	}
	if got := testutil.ToFloat64(inv.Certificates("Pending")); got != 1 {
		t.Errorf("pending certificates: got %v, want 1", got)
	}
}
