package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
)

// found is a certificate with fingerprint fp discovered by agentID ("" for the network) at
// location, seen at seen.
func found(agentID, location, fp string, seen time.Time) store.DiscoveredCertificate {
	return store.DiscoveredCertificate{ID: store.NewID("disc"), AgentID: agentID,
		Location: location, Format: "pem", Fingerprint: fp, Subject: "CN=legacy",
		CommonName: "legacy", SANs: []string{"legacy.example.com"}, Issuer: "CN=Old CA",
		Serial: "0f", NotBefore: store.UTC(base), NotAfter: store.UTC(base.Add(24 * time.Hour)),
		KeyAlgorithm: "rsa-2048", KeyBits: 2048, IsCA: false, KeyFound: true,
		CertPEM: "pem " + fp, Status: store.DiscoveredUnmanaged, FirstSeenAt: store.UTC(seen),
		LastSeenAt: store.UTC(seen), UpdatedAt: store.UTC(seen)}
}

func mustUpsert(t *testing.T, s store.Store, d store.DiscoveredCertificate) (string, bool) {
	t.Helper()
	id, isNew, err := s.UpsertDiscovered(ctx(t), d)
	if err != nil {
		t.Fatalf("upsert %s at %s: %v", d.Fingerprint, d.Location, err)
	}
	return id, isNew
}

func testDiscovered(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	c := mustCreateCertificates(t, s, "adopted")[0]
	d := found("agent-a", "/etc/ssl/legacy.pem", "aa", base)
	if id, isNew := mustUpsert(t, s, d); id != d.ID || !isNew {
		t.Errorf("first sight: got %s, new %v; want %s, new", id, isNew, d.ID)
	}
	got, err := s.GetDiscovered(ctx(t), d.ID)
	if diff := cmp.Diff(d, got); err != nil || diff != "" {
		t.Errorf("discovered round trip: %v (-want +got):\n%s", err, diff)
	}
	managedAt := store.UTC(base.Add(time.Minute))
	if err := s.SetDiscoveredStatus(ctx(t), d.ID, store.DiscoveredManaged, c.ID,
		managedAt); err != nil {
		t.Fatal(err)
	}

	again := found("agent-a", "/etc/ssl/legacy.pem", "aa", base.Add(time.Hour))
	again.Subject, again.KeyFound, again.SANs = "CN=legacy,O=Example", false, nil
	again.Status = store.DiscoveredUnmanaged
	if id, isNew := mustUpsert(t, s, again); id != d.ID || isNew {
		t.Errorf("second sight: got %s, new %v; want %s, known", id, isNew, d.ID)
	}
	want := again
	want.ID, want.Status, want.CertificateID = d.ID, store.DiscoveredManaged, c.ID
	want.FirstSeenAt = d.FirstSeenAt
	got, _ = s.GetDiscovered(ctx(t), d.ID)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the second sight: new details, old identity, status and first "+
			"sight (-want +got):\n%s", diff)
	}

	for _, other := range []store.DiscoveredCertificate{
		found("agent-a", "/etc/ssl/copy.pem", "aa", base),
		found("agent-b", "/etc/ssl/legacy.pem", "aa", base),
		found("", "/etc/ssl/legacy.pem", "aa", base),
		found("agent-a", "/etc/ssl/legacy.pem", "bb", base),
	} {
		if id, isNew := mustUpsert(t, s, other); id != other.ID || !isNew {
			t.Errorf("%s by %q at %s: got %s, new %v; want a record of its own",
				other.Fingerprint, other.AgentID, other.Location, id, isNew)
		}
	}
	net := found("", "192.0.2.1:443", "cc", base)
	if _, isNew := mustUpsert(t, s, net); !isNew {
		t.Error("first network sight: want new")
	}
	net2 := found("", "192.0.2.1:443", "cc", base.Add(time.Hour))
	if id, isNew := mustUpsert(t, s, net2); id != net.ID || isNew {
		t.Errorf("second network sight: got %s, new %v; want %s, known", id, isNew, net.ID)
	}

	if err := s.SetDiscoveredStatus(ctx(t), net.ID, store.DiscoveredDismissed, "",
		managedAt); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetDiscovered(ctx(t), net.ID); got.Status != store.DiscoveredDismissed ||
		got.CertificateID != "" || !got.UpdatedAt.Equal(managedAt) {
		t.Errorf("dismissed: got %+v", got)
	}
	if err := s.SetDiscoveredStatus(ctx(t), "disc-missing", store.DiscoveredDismissed, "",
		managedAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("status of a missing record: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetDiscovered(ctx(t), "disc-missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing record: got %v, want ErrNotFound", err)
	}

	for f, want := range map[store.DiscoveredFilter]int{
		{}:                                  6,
		{AgentID: "agent-a"}:                3,
		{Network: true}:                     2,
		{Status: store.DiscoveredUnmanaged}: 4,
		{Status: store.DiscoveredManaged, AgentID: "agent-a"}: 1,
		{Status: store.DiscoveredDismissed, Network: true}:    1,
	} {
		list, _, err := s.ListDiscovered(ctx(t), f, store.Page{Limit: 10})
		if err != nil || len(list) != want {
			t.Errorf("list %+v: got %d records, %v; want %d", f, len(list), err, want)
		}
		if n, err := s.CountDiscovered(ctx(t), f); err != nil || n != want {
			t.Errorf("count %+v: got %d, %v; want %d", f, n, err, want)
		}
	}
}

