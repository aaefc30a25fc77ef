package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"certctl/store"
)

// Errors the authenticator reports; the API renders them as 401 and 403.
var (
	ErrUnauthenticated = errors.New("missing or invalid API key")
	ErrForbidden       = errors.New("role does not allow this")
)

// touchEvery is how precise an API key's last-used time is kept.
const touchEvery = time.Minute

// KeyStore is what the authenticator needs from the store.
type KeyStore interface {
	GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error)
	TouchAPIKey(ctx context.Context, id string, at time.Time, every time.Duration) error
}

// Authenticator checks bearer keys against the stored keys and the optional bootstrap key.
type Authenticator struct {
	keys      KeyStore
	bootstrap []byte // SHA-256 of CERTCTL_AUTH_SECRET, or nil
	disabled  bool
	log       *slog.Logger
	now       func() time.Time
}

// NewAuthenticator returns an authenticator. bootstrapKey may be empty. With disabled set,
// every caller is an admin named "anonymous".
func NewAuthenticator(keys KeyStore, bootstrapKey string, disabled bool,
	log *slog.Logger) *Authenticator {
	a := &Authenticator{keys: keys, disabled: disabled, log: log, now: time.Now}
	if bootstrapKey != "" {
		a.bootstrap = Hash(bootstrapKey)
	}
	return a
}

// Authenticate returns the principal the request's bearer key belongs to.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	if a.disabled {
		return Principal{Actor: "anonymous", Role: RoleAdmin}, nil
	}
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	hash := Hash(token)
	if a.bootstrap != nil && subtle.ConstantTimeCompare(hash, a.bootstrap) == 1 {
		return Principal{Actor: "apikey:bootstrap", Role: RoleAdmin}, nil
	}
	return a.stored(r.Context(), hash)
}

func (a *Authenticator) stored(ctx context.Context, hash []byte) (Principal, error) {
	k, err := a.keys.GetAPIKeyByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	// The lookup was by hash; compare again in constant time so that no code path
	// accepts a key on anything but a full, timing-independent match.
	if subtle.ConstantTimeCompare(k.Hash, hash) != 1 || !k.RevokedAt.IsZero() {
		return Principal{}, ErrUnauthenticated
	}
	role, err := ParseRole(k.Role)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	// Recording use costs a write; do it at most once per interval per key.
	if now := a.now(); now.Sub(k.LastUsedAt) > touchEvery {
		if err := a.keys.TouchAPIKey(ctx, k.ID, now, touchEvery); err != nil {
			a.log.Warn("api key use not recorded", "key_id", k.ID, "error", err)
		}
	}
	return Principal{Actor: "apikey:" + k.Name, Role: role, KeyID: k.ID}, nil
}

// Require returns middleware that lets a request through only when its caller holds at least
// role; otherwise it calls fail with ErrUnauthenticated, ErrForbidden or a store error.
func (a *Authenticator) Require(role Role, fail func(http.ResponseWriter, *http.Request, error),
	next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			fail(w, r, err)
			return
		}
		if p.Role < role || role == RoleAgent {
			fail(w, r, ErrForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
