// Package agents is the server's side of `certctl agent`: enrollment and credentials,
// heartbeats and health, the work each agent polls for, deployment targets, and what agents
// and network scans discover.
package agents

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"certctl/app/agentapi"
	"certctl/app/audit"
	"certctl/app/auth"
	"certctl/app/certs"
	"certctl/app/secret"
	"certctl/app/valid"
	"certctl/store"
)

// ErrRetired is the answer to every call of a retired agent: it should stop.
var ErrRetired = errors.New("this agent has been retired")

// credentialPrefix marks agent credentials, so that they are told apart from API keys.
const credentialPrefix = "cctla_"

// tokenPrefix marks one-time enrollment tokens.
const tokenPrefix = "cctle_"

// Service manages agents, their targets and their discoveries.
type Service struct {
	st           store.Store
	certs        *certs.Service
	key          secret.Key
	bootstrap    []byte // SHA-256 of CERTCTL_AGENT_BOOTSTRAP_TOKEN, or nil
	targets      TargetTypes
	scanner      NetworkScanner // nil: network discovery is off
	offlineAfter time.Duration
	now          func() time.Time
	log          *slog.Logger
	ids          *identities // nil unless the store announces changes to agents
}

// TargetTypes knows the target types and their configurations (the deploy engine does).
type TargetTypes interface {
	// Check validates a configuration of type typ for an agent that may write only below
	// allowedPaths; problems come back as valid.Errors by field where it can tell.
	Check(typ string, config []byte, allowedPaths []string) error
	// SecretFields names the fields of typ's configuration that are secrets.
	SecretFields(typ string) []string
}

// Deps are the service's collaborators.
type Deps struct {
	Store store.Store
	Certs *certs.Service
	// Key seals the secrets in target configurations.
	Key secret.Key
	// BootstrapToken lets any new agent enroll; "" allows only one-time tokens.
	BootstrapToken string
	TargetTypes    TargetTypes
	// Scanner does network discovery; nil turns it off.
	Scanner NetworkScanner
	// OfflineAfter is how long an agent may go without a heartbeat before it counts as
	// offline.
	OfflineAfter time.Duration
	Now          func() time.Time
	Log          *slog.Logger
}

// New returns the agent service.
func New(d Deps) *Service {
	s := &Service{st: d.Store, certs: d.Certs, key: d.Key, targets: d.TargetTypes,
		scanner: d.Scanner, offlineAfter: d.OfflineAfter, now: d.Now,
		log: d.Log.With("component", "agents")}
	if _, ok := d.Store.(store.AgentWatcher); ok {
		s.ids = newIdentities()
	}
	if d.BootstrapToken != "" {
		s.bootstrap = auth.Hash(d.BootstrapToken)
	}
	return s
}

// newSecret returns prefix and 32 random bytes in base32.
func newSecret(prefix string) string {
	b := make([]byte, 32)
	rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).
		EncodeToString(b))
}

