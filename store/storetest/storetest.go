// Package storetest is the conformance suite every store backend passes, and the helpers
// tests use to reach their database peers.
package storetest

import (
	"context"
	"testing"
	"time"

	"certctl/store"
)

// Harness is what a backend hands the suite.
type Harness struct {
	// Open returns a new, empty, migrated store; the harness closes it when t ends.
	Open func(t *testing.T) store.Store
	// Exec runs one raw SQL statement against s, for checks the interface cannot express.
	Exec func(ctx context.Context, s store.Store, sql string) error
}

// Run runs the whole conformance suite against the backend h opens.
func Run(t *testing.T, h Harness) {
	t.Run("Teams", func(t *testing.T) { testTeams(t, h) })
	t.Run("TeamPaging", func(t *testing.T) { testTeamPaging(t, h) })
	t.Run("Owners", func(t *testing.T) { testOwners(t, h) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, h) })
	t.Run("AuditPaging", func(t *testing.T) { testAuditPaging(t, h) })
	t.Run("AuditAppendOnly", func(t *testing.T) { testAuditAppendOnly(t, h) })
	t.Run("APIKeys", func(t *testing.T) { testAPIKeys(t, h) })
	t.Run("Transactions", func(t *testing.T) { testTransactions(t, h) })
	t.Run("ChangeCounters", func(t *testing.T) { testChangeCounters(t, h) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrentWriters(t, h) })
	t.Run("Issuers", func(t *testing.T) { testIssuers(t, h) })
	t.Run("Settings", func(t *testing.T) { testSettings(t, h) })
	t.Run("Locker", func(t *testing.T) { testLocker(t, h) })
	t.Run("Profiles", func(t *testing.T) { testProfiles(t, h) })
	t.Run("Certificates", func(t *testing.T) { testCertificates(t, h) })
	t.Run("CertificatePaging", func(t *testing.T) { testCertificatePaging(t, h) })
	t.Run("Jobs", func(t *testing.T) { testJobs(t, h) })
	t.Run("JobClaimOrder", func(t *testing.T) { testJobClaimOrder(t, h) })
	t.Run("JobClaimsAreExclusive", func(t *testing.T) { testJobClaimsAreExclusive(t, h) })
	t.Run("JobVersions", func(t *testing.T) { testJobVersions(t, h) })
	t.Run("Schedule", func(t *testing.T) { testSchedule(t, h) })
	t.Run("Agents", func(t *testing.T) { testAgents(t, h) })
	t.Run("AgentHeartbeats", func(t *testing.T) { testAgentHeartbeats(t, h) })
	t.Run("AgentRetirement", func(t *testing.T) { testAgentRetirement(t, h) })
	t.Run("AgentLists", func(t *testing.T) { testAgentLists(t, h) })
	t.Run("EnrollmentTokens", func(t *testing.T) { testEnrollmentTokens(t, h) })
	t.Run("EnrollmentTokenRace", func(t *testing.T) { testEnrollmentTokenRace(t, h) })
	t.Run("Targets", func(t *testing.T) { testTargets(t, h) })
	t.Run("TargetLists", func(t *testing.T) { testTargetLists(t, h) })
	t.Run("CertificateTargets", func(t *testing.T) { testCertificateTargets(t, h) })
	t.Run("DeploymentJobs", func(t *testing.T) { testDeploymentJobs(t, h) })
	t.Run("RetryDue", func(t *testing.T) { testRetryDue(t, h) })
	t.Run("WorkVersion", func(t *testing.T) { testWorkVersion(t, h) })
	t.Run("AgentWriteRace", func(t *testing.T) { testAgentWriteRace(t, h) })
	t.Run("Discovered", func(t *testing.T) { testDiscovered(t, h) })
	t.Run("DiscoveredPaging", func(t *testing.T) { testDiscoveredPaging(t, h) })
	t.Run("DiscoveryScans", func(t *testing.T) { testDiscoveryScans(t, h) })
	t.Run("NetworkScanTargets", func(t *testing.T) { testNetworkScanTargets(t, h) })
	t.Run("AgentAreaCounters", func(t *testing.T) { testAgentAreaCounters(t, h) })
	t.Run("VerificationDue", func(t *testing.T) { testVerificationDue(t, h) })
}

// base is a fixed instant with sub-microsecond digits, to check the store truncates them.
var base = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)

func ctx(t *testing.T) context.Context { return t.Context() }

func team(name string) store.Team {
	return store.Team{ID: store.NewID("team"), Name: name, Description: "about " + name,
		CreatedAt: store.UTC(base), UpdatedAt: store.UTC(base)}
}

func mustCreateTeam(t *testing.T, q store.Queries, name string) store.Team {
	t.Helper()
	tm := team(name)
	if err := q.CreateTeam(ctx(t), tm); err != nil {
		t.Fatalf("create team %q: %v", name, err)
	}
	return tm
}

func version(t *testing.T, s store.Store, area string) int64 {
	t.Helper()
	v, err := s.ChangeVersion(ctx(t), area)
	if err != nil {
		t.Fatalf("change version %s: %v", area, err)
	}
	return v
}
