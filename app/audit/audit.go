// Package audit builds the audit events that every change writes in its own transaction.
package audit

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"certctl/app/auth"
	"certctl/app/middleware"
	"certctl/store"
)

// Event returns the audit event for action on the resource, attributed to the caller and
// request that ctx carries, with details redacted by Redact. Callers that act on their own
// (the scheduler, the CLI) put a principal into ctx with auth.WithPrincipal first.
func Event(ctx context.Context, now time.Time, action, resourceType, resourceID string,
	details map[string]any) store.AuditEvent {
	actor := auth.PrincipalFrom(ctx).Actor
	if actor == "" {
		actor = "system"
	}
	raw, err := json.Marshal(Redact(details))
	if err != nil {
		raw = []byte(`{"error":"details could not be encoded"}`)
	}
	return store.AuditEvent{
		ID:           store.NewID("evt"),
		OccurredAt:   store.UTC(now),
		Actor:        actor,
		Action:       action,
		ResourceType: resourceType,
		ResourceID:   resourceID,
		RequestID:    middleware.RequestIDFrom(ctx),
		Details:      raw,
	}
}

// sensitive lists name fragments of values that never enter the audit trail.
var sensitive = []string{"password", "secret", "token", "private", "key_pem", "hmac",
	"api_key", "credential"}

// Redact returns a copy of details in which every value whose key names a secret is
// replaced by "[redacted]", at any depth.
func Redact(details map[string]any) map[string]any {
	if details == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(details))
	for k, v := range details {
		if isSensitive(k) {
			out[k] = "[redacted]"
			continue
		}
		if m, ok := v.(map[string]any); ok {
			v = Redact(m)
		}
		out[k] = v
	}
	return out
}

func isSensitive(key string) bool {
	k := strings.ToLower(key)
	for _, s := range sensitive {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
