package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"certctl/app/audit"
	"certctl/app/secret"
	"certctl/app/valid"
	"certctl/store"
)

// TargetInput is what a caller sets on a target.
type TargetInput struct {
	AgentID string
	Name    string
	Type    string
	// Config is the type's configuration, a JSON object. On update, a secret field left
	// out keeps its stored value, so that callers need not know it to change the rest.
	Config json.RawMessage
}

// targetAAD binds a target's sealed secrets to the target.
func targetAAD(id string) []byte { return []byte("target-secrets:" + id) }

// CreateTarget stores a new target of an agent that is not retired, after checking its
// configuration against what the agent allows.
func (s *Service) CreateTarget(ctx context.Context, in TargetInput) (store.Target, error) {
	var t store.Target
	err := s.st.InTx(ctx, func(q store.Queries) error {
		e := valid.Errors{}
		a, err := s.targetAgent(ctx, q, e, in.AgentID)
		if err != nil {
			return err
		}
		now := store.UTC(s.now())
		t = store.Target{ID: store.NewID("tgt"), AgentID: in.AgentID,
			Name: e.Text("name", in.Name, 1, 100), Type: strings.TrimSpace(in.Type),
			CreatedAt: now, UpdatedAt: now}
		if err := s.setConfig(e, &t, a, in.Config, nil); err != nil {
			return err
		}
		if err := q.CreateTarget(ctx, t); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return targetNameTaken(t.Name)
			}
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "target.create", "target", t.ID,
			map[string]any{"name": t.Name, "type": t.Type, "agent_id": t.AgentID,
				"config": json.RawMessage(t.Config)}))
	})
	if err != nil {
		return store.Target{}, fmt.Errorf("create target: %w", err)
	}
	return t, nil
}

// UpdateTarget replaces the name, type and configuration of target id. The agent stays.
func (s *Service) UpdateTarget(ctx context.Context, id string, in TargetInput) (store.Target,
	error) {
	var t store.Target
	err := s.st.InTx(ctx, func(q store.Queries) error {
		old, err := q.GetTarget(ctx, id)
		if err != nil {
			return err
		}
		e := valid.Errors{}
		if in.AgentID != "" && in.AgentID != old.AgentID {
			e.Add("agent_id", "a target stays with its agent; create a new target instead")
		}
		a, err := q.GetAgent(ctx, old.AgentID)
		if err != nil {
			return err
		}
		oldSecrets, err := s.openSecrets(old)
		if err != nil {
			return err
		}
		t = old
		t.Name, t.Type = e.Text("name", in.Name, 1, 100), strings.TrimSpace(in.Type)
		t.UpdatedAt = store.UTC(s.now())
		if err := s.setConfig(e, &t, a, in.Config, oldSecrets); err != nil {
			return err
		}
		if err := q.UpdateTarget(ctx, t); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return targetNameTaken(t.Name)
			}
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, t.UpdatedAt, "target.update", "target", id,
			map[string]any{"name": t.Name, "type": t.Type, "config": json.RawMessage(t.Config),
				"secrets_changed": !bytes.Equal(old.SecretsSealed, t.SecretsSealed)}))
	})
	if err != nil {
		return store.Target{}, fmt.Errorf("update target %s: %w", id, err)
	}
	return t, nil
}

// DeleteTarget removes target id and its mapping to certificates, cancelling its
// deployments that have not finished.
func (s *Service) DeleteTarget(ctx context.Context, id string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		t, err := q.GetTarget(ctx, id)
		if err != nil {
			return err
		}
		certIDs, err := q.TargetCertificateIDs(ctx, id)
		if err != nil {
			return err
		}
		now := store.UTC(s.now())
		for _, c := range certIDs {
			open, err := q.OpenDeployments(ctx, c, id)
			if err != nil {
				return err
			}
			for _, j := range open {
				j.Status, j.LastError, j.FinishedAt, j.UpdatedAt = store.JobCancelled,
					"the target was deleted", now, now
				if err := q.UpdateJob(ctx, j); err != nil {
					return err
				}
			}
		}
		if err := q.DeleteTarget(ctx, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "target.delete", "target", id,
			map[string]any{"name": t.Name, "agent_id": t.AgentID, "certificate_ids": certIDs}))
	})
	if err != nil {
		return fmt.Errorf("delete target %s: %w", id, err)
	}
	return nil
}

// GetTarget returns target id with the names of its secret fields that hold a value.
func (s *Service) GetTarget(ctx context.Context, id string) (store.Target, []string, error) {
	t, err := s.st.GetTarget(ctx, id)
	if err != nil {
		return t, nil, err
	}
	names, err := s.SecretNames(t)
	return t, names, err
}

// ListTargets returns one page of targets.
func (s *Service) ListTargets(ctx context.Context, f store.TargetFilter, p store.Page) (
	[]store.Target, string, error) {
	return s.st.ListTargets(ctx, f, p)
}

