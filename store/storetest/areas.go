package storetest

import (
	"testing"
	"time"

	"certctl/store"
)

// testAgentAreaCounters checks that every write to the tables of agents, targets and
// discoveries grows its area's change counter.
func testAgentAreaCounters(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	c := mustCreateCertificates(t, s, "counted")[0]
	a := agent("counted")
	tk := token("counted", time.Time{})
	tg := target(a, "counted")
	d := found("", "192.0.2.9:443", "ff", base)
	nt := store.NetworkScanTarget{ID: store.NewID("nst"), Name: "counted", Enabled: true,
		CreatedAt: store.UTC(base), UpdatedAt: store.UTC(base)}
	at := store.UTC(base.Add(time.Hour))
	steps := []struct {
		name string
		area string
		do   func() error
	}{
		{"create agent", store.AreaAgents, func() error { return s.CreateAgent(ctx(t), a) }},
		{"heartbeat", store.AreaAgents, func() error {
			return s.RecordHeartbeat(ctx(t), a.ID, store.AgentHost{}, at)
		}},
		{"create token", store.AreaAgents, func() error {
			return s.CreateEnrollmentToken(ctx(t), tk)
		}},
		{"use token", store.AreaAgents, func() error {
			return s.UseEnrollmentToken(ctx(t), tk.ID, a.ID, at)
		}},
		{"delete token", store.AreaAgents, func() error {
			unused := token("unused", time.Time{})
			if err := s.CreateEnrollmentToken(ctx(t), unused); err != nil {
				return err
			}
			before := version(t, s, store.AreaAgents)
			if err := s.DeleteEnrollmentToken(ctx(t), unused.ID); err != nil {
				return err
			}
			if version(t, s, store.AreaAgents) <= before {
				t.Error("delete token: agents version did not grow")
			}
			return nil
		}},
		{"create target", store.AreaTargets, func() error { return s.CreateTarget(ctx(t), tg) }},
		{"update target", store.AreaTargets, func() error { return s.UpdateTarget(ctx(t), tg) }},
		{"map target", store.AreaTargets, func() error {
			return s.SetCertificateTargets(ctx(t), c.ID, []string{tg.ID})
		}},
		{"unmap target", store.AreaTargets, func() error {
			return s.SetCertificateTargets(ctx(t), c.ID, nil)
		}},
		{"delete target", store.AreaTargets, func() error { return s.DeleteTarget(ctx(t), tg.ID) }},
		{"retire agent", store.AreaAgents, func() error {
			return s.RetireAgent(ctx(t), a.ID, "done", at)
		}},
		{"discover", store.AreaDiscovered, func() error {
			_, _, err := s.UpsertDiscovered(ctx(t), d)
			return err
		}},
		{"discover again", store.AreaDiscovered, func() error {
			_, _, err := s.UpsertDiscovered(ctx(t), found("", "192.0.2.9:443", "ff", at))
			return err
		}},
		{"dismiss", store.AreaDiscovered, func() error {
			return s.SetDiscoveredStatus(ctx(t), d.ID, store.DiscoveredDismissed, "", at)
		}},
		{"record a scan", store.AreaDiscovered, func() error {
			return s.CreateDiscoveryScan(ctx(t), store.DiscoveryScan{ID: store.NewID("scan"),
				StartedAt: store.UTC(base), FinishedAt: store.UTC(base)})
		}},
		{"create network target", store.AreaDiscovered, func() error {
			return s.CreateNetworkScanTarget(ctx(t), nt)
		}},
		{"update network target", store.AreaDiscovered, func() error {
			return s.UpdateNetworkScanTarget(ctx(t), nt)
		}},
		{"record network scan", store.AreaDiscovered, func() error {
			return s.RecordNetworkScan(ctx(t), nt.ID, at, "")
		}},
		{"delete network target", store.AreaDiscovered, func() error {
			return s.DeleteNetworkScanTarget(ctx(t), nt.ID)
		}},
	}
	for _, st := range steps {
		before := version(t, s, st.area)
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if after := version(t, s, st.area); after <= before {
			t.Errorf("%s: %s version went from %d to %d, want it to grow", st.name, st.area,
				before, after)
		}
	}
}
