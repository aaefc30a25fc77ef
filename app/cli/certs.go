package cli

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"certctl/app/api"
)

// certsCmd runs `certctl certs <verb>`, a client of the server's certificate API.
func certsCmd(env Env, args []string) error {
	verbs := map[string]func(Env, []string) error{
		"list": certsList, "get": certsGet, "create": certsCreate,
		"renew": certsRenew, "revoke": certsRevoke, "export": certsExport,
	}
	if len(args) == 0 {
		return &usageError{"usage: certctl certs list|get|create|renew|revoke|export [arguments]"}
	}
	verb, ok := verbs[args[0]]
	if !ok {
		return &usageError{fmt.Sprintf("unknown certs command %q; want list, get, create, "+
			"renew, revoke or export", args[0])}
	}
	return helped(verb(env, args[1:]))
}

// helped turns the help a subcommand printed into success.
func helped(err error) error {
	if errors.Is(err, errHelped) {
		return nil
	}
	return err
}

// certPath is the API path of certificate id, followed by sub.
func certPath(id, sub string) string {
	return "/api/v1/certificates/" + url.PathEscape(id) + sub
}

// pageFlags are the paging flags of list commands.
type pageFlags struct {
	perPage *int
	all     *bool
}

func (c *command) pageFlags() pageFlags {
	return pageFlags{perPage: c.fs.Int("per-page", 50, "items per request, 1 to 500"),
		all: c.fs.Bool("all", false, "follow the pages to the end and list everything")}
}

// query starts a list query with the page size, after checking it.
func (p pageFlags) query(c *command) (url.Values, error) {
	if *p.perPage < 1 || *p.perPage > 500 {
		return nil, c.usageErr(fmt.Sprintf("--per-page %d is not from 1 to 500", *p.perPage))
	}
	return url.Values{"per_page": {fmt.Sprint(*p.perPage)}}, nil
}

func certsList(env Env, args []string) error {
	c := newCommand("certs list", "[--status S] [--issuer ID] [--environment E] "+
		"[--expires-before RFC3339] [--per-page N] [--all] [--output table|json]")
	filter := map[string]*string{
		"status":      c.fs.String("status", "", "only this status, e.g. Active or Expiring"),
		"issuer_id":   c.fs.String("issuer", "", "only certificates from this issuer ID"),
		"environment": c.fs.String("environment", "", "only this environment"),
	}
	expires := c.fs.String("expires-before", "",
		"only certificates expiring before this RFC 3339 time")
	paging, out := c.pageFlags(), c.outputFlag()
	if err := c.parseNone(env, args); err != nil {
		return err
	}
	query, err := paging.query(c)
	if err != nil {
		return err
	}
	if err := setTime(c, query, "expires_before", *expires); err != nil {
		return err
	}
	setFilters(query, filter)
	return listAndPrint(env, "/api/v1/certificates", query, *paging.all, out, certTable)
}

// setTime adds the RFC 3339 time raw, when set, to query as name, in UTC.
func setTime(c *command, query url.Values, name, raw string) error {
	if raw == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return c.usageErr(fmt.Sprintf("--%s %q is not an RFC 3339 time such as "+
			"2030-01-02T15:04:05Z", strings.ReplaceAll(name, "_", "-"), raw))
	}
	query.Set(name, t.UTC().Format(time.RFC3339))
	return nil
}

// setFilters adds the filters that are set to query.
func setFilters(query url.Values, filter map[string]*string) {
	for name, v := range filter {
		if *v != "" {
			query.Set(name, *v)
		}
	}
}

// listAndPrint fetches a list and prints it as JSON or through table, with a note on
// standard error when more pages remain.
func listAndPrint(env Env, path string, query url.Values, all bool, out *choice,
	table func(io.Writer, []json.RawMessage) error) error {
	cl, err := newClient(env)
	if err != nil {
		return err
	}
	items, total, more, err := cl.list(context.Background(), path, query, all)
	if err != nil {
		return err
	}
	if out.isJSON() {
		return writeJSONList(env.Stdout, items)
	}
	if err := table(env.Stdout, items); err != nil {
		return err
	}
	if more {
		fmt.Fprintf(env.Stderr, "certctl: showing %d of %d; --all lists every one\n",
			len(items), total)
	}
	return nil
}

