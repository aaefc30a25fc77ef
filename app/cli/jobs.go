package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"certctl/app/api"
)

// lastErrorWidth is how much of a job's last error the table shows.
const lastErrorWidth = 60

// jobsCmd runs `certctl jobs <verb>`, a client of the server's job API.
func jobsCmd(env Env, args []string) error {
	if len(args) == 0 || args[0] != "list" {
		return &usageError{"usage: certctl jobs list [--status S] [--type T] " +
			"[--certificate ID] [--per-page N] [--all] [--output table|json]"}
	}
	return helped(jobsList(env, args[1:]))
}

func jobsList(env Env, args []string) error {
	c := newCommand("jobs list", "[--status S] [--type T] [--certificate ID] "+
		"[--per-page N] [--all] [--output table|json]")
	filter := map[string]*string{
		"status": c.fs.String("status", "", "only this status, e.g. Failed or "+
			"AwaitingApproval"),
		"type":           c.fs.String("type", "", "only this type: Issuance, Renewal or Deployment"),
		"certificate_id": c.fs.String("certificate", "", "only jobs of this certificate ID"),
	}
	paging, out := c.pageFlags(), c.outputFlag()
	if err := c.parseNone(env, args); err != nil {
		return err
	}
	query, err := paging.query(c)
	if err != nil {
		return err
	}
	setFilters(query, filter)
	return listAndPrint(env, "/api/v1/jobs", query, *paging.all, out, jobTable)
}

func jobTable(w io.Writer, items []json.RawMessage) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tCERTIFICATE\tATTEMPTS\tLAST ERROR")
	for _, raw := range items {
		var j api.Job
		if err := json.Unmarshal(raw, &j); err != nil {
			return fmt.Errorf("read job: %w", err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\n", j.ID, j.Type, j.Status,
			cell(j.CertificateID, 100), j.Attempts, j.MaxAttempts,
			cell(j.LastError, lastErrorWidth))
	}
	return tw.Flush()
}