// namePattern is what agent names may look like: host-name-like, so they read well in logs
// and URLs.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Enroll admits a new agent that presents the bootstrap token or an unused one-time token,
// and returns its ID and credential. The credential exists only in the answer: the server
// keeps its hash.
func (s *Service) Enroll(ctx context.Context, in agentapi.EnrollRequest) (
	agentapi.EnrollResponse, error) {
	e := valid.Errors{}
	name := strings.TrimSpace(in.Name)
	if !namePattern.MatchString(name) {
		e.Add("name", "must be 1 to 100 letters, digits, dots, dashes or underscores, "+
			"starting with a letter or digit")
	}
	host := checkHost(e, in.Host)
	if in.Token == "" {
		return agentapi.EnrollResponse{}, auth.ErrUnauthenticated
	}
	if err := e.Err(); err != nil {
		return agentapi.EnrollResponse{}, err
	}
	hash := auth.Hash(in.Token)
	viaBootstrap := s.bootstrap != nil && subtle.ConstantTimeCompare(hash, s.bootstrap) == 1
	credential := newSecret(credentialPrefix)
	now := store.UTC(s.now())
	a := store.Agent{ID: store.NewID("agent"), Name: name, Hostname: host.Hostname,
		OS: host.OS, Architecture: host.Architecture, Version: host.Version,
		Addresses: host.Addresses, AllowedPaths: host.AllowedPaths, Status: store.AgentOnline,
		CredentialHash: auth.Hash(credential), CredentialPrefix: auth.DisplayPrefix(credential),
		LastHeartbeatAt: now, CreatedAt: now, UpdatedAt: now}
	ctx = auth.WithPrincipal(ctx, auth.Principal{Actor: "agent:" + name})
	err := s.st.InTx(ctx, func(q store.Queries) error {
		via := "bootstrap token"
		if !viaBootstrap {
			t, err := q.GetEnrollmentTokenByHash(ctx, hash)
			if errors.Is(err, store.ErrNotFound) {
				return auth.ErrUnauthenticated
			}
			if err != nil {
				return err
			}
			via = "enrollment token " + t.ID
			if err := s.createAgent(ctx, q, a); err != nil {
				return err
			}
			err = q.UseEnrollmentToken(ctx, t.ID, a.ID, now)
			if errors.Is(err, store.ErrNotFound) {
				return auth.ErrUnauthenticated // used or expired meanwhile
			}
			if err != nil {
				return err
			}
		} else if err := s.createAgent(ctx, q, a); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "agent.enroll", "agent", a.ID,
			map[string]any{"name": name, "hostname": a.Hostname, "via": via,
				"prefix": a.CredentialPrefix}))
	})
	if err != nil {
		return agentapi.EnrollResponse{}, fmt.Errorf("enroll agent %q: %w", name, err)
	}
	s.log.Info("agent enrolled", "agent_id", a.ID, "name", name, "hostname", a.Hostname)
	return agentapi.EnrollResponse{AgentID: a.ID, Credential: credential}, nil
}

func (s *Service) createAgent(ctx context.Context, q store.Queries, a store.Agent) error {
	err := q.CreateAgent(ctx, a)
	if errors.Is(err, store.ErrConflict) {
		return &valid.Conflict{Message: fmt.Sprintf("an agent named %q is enrolled; retire "+
			"it first, or give this one another CERTCTL_AGENT_NAME", a.Name),
			Fields: map[string]string{"name": "is already taken"}}
	}
	return err
}

// checkHost validates what an agent says about its host and returns it normalised.
func checkHost(e valid.Errors, h agentapi.Host) store.AgentHost {
	out := store.AgentHost{Hostname: e.Text("hostname", h.Hostname, 0, 253),
		OS: e.Text("os", h.OS, 0, 50), Architecture: e.Text("architecture", h.Architecture, 0, 50),
		Version: e.Text("version", h.Version, 0, 100)}
	if len(h.Addresses) > 64 {
		e.Add("addresses", "at most 64 addresses")
	}
	for _, a := range h.Addresses {
		out.Addresses = append(out.Addresses, e.Text("addresses", a, 1, 100))
	}
	if len(h.AllowedPaths) > 64 {
		e.Add("allowed_paths", "at most 64 paths")
	}
	for _, p := range h.AllowedPaths {
		p = e.Text("allowed_paths", p, 1, 4096)
		if !strings.HasPrefix(p, "/") {
			e.Add("allowed_paths", fmt.Sprintf("%q is not an absolute path", p))
		}
		out.AllowedPaths = append(out.AllowedPaths, p)
	}
	return out
}

