package agent

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"certctl/app/agentapi"
	"certctl/app/ca"
)

// maxDone bounds the memory of finished jobs.
const maxDone = 10_000

// poll fetches the agent's work, unless it has not changed since the last answer that was
// handled in full, and does it item by item.
func (a *agent) poll(ctx context.Context) error {
	a.mu.Lock()
	etag := a.etag
	a.mu.Unlock()
	var w agentapi.Work
	header := []string{}
	if etag != "" {
		header = append(header, "If-None-Match", etag)
	}
	status, h, err := a.c.call(ctx, "GET", pathFor(agentapi.PathWork, a.id.AgentID, ""), nil,
		&w, header...)
	if err != nil {
		return err
	}
	if status == http.StatusNotModified {
		return nil
	}
	var failed error
	for _, item := range w.Items {
		if ctx.Err() != nil {
			return nil
		}
		if a.isDone(item.JobID) {
			continue
		}
		err := a.handle(ctx, item)
		if errors.Is(err, errRetired) {
			return err
		}
		if err != nil {
			a.log.Warn("work item failed", "job_id", item.JobID, "kind", item.Kind,
				"certificate_id", item.CertificateID, "error", err)
			failed = err
			continue
		}
		a.markDone(item.JobID)
	}
	if failed == nil {
		a.mu.Lock()
		a.etag = h.Get("ETag")
		a.mu.Unlock()
	}
	return failed
}

func (a *agent) isDone(job string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.done[job]
}

func (a *agent) markDone(job string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.done) >= maxDone {
		clear(a.done)
	}
	a.done[job] = true
}

// handle does one work item. An error means it should be tried again; a refusal by the
// server that retrying cannot change is logged and counts as done.
func (a *agent) handle(ctx context.Context, item agentapi.WorkItem) error {
	var err error
	switch item.Kind {
	case agentapi.KindCSR:
		err = a.submitCSR(ctx, item)
	case agentapi.KindDeploy:
		err = a.deploy(ctx, item)
	default:
		a.log.Warn("unknown work item kind; is the agent older than the server?",
			"kind", item.Kind, "job_id", item.JobID)
		return nil
	}
	var se *statusError
	if errors.As(err, &se) && se.permanent() {
		a.log.Error("the server refused the agent's answer to a job", "job_id", item.JobID,
			"kind", item.Kind, "error", err)
		return nil
	}
	return err
}

// submitCSR makes a key for the certificate on this host, keeps it, and sends its CSR.
func (a *agent) submitCSR(ctx context.Context, item agentapi.WorkItem) error {
	key, err := ca.GenerateKey(item.KeyType)
	if err != nil {
		return &statusError{status: 400, code: "key_type", message: err.Error()}
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: item.CommonName}}
	for _, n := range item.SANs {
		addName(tmpl, n)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return fmt.Errorf("make CSR: %w", err)
	}
	// The key is on disk before the server can issue for it.
	if err := a.state.saveKey(item.CertificateID, key); err != nil {
		return fmt.Errorf("store the new key: %w", err)
	}
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	_, _, err = a.c.call(ctx, "POST", pathFor(agentapi.PathCSR, a.id.AgentID, item.JobID),
		agentapi.CSR{CSRPEM: csr}, nil)
	if err == nil {
		a.log.Info("CSR submitted", "job_id", item.JobID, "certificate_id",
			item.CertificateID, "key_type", item.KeyType)
	}
	return err
}

// addName puts one alternative name into the CSR under its kind.
func addName(r *x509.CertificateRequest, n string) {
	if ip := net.ParseIP(n); ip != nil {
		r.IPAddresses = append(r.IPAddresses, ip)
		return
	}
	if strings.Contains(n, "@") && !strings.Contains(n, ":") {
		r.EmailAddresses = append(r.EmailAddresses, n)
		return
	}
	if u, err := url.Parse(n); err == nil && u.Scheme != "" && strings.Contains(n, ":") {
		r.URIs = append(r.URIs, u)
		return
	}
	r.DNSNames = append(r.DNSNames, n)
}

// deploy fetches what the job deploys, deploys it and reports the outcome.
func (a *agent) deploy(ctx context.Context, item agentapi.WorkItem) error {
	if item.Target == nil {
		return &statusError{status: 400, message: "deployment without a target"}
	}
	var m agentapi.Material
	_, _, err := a.c.call(ctx, "GET", pathFor(agentapi.PathMaterial, a.id.AgentID, item.JobID),
		nil, &m)
	if err != nil {
		return err
	}
	started := time.Now()
	report := a.run(ctx, item, m)
	if report.StartedAt.IsZero() {
		report.StartedAt = started
	}
	if report.FinishedAt.IsZero() {
		report.FinishedAt = time.Now()
	}
	level := a.log.Info
	if report.Result == agentapi.ResultFailed || report.Result == agentapi.ResultRolledBack {
		level = a.log.Warn
	}
	level("deployment finished", "job_id", item.JobID, "target", item.Target.Name,
		"result", report.Result, "error", report.Error, "serial", m.Serial)
	_, _, err = a.c.call(ctx, "POST", pathFor(agentapi.PathReport, a.id.AgentID, item.JobID),
		report, nil)
	return err
}

// run deploys m to the item's target with the right key.
func (a *agent) run(ctx context.Context, item agentapi.WorkItem,
	m agentapi.Material) agentapi.Report {
	fail := func(err error) agentapi.Report {
		now := time.Now()
		return agentapi.Report{Result: agentapi.ResultFailed, Error: err.Error(),
			StartedAt: now, FinishedAt: now}
	}
	block, _ := pem.Decode([]byte(m.CertPEM))
	if block == nil {
		return fail(errors.New("the server sent no certificate"))
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fail(fmt.Errorf("the server sent a certificate that does not parse: %w", err))
	}
	mat := Material{CertPEM: m.CertPEM, ChainPEM: m.ChainPEM}
	if m.KeyPEM != "" {
		kb, _ := pem.Decode([]byte(m.KeyPEM))
		if kb == nil {
			return fail(errors.New("the server sent a key that is not PEM"))
		}
		if mat.Key, err = ca.ParseKey(kb.Bytes); err != nil {
			return fail(fmt.Errorf("the server sent a key that does not parse: %w", err))
		}
	} else if mat.Key, err = a.state.keyFor(item.CertificateID, leaf.PublicKey); err != nil {
		return fail(err)
	}
	if a.deps.Deployer == nil {
		return fail(errors.New("this agent cannot deploy"))
	}
	return a.deps.Deployer(ctx, *item.Target, mat)
}
