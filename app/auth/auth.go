// Package auth authenticates API callers by bearer key and carries who they are, and what
// role they hold, through the request.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

// Role is what a caller may do. Each role includes everything the roles below it may do.
type Role int

// The roles, from least to most powerful.
const (
	RoleNone Role = iota
	RoleViewer
	RoleOperator
	RoleAdmin
)

// RoleAgent marks what only an enrolled agent may do, with its own credential. No API key
// holds it, and it includes none of the roles above.
const RoleAgent Role = -1

var roleNames = map[Role]string{RoleViewer: "viewer", RoleOperator: "operator",
	RoleAdmin: "admin"}

// String returns the role's name as the API spells it.
func (r Role) String() string {
	if r == RoleAgent {
		return "agent"
	}
	return roleNames[r]
}

// ParseRole turns a role name into a Role.
func ParseRole(s string) (Role, error) {
	for r, name := range roleNames {
		if name == s {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("unknown role %q: want viewer, operator or admin", s)
}

// Principal is an authenticated caller.
type Principal struct {
	// Actor names the caller in audit events, e.g. "apikey:ci-bot".
	Actor string
	Role  Role
	// KeyID is the stored API key's ID, or "" for the bootstrap key and unauthenticated mode.
	KeyID string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller ctx carries, or a zero Principal.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// keyPrefix marks certctl API keys, so secret scanners and people can recognise them.
const keyPrefix = "cctl_"

// NewKey returns a new random API key: the prefix and 32 random bytes in base32.
func NewKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
	return keyPrefix + strings.ToLower(enc)
}

// Hash returns the SHA-256 of key, the only form in which keys are stored.
func Hash(key string) []byte {
	sum := sha256.Sum256([]byte(key))
	return sum[:]
}

// DisplayPrefix returns the first characters of key, enough to tell keys apart in a list
// but far too few to guess the rest.
func DisplayPrefix(key string) string {
	if len(key) < len(keyPrefix)+6 {
		return key
	}
	return key[:len(keyPrefix)+6]
}