// Authenticate returns the agent whose credential is credential; ErrRetired for a retired
// agent, auth.ErrUnauthenticated for anything else that does not match.
func (s *Service) Authenticate(ctx context.Context, credential string) (store.AgentIdentity,
	error) {
	if !strings.HasPrefix(credential, credentialPrefix) {
		return store.AgentIdentity{}, auth.ErrUnauthenticated
	}
	hash := auth.Hash(credential)
	a, err := s.identity(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return store.AgentIdentity{}, auth.ErrUnauthenticated
	}
	if err != nil {
		return store.AgentIdentity{}, err
	}
	if subtle.ConstantTimeCompare(a.CredentialHash, hash) != 1 {
		return store.AgentIdentity{}, auth.ErrUnauthenticated
	}
	if a.Status == store.AgentRetired {
		return store.AgentIdentity{}, ErrRetired
	}
	return a, nil
}

// identity returns the identity of the agent whose credential hash is hash: kept in
// memory while the store announces changes to agents (see Watch), else read.
func (s *Service) identity(ctx context.Context, hash []byte) (store.AgentIdentity, error) {
	if s.ids == nil {
		return s.st.GetAgentIdentity(ctx, hash)
	}
	a, gen, ok := s.ids.get(hash)
	if ok {
		return a, nil
	}
	a, err := s.st.GetAgentIdentity(ctx, hash)
	if err == nil {
		s.ids.put(a, gen)
	}
	return a, err
}

// Watch follows the store's announcements of changed agents until ctx ends, so that
// Authenticate can keep identities in memory meanwhile. Without a store that announces
// them it returns at once, and every call reads the identity.
func (s *Service) Watch(ctx context.Context) {
	w, ok := s.st.(store.AgentWatcher)
	if !ok {
		return
	}
	w.WatchAgents(ctx, s.ids.changed, func(on bool) {
		if !on && ctx.Err() == nil {
			s.log.Warn("not hearing about changed agents; reading every agent call from " +
				"the database until the connection is back")
		}
		s.ids.listening(on)
	})
}

// Heartbeat records that agent a is alive and what it reports about its host.
func (s *Service) Heartbeat(ctx context.Context, a store.AgentIdentity,
	h agentapi.Heartbeat) error {
	e := valid.Errors{}
	host := checkHost(e, h.Host)
	if err := e.Err(); err != nil {
		return err
	}
	err := s.st.RecordHeartbeat(ctx, a.ID, host, store.UTC(s.now()))
	if errors.Is(err, store.ErrNotFound) {
		return ErrRetired
	}
	return err
}

// MarkOffline moves agents whose last heartbeat is older than the offline limit to Offline
// and returns how many moved.
func (s *Service) MarkOffline(ctx context.Context) (int, error) {
	now := store.UTC(s.now())
	ids, err := s.st.MarkAgentsOffline(ctx, now.Add(-s.offlineAfter), now)
	for _, id := range ids {
		s.log.Warn("agent went offline", "agent_id", id, "silent_for_more_than",
			s.offlineAfter)
	}
	return len(ids), err
}

// List returns one page of agents.
func (s *Service) List(ctx context.Context, f store.AgentFilter, p store.Page) ([]store.Agent,
	string, error) {
	return s.st.ListAgents(ctx, f, p)
}

// Get returns agent id.
func (s *Service) Get(ctx context.Context, id string) (store.Agent, error) {
	return s.st.GetAgent(ctx, id)
}

// Retire takes agent id out of service: its credential stops working (the agent is told
// it was retired, and stops), and its name may be enrolled again. Its targets stay, for the
// record, until deleted; their open deployments are cancelled.
func (s *Service) Retire(ctx context.Context, id, reason string) error {
	reason = strings.TrimSpace(reason)
	if len(reason) > 500 {
		return valid.Errors{"reason": "at most 500 characters"}
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		now := store.UTC(s.now())
		if err := q.RetireAgent(ctx, id, reason, now); err != nil {
			return err
		}
		cancelled, err := cancelAgentWork(ctx, q, id, now)
		if err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "agent.retire", "agent", id,
			map[string]any{"reason": reason, "cancelled_job_ids": cancelled}))
	})
	if err != nil {
		return fmt.Errorf("retire agent %s: %w", id, err)
	}
	s.forget(id)
	return nil
}

