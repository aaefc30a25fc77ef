package store

import (
	"context"
	"encoding/json"
	"time"
)

// Team is a group of people responsible for certificates.
type Team struct {
	ID          string
	Name        string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TeamQueries reads and writes teams. Names are unique regardless of letter case.
type TeamQueries interface {
	// ListTeams returns teams ordered by name and the keyset position of the last one.
	ListTeams(ctx context.Context, p Page) (teams []Team, next string, err error)
	CountTeams(ctx context.Context) (int, error)
	GetTeam(ctx context.Context, id string) (Team, error)
	// GetTeamByName matches the name without regard to letter case.
	GetTeamByName(ctx context.Context, name string) (Team, error)
	CreateTeam(ctx context.Context, t Team) error
	// UpdateTeam replaces name, description and updated time of the team with t.ID.
	UpdateTeam(ctx context.Context, t Team) error
	// DeleteTeam removes a team; ErrConflict while owners still belong to it.
	DeleteTeam(ctx context.Context, id string) error
}

// Owner is a person accountable for certificates, optionally part of a team.
type Owner struct {
	ID        string
	Name      string
	Email     string
	TeamID    string // "" when the owner belongs to no team
	CreatedAt time.Time
	UpdatedAt time.Time
}

// OwnerFilter narrows ListOwners; zero values match everything.
type OwnerFilter struct {
	TeamID string
}

// OwnerQueries reads and writes owners. E-mail addresses are unique regardless of case.
type OwnerQueries interface {
	// ListOwners returns owners ordered by name and the keyset position of the last one.
	ListOwners(ctx context.Context, f OwnerFilter, p Page) (owners []Owner, next string, err error)
	CountOwners(ctx context.Context, f OwnerFilter) (int, error)
	GetOwner(ctx context.Context, id string) (Owner, error)
	GetOwnerByEmail(ctx context.Context, email string) (Owner, error)
	// CreateOwner inserts o; ErrConflict when o.TeamID names no team.
	CreateOwner(ctx context.Context, o Owner) error
	UpdateOwner(ctx context.Context, o Owner) error
	DeleteOwner(ctx context.Context, id string) error
}

// AuditEvent records one change: who did what to which resource, and when.
type AuditEvent struct {
	ID           string
	OccurredAt   time.Time
	Actor        string // e.g. "apikey:deploy-bot", "user:alice", "system"
	Action       string // e.g. "team.create"
	ResourceType string
	ResourceID   string
	RequestID    string
	// Details is a JSON object summarising the change, with secrets already redacted.
	Details json.RawMessage
}

// AuditFilter narrows ListAudit; zero values match everything. Since is inclusive, Until
// exclusive.
type AuditFilter struct {
	Actor        string
	Action       string
	ResourceType string
	ResourceID   string
	Since        time.Time
	Until        time.Time
}

// AuditQueries appends and reads the audit trail. Events are never updated or deleted: the
// database refuses it.
type AuditQueries interface {
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns events newest first and the keyset position of the last one.
	ListAudit(ctx context.Context, f AuditFilter, p Page) (events []AuditEvent, next string,
		err error)
	CountAudit(ctx context.Context, f AuditFilter) (int, error)
	GetAudit(ctx context.Context, id string) (AuditEvent, error)
}

// APIKey is a credential for the JSON API. Only the SHA-256 hash of the secret is kept.
type APIKey struct {
	ID         string
	Name       string
	Role       string
	Hash       []byte // SHA-256 of the full key
	Prefix     string // the key's first characters, shown to tell keys apart
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used
	RevokedAt  time.Time // zero while the key is valid
}

// APIKeyQueries reads and writes API keys. Names are unique among keys not revoked.
type APIKeyQueries interface {
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	// GetAPIKeyByHash finds the key whose hash is hash, revoked or not.
	GetAPIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	CreateAPIKey(ctx context.Context, k APIKey) error
	// RevokeAPIKey marks the key revoked at time at; ErrNotFound when it does not exist or
	// is already revoked.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// TouchAPIKey records a use at time at, but writes only when the stored time is older
	// than at minus every, so a busy key costs one write per interval.
	TouchAPIKey(ctx context.Context, id string, at time.Time, every time.Duration) error
}