// SecretNames lists the secret fields target t holds a value for, sorted; never the values.
func (s *Service) SecretNames(t store.Target) ([]string, error) {
	secrets, err := s.openSecrets(t)
	if err != nil {
		return nil, err
	}
	var names []string
	for k := range secrets {
		names = append(names, k)
	}
	slices.Sort(names)
	return names, nil
}

func targetNameTaken(name string) error {
	return &valid.Conflict{Message: fmt.Sprintf("the agent has a target named %q", name),
		Fields: map[string]string{"name": "is already taken on this agent"}}
}

// targetAgent returns the agent a new target belongs to, recording a problem when it is
// missing or retired.
func (s *Service) targetAgent(ctx context.Context, q store.Queries, e valid.Errors,
	id string) (store.Agent, error) {
	if strings.TrimSpace(id) == "" {
		e.Add("agent_id", "is required")
		return store.Agent{}, nil
	}
	a, err := q.GetAgent(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.Add("agent_id", fmt.Sprintf("nothing has the ID %q", id))
	case err != nil:
		return a, err
	case a.Status == store.AgentRetired:
		e.Add("agent_id", "the agent is retired")
	}
	return a, nil
}

// setConfig checks config for t's type against agent a's allowed paths and stores it in t:
// the secret fields sealed apart from the rest. A secret field config leaves out keeps its
// value from oldSecrets. It returns every problem e collected.
func (s *Service) setConfig(e valid.Errors, t *store.Target, a store.Agent,
	config json.RawMessage, oldSecrets map[string]json.RawMessage) error {
	if len(bytes.TrimSpace(config)) == 0 {
		config = json.RawMessage(`{}`)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(config, &fields); err != nil || fields == nil {
		e.Add("config", "must be a JSON object")
		return e.Err()
	}
	secretNames := s.targets.SecretFields(t.Type)
	for _, name := range secretNames {
		if _, given := fields[name]; !given && oldSecrets[name] != nil {
			fields[name] = oldSecrets[name]
		}
	}
	merged, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	if err := s.targets.Check(t.Type, merged, a.AllowedPaths); err != nil {
		mergeProblems(e, err)
	}
	if err := e.Err(); err != nil {
		return err
	}
	secrets := map[string]json.RawMessage{}
	for _, name := range secretNames {
		if v, ok := fields[name]; ok {
			secrets[name] = v
			delete(fields, name)
		}
	}
	if t.Config, err = json.Marshal(fields); err != nil {
		return err
	}
	t.SecretsSealed = nil
	if len(secrets) > 0 {
		plain, err := json.Marshal(secrets)
		if err != nil {
			return err
		}
		t.SecretsSealed = s.key.Seal(plain, targetAAD(t.ID))
	}
	return nil
}

// mergeProblems adds the checker's field problems to e under config.<field>, or its error
// as a problem of config.
func mergeProblems(e valid.Errors, err error) {
	var fields valid.Errors
	if errors.As(err, &fields) {
		for f, p := range fields {
			if f == "type" {
				e.Add("type", p)
				continue
			}
			e.Add("config."+f, p)
		}
	} else {
		e.Add("config", err.Error())
	}
}

// openSecrets unseals the secret fields of t.
func (s *Service) openSecrets(t store.Target) (map[string]json.RawMessage, error) {
	if len(t.SecretsSealed) == 0 {
		return nil, nil
	}
	plain, err := s.key.Open(t.SecretsSealed, targetAAD(t.ID))
	if err != nil {
		return nil, fmt.Errorf("unseal secrets of target %s: %w", t.ID, err)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("secrets of target %s: %w", t.ID, err)
	}
	return out, nil
}

// openConfig returns t's whole configuration, secrets included, for its agent.
func (s *Service) openConfig(t store.Target) (json.RawMessage, error) {
	secrets, err := s.openSecrets(t)
	if err != nil || len(secrets) == 0 {
		return t.Config, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(t.Config, &fields); err != nil {
		return nil, fmt.Errorf("config of target %s: %w", t.ID, err)
	}
	for k, v := range secrets {
		fields[k] = v
	}
	return json.Marshal(fields)
}

// ResealTargets re-encrypts every target's secrets from old to new, inside the caller's
// transaction, and returns how many it changed.
func ResealTargets(ctx context.Context, q store.Queries, old, new secret.Key) (int, error) {
	n := 0
	after := ""
	for {
		ts, next, err := q.ListTargets(ctx, store.TargetFilter{}, store.Page{Limit: 500,
			After: after})
		if err != nil {
			return n, err
		}
		for _, t := range ts {
			if len(t.SecretsSealed) == 0 {
				continue
			}
			plain, err := old.Open(t.SecretsSealed, targetAAD(t.ID))
			if err != nil {
				return n, fmt.Errorf("unseal secrets of target %s: %w", t.ID, err)
			}
			t.SecretsSealed = new.Seal(plain, targetAAD(t.ID))
			if err := q.UpdateTarget(ctx, t); err != nil {
				return n, err
			}
			n++
		}
		if next == "" || len(ts) == 0 {
			return n, nil
		}
		after = next
	}
}