// forget drops what this server keeps of agent id after changing its credential or
// status, so that its next call here is checked against the store at once; other servers
// drop it when the store's announcement reaches them, moments later.
func (s *Service) forget(id string) {
	if s.ids != nil {
		s.ids.changed(id)
	}
}

// cancelAgentWork cancels the open deployments of agent id and returns their IDs. Jobs
// waiting for its CSR are left to time out or to be given a CSR by hand.
func cancelAgentWork(ctx context.Context, q store.Queries, id string,
	now time.Time) ([]string, error) {
	jobs, err := q.ListAgentWork(ctx, id, 1000)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, j := range jobs {
		if j.Type != store.JobDeployment {
			continue
		}
		j.Status, j.LastError, j.FinishedAt, j.UpdatedAt = store.JobCancelled,
			"the agent was retired", now, now
		if err := q.UpdateJob(ctx, j); err != nil {
			return nil, err
		}
		ids = append(ids, j.ID)
	}
	return ids, nil
}

// RotateCredential gives agent id a new credential and returns it; the old one stops working
// at once. An admin uses it when a host's state directory may have leaked, and hands the new
// credential to the host out of band.
func (s *Service) RotateCredential(ctx context.Context, id string) (string, error) {
	credential := newSecret(credentialPrefix)
	err := s.st.InTx(ctx, func(q store.Queries) error {
		a, err := q.GetAgent(ctx, id)
		if err != nil {
			return err
		}
		if a.Status == store.AgentRetired {
			return &valid.Conflict{Message: "the agent is retired"}
		}
		now := store.UTC(s.now())
		prefix := auth.DisplayPrefix(credential)
		if err := q.SetAgentCredential(ctx, id, auth.Hash(credential), prefix, now); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "agent.rotate_credential", "agent", id,
			map[string]any{"prefix": prefix}))
	})
	if err != nil {
		return "", fmt.Errorf("rotate credential of agent %s: %w", id, err)
	}
	s.forget(id)
	return credential, nil
}

// CreateToken stores a one-time enrollment token valid for ttl and returns it with its
// secret, shown only now.
func (s *Service) CreateToken(ctx context.Context, name string, ttl time.Duration) (
	store.EnrollmentToken, string, error) {
	e := valid.Errors{}
	name = e.Text("name", name, 0, 100)
	if ttl <= 0 || ttl > 30*24*time.Hour {
		e.Add("ttl_seconds", "must be between 1 second and 30 days")
	}
	if err := e.Err(); err != nil {
		return store.EnrollmentToken{}, "", err
	}
	token := newSecret(tokenPrefix)
	now := store.UTC(s.now())
	t := store.EnrollmentToken{ID: store.NewID("etok"), Hash: auth.Hash(token),
		Prefix: auth.DisplayPrefix(token), Name: name, CreatedBy: actorOf(ctx), CreatedAt: now,
		ExpiresAt: now.Add(ttl)}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateEnrollmentToken(ctx, t); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "agent.token_create",
			"enrollment_token", t.ID, map[string]any{"name": name, "prefix": t.Prefix,
				"expires_at": t.ExpiresAt}))
	})
	if err != nil {
		return store.EnrollmentToken{}, "", fmt.Errorf("create enrollment token: %w", err)
	}
	return t, token, nil
}

// Tokens lists enrollment tokens, newest first.
func (s *Service) Tokens(ctx context.Context) ([]store.EnrollmentToken, error) {
	return s.st.ListEnrollmentTokens(ctx)
}

// DeleteToken withdraws an unused enrollment token.
func (s *Service) DeleteToken(ctx context.Context, id string) error {
	return s.st.InTx(ctx, func(q store.Queries) error {
		now := store.UTC(s.now())
		if err := q.DeleteEnrollmentToken(ctx, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "agent.token_delete",
			"enrollment_token", id, nil))
	})
}

func actorOf(ctx context.Context) string {
	if a := auth.PrincipalFrom(ctx).Actor; a != "" {
		return a
	}
	return "system"
}