func certTable(w io.Writer, items []json.RawMessage) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tEXPIRES\tISSUER")
	for _, raw := range items {
		var c api.Certificate
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("read certificate: %w", err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, cell(c.Name, 60), c.Status,
			day(c.NotAfter), c.IssuerID)
	}
	return tw.Flush()
}

func certsGet(env Env, args []string) error {
	c := newCommand("certs get", "ID [--output table|json]")
	out := c.outputFlag()
	id, err := c.parseID(env, args)
	if err != nil {
		return err
	}
	cl, err := newClient(env)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := cl.get(context.Background(), certPath(id, ""), nil, &raw); err != nil {
		return err
	}
	return showCert(env.Stdout, raw, out)
}

// showCert prints a certificate answer as JSON or as "key: value" lines.
func showCert(w io.Writer, raw json.RawMessage, out *choice) error {
	if out.isJSON() {
		return writeJSON(w, raw)
	}
	var c api.Certificate
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("read certificate: %w", err)
	}
	tw := newTable(w)
	for _, line := range [][2]string{
		{"ID", c.ID}, {"Name", c.Name}, {"Common name", orDash(&c.CommonName)},
		{"SANs", cell(strings.Join(c.SANs, ", "), 1000)}, {"Status", c.Status},
		{"Expires", stamp(c.NotAfter)}, {"Issuer", c.IssuerID}, {"Profile", c.ProfileID},
		{"Renewal policy", c.RenewalPolicyID}, {"Key mode", c.KeyMode},
		{"Environment", orDash(&c.Environment)}, {"Owner", orDash(c.OwnerID)},
		{"Team", orDash(c.TeamID)}, {"Tags", cell(strings.Join(c.Tags, ", "), 1000)},
		{"Current version", orDash(c.CurrentVersionID)}, {"Created", stamp(&c.CreatedAt)},
		{"Updated", stamp(&c.UpdatedAt)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", line[0], line[1])
	}
	return tw.Flush()
}

func certsExport(env Env, args []string) error {
	c := newCommand("certs export", "ID [--out FILE]")
	file := c.fs.String("out", "", "write the PEM to this file (mode 0644) instead of "+
		"standard output")
	id, err := c.parseID(env, args)
	if err != nil {
		return err
	}
	cl, err := newClient(env)
	if err != nil {
		return err
	}
	body, err := cl.call(context.Background(), http.MethodGet, certPath(id, "/export/pem"),
		nil, nil)
	if err != nil {
		return err
	}
	n, err := certificatesOnly(body)
	if err != nil {
		return fmt.Errorf("export certificate %s: %w", id, err)
	}
	if *file == "" {
		_, err := env.Stdout.Write(body)
		return err
	}
	if err := replaceFile(*file, body, 0o644); err != nil {
		return fmt.Errorf("export certificate %s: %w", id, err)
	}
	fmt.Fprintf(env.Stdout, "wrote %d certificates to %s\n", n, *file)
	return nil
}

// certificatesOnly checks that pemBytes holds one or more CERTIFICATE blocks and nothing
// else, so that the client never writes a key, whatever the server sends.
func certificatesOnly(pemBytes []byte) (int, error) {
	n := 0
	for rest := pemBytes; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if len(strings.TrimSpace(string(rest))) > 0 || n == 0 {
				return 0, errors.New("the server's answer is not a PEM certificate chain")
			}
			return n, nil
		}
		if b.Type != "CERTIFICATE" {
			return 0, fmt.Errorf("the server's answer holds a %s block; refusing to write it",
				b.Type)
		}
		n++
	}
}

// replaceFile writes data to path through a temporary file in the same folder, so that a
// reader such as a web server never sees half a chain.
func replaceFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".certctl-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
