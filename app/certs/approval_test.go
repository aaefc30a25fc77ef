package certs_test

import (
	"testing"
	"time"

	"certctl/app/certs"
	"certctl/store"
)

// TestRenewalApproval checks that under an "issuance" profile a renewal waits for approval
// only when it would change what the certificate certifies: its names, or its key type.
func TestRenewalApproval(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.addProfile(t, "prof-gated", []string{"*.example.com"}, false, "issuance")
		c, j := e.create(t, certs.Input{Name: "gated", CommonName: "a.example.com",
			ProfileID: "prof-gated"})
		if j.Status != store.JobAwaitingApproval {
			t.Fatalf("first issuance: got %s, want AwaitingApproval", j.Status)
		}
		if _, err := e.svc.Approve(as(e.ctx, "apikey:bob"), j.ID); err != nil {
			t.Fatal(err)
		}
		e.runOne(t, true)

		same, err := e.svc.Renew(e.ctx, c.ID)
		if err != nil || same.Status != store.JobPending {
			t.Fatalf("renewal with the same names: got %s, %v; want Pending", same.Status, err)
		}
		e.runOne(t, true)

		in := certs.Input{Name: "gated", CommonName: "a.example.com", IssuerID: "iss-local",
			ProfileID: "prof-gated", SANs: []string{"b.example.com"}, KeyMode: "server"}
		if _, err := e.svc.Update(e.ctx, c.ID, in); err != nil {
			t.Fatal(err)
		}
		changed, err := e.svc.Renew(e.ctx, c.ID)
		if err != nil || changed.Status != store.JobAwaitingApproval {
			t.Fatalf("renewal adding a name: got %s, %v; want AwaitingApproval",
				changed.Status, err)
		}
		e.runOne(t, false)
	})
}

// TestAgentKeyChangeNeedsApproval checks that an agent renewing with a key of another type
// under an "issuance" profile waits for approval, and with the same type does not.
func TestAgentKeyChangeNeedsApproval(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		now := e.clock.Now()
		p := store.Profile{ID: "prof-agent", Name: "Agent", KeyTypes: []string{"ecdsa-p256",
			"ed25519"}, MaxLifetime: 30 * 24 * time.Hour, ExtKeyUsages: []string{"serverAuth"},
			Approval: "issuance", CreatedAt: now, UpdatedAt: now}
		if err := e.st.CreateProfile(e.ctx, p); err != nil {
			t.Fatal(err)
		}
		c, j := e.create(t, certs.Input{Name: "agent", CommonName: "agent.example.com",
			ProfileID: "prof-agent", KeyMode: "agent"})
		if _, err := e.svc.Approve(as(e.ctx, "apikey:bob"), j.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SubmitCSR(e.ctx, j.ID, newCSR(t, ecdsaKey(t),
			"agent.example.com")); err != nil {
			t.Fatal(err)
		}
		e.runOne(t, true)

		r, _ := e.svc.Renew(e.ctx, c.ID)
		got, err := e.svc.SubmitCSR(e.ctx, r.ID, newCSR(t, ecdsaKey(t), "agent.example.com"))
		if err != nil || got.Status != store.JobPending {
			t.Fatalf("same key type: got %s, %v; want Pending", got.Status, err)
		}
		e.runOne(t, true)

		r, _ = e.svc.Renew(e.ctx, c.ID)
		got, err = e.svc.SubmitCSR(e.ctx, r.ID, newCSR(t, ed25519Key(t), "agent.example.com"))
		if err != nil || got.Status != store.JobAwaitingApproval {
			t.Fatalf("new key type: got %s, %v; want AwaitingApproval", got.Status, err)
		}
		approved, err := e.svc.Approve(as(e.ctx, "apikey:bob"), r.ID)
		if err != nil || approved.Status != store.JobPending {
			t.Fatalf("approve: got %s, %v; want Pending (the CSR is in)", approved.Status, err)
		}
		e.runOne(t, true)
	})
}