func testDiscoveredPaging(t *testing.T, h Harness) {
	s := h.Open(t)
	var records []store.DiscoveredCertificate
	for i := 0; i < 7; i++ {
		// Pairs share a last-seen time, so the ID has to break ties.
		seen := base.Add(time.Duration(i/2) * time.Hour)
		d := found("agent-a", fmt.Sprintf("/srv/%d.pem", i), "fp", seen)
		mustUpsert(t, s, d)
		records = append(records, d)
	}
	mustUpsert(t, s, found("agent-b", "/srv/0.pem", "fp", base))
	slices.SortFunc(records, func(a, b store.DiscoveredCertificate) int {
		if c := b.LastSeenAt.Compare(a.LastSeenAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var want []string
	for _, d := range records {
		want = append(want, d.ID)
	}
	var got []string
	page := store.Page{Limit: 3}
	for i := 0; ; i++ {
		list, next, err := s.ListDiscovered(ctx(t), store.DiscoveredFilter{AgentID: "agent-a"},
			page)
		if err != nil || i > 5 {
			t.Fatalf("page %d: %v", i, err)
		}
		for _, d := range list {
			got = append(got, d.ID)
		}
		if next == "" {
			break
		}
		page.After = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("keyset pages, newest sight first: got %v, want %v", got, want)
	}
}

func testDiscoveryScans(t *testing.T, h Harness) {
	s := h.Open(t)
	scan := func(agentID string, at time.Duration) store.DiscoveryScan {
		return store.DiscoveryScan{ID: store.NewID("scan"), AgentID: agentID,
			Targets: []string{"/etc/ssl", "/srv"}, Found: 3, New: 1, Errors: 2,
			StartedAt:  store.UTC(base.Add(at)),
			FinishedAt: store.UTC(base.Add(at + time.Minute))}
	}
	older, network := scan("agent-a", 0), scan("", time.Hour)
	newer := scan("agent-a", 2*time.Hour)
	for _, sc := range []store.DiscoveryScan{older, network, newer} {
		if err := s.CreateDiscoveryScan(ctx(t), sc); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListDiscoveryScans(ctx(t), "", 10)
	if diff := cmp.Diff([]store.DiscoveryScan{newer, network, older}, all); err != nil ||
		diff != "" {
		t.Errorf("all scans, newest first: %v (-want +got):\n%s", err, diff)
	}
	mine, err := s.ListDiscoveryScans(ctx(t), "agent-a", 1)
	if err != nil || len(mine) != 1 || mine[0].ID != newer.ID {
		t.Errorf("newest scan of agent-a: got %v, %v", mine, err)
	}
}

func testNetworkScanTargets(t *testing.T, h Harness) {
	s := h.Open(t)
	nt := func(name string) store.NetworkScanTarget {
		return store.NetworkScanTarget{ID: store.NewID("nst"), Name: name,
			Hosts: []string{"10.0.0.0/30", "web.example.com"}, Ports: []int{443, 8443},
			Enabled: true, CreatedAt: store.UTC(base), UpdatedAt: store.UTC(base)}
	}
	dmz, lab := nt("dmz"), nt("Lab")
	for _, x := range []store.NetworkScanTarget{dmz, lab} {
		if err := s.CreateNetworkScanTarget(ctx(t), x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetNetworkScanTarget(ctx(t), dmz.ID)
	if diff := cmp.Diff(dmz, got); err != nil || diff != "" {
		t.Errorf("round trip: %v (-want +got):\n%s", err, diff)
	}
	if err := s.CreateNetworkScanTarget(ctx(t), nt("DMZ")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("name taken in other case: got %v, want ErrConflict", err)
	}

	scanned := store.UTC(base.Add(time.Hour))
	if err := s.RecordNetworkScan(ctx(t), dmz.ID, scanned, "10.0.0.2:443: refused"); err != nil {
		t.Fatal(err)
	}
	dmz.Hosts, dmz.Ports, dmz.Enabled = []string{"10.0.1.0/24"}, nil, false
	dmz.UpdatedAt = store.UTC(base.Add(2 * time.Hour))
	if err := s.UpdateNetworkScanTarget(ctx(t), dmz); err != nil {
		t.Fatal(err)
	}
	want := dmz
	want.LastScanAt, want.LastError = scanned, "10.0.0.2:443: refused"
	got, _ = s.GetNetworkScanTarget(ctx(t), dmz.ID)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a scan and an update, the scan is kept (-want +got):\n%s", diff)
	}
	list, err := s.ListNetworkScanTargets(ctx(t))
	if err != nil || len(list) != 2 || list[0].Name != "dmz" || list[1].Name != "Lab" {
		t.Errorf("list by name: got %v, %v", list, err)
	}

	for name, err := range map[string]error{
		"update": s.UpdateNetworkScanTarget(ctx(t), nt("ghost")),
		"record": s.RecordNetworkScan(ctx(t), "nst-missing", scanned, ""),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s a missing target: got %v, want ErrNotFound", name, err)
		}
	}
	if err := s.DeleteNetworkScanTarget(ctx(t), lab.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNetworkScanTarget(ctx(t), lab.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetNetworkScanTarget(ctx(t), lab.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted target: got %v, want ErrNotFound", err)
	}
}
