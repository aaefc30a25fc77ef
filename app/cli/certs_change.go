package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"certctl/app/api"
)

// How --wait follows a certificate: every pollEvery, for at most waitLimit.
const (
	pollEvery = 500 * time.Millisecond
	waitLimit = 2 * time.Minute
)

func certsCreate(env Env, args []string) error {
	c := newCommand("certs create", "--name N --issuer ID [--cn CN] [--san S]... "+
		"[--profile ID] [--policy ID] [--owner ID] [--team ID] [--environment E] [--tag T]... "+
		"[--key-mode agent|server] [--wait] [--output table|json]")
	in, keyMode := createFlags(c)
	wait := c.fs.Bool("wait", false, "wait until the certificate is issued or has failed")
	out := c.outputFlag()
	if err := c.parseNone(env, args); err != nil {
		return err
	}
	if in.Name == "" || in.IssuerID == "" {
		return c.usageErr("--name and --issuer are required")
	}
	in.KeyMode = keyMode.value
	cl, err := newClient(env)
	if err != nil {
		return err
	}

	ctx := context.Background()
	var created api.CertificateCreated
	if err := cl.post(ctx, "/api/v1/certificates", in, &created); err != nil {
		return err
	}
	if !*wait {
		return printCreated(env.Stdout, created, out)
	}
	final, err := cl.waitCert(ctx, created.ID, created.JobID)
	if final.ID != "" {
		created.Certificate = final
	}
	if perr := printCreated(env.Stdout, created, out); perr != nil {
		return perr
	}
	return err
}

// createFlags binds the certificate fields to c's flags.
func createFlags(c *command) (*api.CertificateInput, *choice) {
	in := &api.CertificateInput{}
	c.fs.StringVar(&in.Name, "name", "", "name of the certificate, unique (required)")
	c.fs.StringVar(&in.IssuerID, "issuer", "", "issuer ID, e.g. iss-local (required)")
	c.fs.StringVar(&in.CommonName, "cn", "", "subject common name")
	c.fs.Var((*stringList)(&in.SANs), "san", "subject alternative `name`: DNS name, IP "+
		"address, e-mail address or URI (repeatable)")
	c.fs.StringVar(&in.ProfileID, "profile", "", "profile ID (default: the server's)")
	c.fs.StringVar(&in.RenewalPolicyID, "policy", "", "renewal policy ID (default: the "+
		"server's)")
	c.fs.StringVar(&in.OwnerID, "owner", "", "owner ID")
	c.fs.StringVar(&in.TeamID, "team", "", "team ID")
	c.fs.StringVar(&in.Environment, "environment", "", "environment, e.g. production")
	c.fs.Var((*stringList)(&in.Tags), "tag", "a `tag` (repeatable)")
	keyMode := &choice{allowed: []string{"agent", "server"}}
	c.fs.Var(keyMode, "key-mode", "where the private key is made, `mode` agent or server "+
		"(default: the server's CERTCTL_KEYGEN_MODE)")
	return in, keyMode
}

func printCreated(w io.Writer, created api.CertificateCreated, out *choice) error {
	if out.isJSON() {
		raw, err := json.Marshal(created)
		if err != nil {
			return fmt.Errorf("format answer: %w", err)
		}
		return writeJSON(w, raw)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "ID:\t%s\nName:\t%s\nJob:\t%s\nStatus:\t%s\n", created.ID, created.Name,
		created.JobID, created.Status)
	return tw.Flush()
}

func certsRenew(env Env, args []string) error {
	c := newCommand("certs renew", "ID [--wait] [--output table|json]")
	wait := c.fs.Bool("wait", false, "wait until the renewal has finished or failed")
	out := c.outputFlag()
	id, err := c.parseID(env, args)
	if err != nil {
		return err
	}
	cl, err := newClient(env)
	if err != nil {
		return err
	}

	ctx := context.Background()
	var raw json.RawMessage
	if err := cl.post(ctx, certPath(id, "/renew"), nil, &raw); err != nil {
		return err
	}
	var job api.Job
	if err := json.Unmarshal(raw, &job); err != nil {
		return fmt.Errorf("read job: %w", err)
	}
	if !*wait {
		return printJob(env.Stdout, raw, job, out)
	}
	final, err := cl.waitCert(ctx, id, job.ID)
	if final.ID == "" {
		// The certificate could not be read again: at least say which job runs.
		if perr := printJob(env.Stdout, raw, job, out); perr != nil {
			return perr
		}
		return err
	}
	created := api.CertificateCreated{Certificate: final, JobID: job.ID}
	if perr := printCreated(env.Stdout, created, out); perr != nil {
		return perr
	}
	return err
}

func printJob(w io.Writer, raw json.RawMessage, j api.Job, out *choice) error {
	if out.isJSON() {
		return writeJSON(w, raw)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "ID:\t%s\nJob:\t%s (%s, %s)\n", j.CertificateID, j.ID, j.Type, j.Status)
	return tw.Flush()
}

func certsRevoke(env Env, args []string) error {
	c := newCommand("certs revoke", "ID --reason R [--all] [--output table|json]")
	var in api.RevokeInput
	c.fs.StringVar(&in.Reason, "reason", "", "RFC 5280 reason, e.g. keyCompromise, "+
		"superseded or cessationOfOperation (required)")
	c.fs.BoolVar(&in.All, "all", false, "revoke every issued version, not only the current one")
	out := c.outputFlag()
	id, err := c.parseID(env, args)
	if err != nil {
		return err
	}
	if in.Reason == "" {
		return c.usageErr("--reason is required")
	}
	cl, err := newClient(env)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := cl.post(context.Background(), certPath(id, "/revoke"), in, &raw); err != nil {
		return err
	}
	return showCert(env.Stdout, raw, out)
}

// inProgress reports whether a certificate in status s is still waiting for a job.
func inProgress(s string) bool {
	return s == "Pending" || s == "RenewalInProgress"
}

// waitCert polls certificate id until it leaves Pending and RenewalInProgress, or until
// waitLimit passes. It returns the last certificate seen, with an error when the wait timed
// out or the certificate ended Failed; both name job jobID and what it reported.
func (cl *client) waitCert(ctx context.Context, id, jobID string) (api.Certificate, error) {
	deadline := time.Now().Add(waitLimit)
	for {
		var cert api.Certificate
		if err := cl.get(ctx, certPath(id, ""), nil, &cert); err != nil {
			return api.Certificate{}, err
		}
		switch {
		case cert.Status == "Failed":
			return cert, cl.jobProblem(ctx, jobID, fmt.Sprintf("certificate %s failed", id))
		case !inProgress(cert.Status):
			return cert, nil
		case time.Now().After(deadline):
			return cert, cl.jobProblem(ctx, jobID, fmt.Sprintf(
				"certificate %s is still %s after %s", id, cert.Status, waitLimit))
		}
		select {
		case <-ctx.Done():
			return cert, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// jobProblem is an error saying what, followed by job jobID's status and last error.
func (cl *client) jobProblem(ctx context.Context, jobID, what string) error {
	var j api.Job
	path := "/api/v1/jobs/" + url.PathEscape(jobID)
	if jobID == "" || cl.get(ctx, path, nil, &j) != nil {
		return fmt.Errorf("%s", what)
	}
	if j.LastError == "" {
		return fmt.Errorf("%s: job %s is %s", what, j.ID, j.Status)
	}
	return fmt.Errorf("%s: job %s is %s: %s", what, j.ID, j.Status, j.LastError)
}
