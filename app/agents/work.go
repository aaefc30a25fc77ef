package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"certctl/app/agentapi"
	"certctl/app/certs"
	"certctl/app/valid"
	"certctl/store"
)

// maxWorkItems bounds one work answer; the rest comes at the next poll.
const maxWorkItems = 100

// WorkTag is the entity tag of agent a's work: its work version, which grows with every
// change to its jobs and targets, so an unchanged tag means unchanged work.
func WorkTag(a store.AgentIdentity) string { return fmt.Sprintf(`"w%d"`, a.WorkVersion) }

// Work returns what agent a has to do: keys to make and CSRs to send for its certificates
// in agent key mode, and deployments to its targets.
func (s *Service) Work(ctx context.Context, a store.AgentIdentity) (agentapi.Work, error) {
	jobs, err := s.st.ListAgentWork(ctx, a.ID, maxWorkItems)
	if err != nil {
		return agentapi.Work{}, err
	}
	out := agentapi.Work{Items: []agentapi.WorkItem{}}
	for _, j := range jobs {
		item, err := s.workItem(ctx, j)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return agentapi.Work{}, err
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

func (s *Service) workItem(ctx context.Context, j store.Job) (agentapi.WorkItem, error) {
	item := agentapi.WorkItem{JobID: j.ID, CertificateID: j.CertificateID}
	if j.Type == store.JobDeployment {
		t, err := s.st.GetTarget(ctx, j.TargetID)
		if err != nil {
			return item, err
		}
		config, err := s.openConfig(t)
		if err != nil {
			return item, err
		}
		item.Kind = agentapi.KindDeploy
		item.Target = &agentapi.Target{ID: t.ID, Name: t.Name, Type: t.Type, Config: config}
		return item, nil
	}
	c, err := s.st.GetCertificate(ctx, j.CertificateID)
	if err != nil {
		return item, err
	}
	p, err := s.st.GetProfile(ctx, c.ProfileID)
	if err != nil {
		return item, err
	}
	if len(p.KeyTypes) == 0 {
		return item, fmt.Errorf("profile %s allows no key type", p.ID)
	}
	item.Kind, item.CommonName, item.SANs, item.KeyType = agentapi.KindCSR, c.CommonName,
		c.SANs, p.KeyTypes[0]
	return item, nil
}

// SubmitCSR hands agent a's CSR to its job jobID. A job that is not a's is not found.
func (s *Service) SubmitCSR(ctx context.Context, a store.AgentIdentity, jobID string,
	csrPEM string) (store.Job, error) {
	j, err := s.st.GetJob(ctx, jobID)
	if err != nil {
		return store.Job{}, err
	}
	if j.AgentID != a.ID {
		return store.Job{}, fmt.Errorf("job %s of agent %s: %w", jobID, a.ID, store.ErrNotFound)
	}
	return s.certs.SubmitCSR(ctx, jobID, []byte(csrPEM))
}

// Material returns what agent a needs for its deployment job jobID, and marks it Running.
func (s *Service) Material(ctx context.Context, a store.AgentIdentity, jobID string) (
	agentapi.Material, error) {
	m, err := s.certs.StartDeployment(ctx, a.ID, jobID)
	if err != nil {
		return agentapi.Material{}, err
	}
	v := m.Version
	return agentapi.Material{VersionID: v.ID, Serial: v.Serial, Fingerprint: v.Fingerprint,
		CertPEM: v.CertPEM, ChainPEM: v.ChainPEM, KeyPEM: string(m.KeyPEM)}, nil
}

// results an agent may report.
var results = []string{agentapi.ResultDeployed, agentapi.ResultUnchanged,
	agentapi.ResultRolledBack, agentapi.ResultFailed}

// Report records agent a's report on its deployment job jobID.
func (s *Service) Report(ctx context.Context, a store.AgentIdentity, jobID string,
	r agentapi.Report) (store.Job, error) {
	e := valid.Errors{}
	known := false
	for _, res := range results {
		known = known || r.Result == res
	}
	if !known {
		e.Add("result", "must be one of "+strings.Join(results, ", "))
	}
	if len(r.Steps) > 50 {
		e.Add("steps", "at most 50 steps")
	}
	if len(r.Error) > 4000 {
		r.Error = r.Error[:4000]
	}
	if err := e.Err(); err != nil {
		return store.Job{}, err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return store.Job{}, err
	}
	ok := r.Result == agentapi.ResultDeployed || r.Result == agentapi.ResultUnchanged
	msg := r.Error
	if !ok && msg == "" {
		msg = "the agent reported " + r.Result
	}
	return s.certs.FinishDeployment(ctx, a.ID, jobID,
		certs.DeploymentOutcome{OK: ok, Error: msg, Result: raw})
}
