package metrics

import (
	"context"
	"time"

	"certctl/store"

	"github.com/prometheus/client_golang/prometheus"
)

// InventoryStore is what the inventory gauges read.
type InventoryStore interface {
	CountCertificates(ctx context.Context, f store.CertificateFilter) (int, error)
	ListCertificates(ctx context.Context, f store.CertificateFilter, p store.Page) (
		[]store.Certificate, string, error)
	CountJobs(ctx context.Context, f store.JobFilter) (int, error)
	CountAgentsByStatus(ctx context.Context) (map[string]int, error)
	ChangeVersion(ctx context.Context, area string) (int64, error)
}

// The statuses and job kinds the gauges report, so every series exists, at zero if need be.
var (
	certificateStatuses = []string{"Pending", "Active", "Expiring", "Expired",
		"RenewalInProgress", "Failed", "Revoked", "Archived"}
	jobTypes    = []string{store.JobIssuance, store.JobRenewal, store.JobDeployment}
	jobStatuses = []string{store.JobPending, store.JobAwaitingCSR, store.JobAwaitingApproval,
		store.JobRunning, store.JobCompleted, store.JobFailed, store.JobCancelled}
	agentStatuses = []string{store.AgentOnline, store.AgentOffline, store.AgentRetired}
	expiryWindows = map[string]time.Duration{"7d": 7 * 24 * time.Hour,
		"30d": 30 * 24 * time.Hour}
)

// Inventory holds the gauges that describe what the database holds. They are refreshed by
// a scheduler loop, not on scrape, so a scrape never queries the database.
type Inventory struct {
	certs    *prometheus.GaugeVec
	earliest prometheus.Gauge
	expiring *prometheus.GaugeVec
	jobs     *prometheus.GaugeVec
	agents   *prometheus.GaugeVec

	// counted is the change version of each area the counts were last read at; counts of
	// an area whose version has not moved since are not read again.
	counted map[string]int64
}

// NewInventory registers the inventory gauges on m's registry.
func (m *Metrics) NewInventory() *Inventory {
	inv := &Inventory{
		counted: map[string]int64{},
		certs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "certctl_certificates",
			Help: "Managed certificates by status."}, []string{"status"}),
		earliest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "certctl_certificate_expiry_earliest_timestamp_seconds",
			Help: "Earliest end of validity among active and expiring certificates; 0 when " +
				"there is none."}),
		expiring: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "certctl_certificates_expiring",
			Help: "Active and expiring certificates that end within the window."},
			[]string{"within"}),
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "certctl_jobs",
			Help: "Jobs by type and status."}, []string{"type", "status"}),
		agents: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "certctl_agents",
			Help: "Agents by status."}, []string{"status"}),
	}
	m.Registry.MustRegister(inv.certs, inv.earliest, inv.expiring, inv.jobs, inv.agents)
	return inv
}

// Refresh reads the counts from st and sets the gauges. Counts by status are read again
// only when their area changed since the last refresh; the expiry gauges, which move with
// time, are read every time. Refresh is not safe for concurrent use.
func (inv *Inventory) Refresh(ctx context.Context, st InventoryStore, now time.Time) error {
	if err := inv.ifChanged(ctx, st, store.AreaCertificates, func() error {
		for _, s := range certificateStatuses {
			n, err := st.CountCertificates(ctx, store.CertificateFilter{Status: s})
			if err != nil {
				return err
			}
			inv.certs.WithLabelValues(s).Set(float64(n))
		}
		return nil
	}); err != nil {
		return err
	}
	if err := inv.refreshExpiry(ctx, st, now); err != nil {
		return err
	}
	if err := inv.ifChanged(ctx, st, store.AreaJobs, func() error {
		for _, typ := range jobTypes {
			for _, s := range jobStatuses {
				n, err := st.CountJobs(ctx, store.JobFilter{Type: typ, Status: s})
				if err != nil {
					return err
				}
				inv.jobs.WithLabelValues(typ, s).Set(float64(n))
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return inv.ifChanged(ctx, st, store.AreaAgents, func() error {
		byStatus, err := st.CountAgentsByStatus(ctx)
		if err != nil {
			return err
		}
		for _, s := range agentStatuses {
			inv.agents.WithLabelValues(s).Set(float64(byStatus[s]))
		}
		return nil
	})
}

// ifChanged runs count unless area's change version is the one its counts were read at.
// The version is read first, so a change during count makes the next refresh count again.
func (inv *Inventory) ifChanged(ctx context.Context, st InventoryStore, area string,
	count func() error) error {
	v, err := st.ChangeVersion(ctx, area)
	if err != nil {
		return err
	}
	if last, ok := inv.counted[area]; ok && last == v {
		return nil
	}
	if err := count(); err != nil {
		return err
	}
	inv.counted[area] = v
	return nil
}

func (inv *Inventory) refreshExpiry(ctx context.Context, st InventoryStore,
	now time.Time) error {
	earliest := time.Time{}
	windows := map[string]int{}
	for _, status := range []string{"Active", "Expiring"} {
		list, _, err := st.ListCertificates(ctx, store.CertificateFilter{Status: status,
			Sort: "not_after"}, store.Page{Limit: 1})
		if err != nil {
			return err
		}
		if len(list) == 1 && (earliest.IsZero() || list[0].NotAfter.Before(earliest)) {
			earliest = list[0].NotAfter
		}
		for w, d := range expiryWindows {
			n, err := st.CountCertificates(ctx, store.CertificateFilter{Status: status,
				ExpiresBefore: now.Add(d)})
			if err != nil {
				return err
			}
			windows[w] += n
		}
	}
	inv.earliest.Set(0)
	if !earliest.IsZero() {
		inv.earliest.Set(float64(earliest.Unix()))
	}
	for w, n := range windows {
		inv.expiring.WithLabelValues(w).Set(float64(n))
	}
	return nil
}

// Certificates returns the gauge of one status, for tests and checks.
func (inv *Inventory) Certificates(status string) prometheus.Gauge {
	return inv.certs.WithLabelValues(status)
}
