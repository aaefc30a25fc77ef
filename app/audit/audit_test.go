package audit

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"certctl/app/auth"

	"github.com/google/go-cmp/cmp"
)

func TestRedact(t *testing.T) {
	got := Redact(map[string]any{
		"name":     "web",
		"password": "hunter2",
		"nested":   map[string]any{"SMTP_Password": "x", "host": "mail"},
		"apiKeyID": "key-1",
		"api_key":  "cctl_abc",
	})
	want := map[string]any{
		"name":     "web",
		"password": "[redacted]",
		"nested":   map[string]any{"SMTP_Password": "[redacted]", "host": "mail"},
		"apiKeyID": "key-1",
		"api_key":  "[redacted]",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Redact (-want +got):\n%s", diff)
	}
}

func TestEventActor(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Actor: "apikey:ci"})
	e := Event(ctx, now, "team.create", "team", "team-1", map[string]any{"token": "t"})
	if e.Actor != "apikey:ci" || e.Action != "team.create" || e.ResourceID != "team-1" {
		t.Errorf("got %+v", e)
	}
	if !e.OccurredAt.Equal(now.Truncate(time.Microsecond)) {
		t.Errorf("occurred at: got %v, want %v truncated", e.OccurredAt, now)
	}
	var d map[string]any
	if err := json.Unmarshal(e.Details, &d); err != nil || d["token"] != "[redacted]" {
		t.Errorf("details: got %s, %v; want the token redacted", e.Details, err)
	}
	if got := Event(context.Background(), now, "x", "y", "z", nil).Actor; got != "system" {
		t.Errorf("actor without principal: got %q, want system", got)
	}
}
