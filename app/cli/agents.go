package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"certctl/app/api"
)

// agentsCmd runs `certctl agents <verb>`, a client of the server's agent API.
func agentsCmd(env Env, args []string) error {
	if len(args) == 0 || args[0] != "list" {
		return &usageError{"usage: certctl agents list [--status S] [--per-page N] [--all] " +
			"[--output table|json]"}
	}
	return helped(agentsList(env, args[1:]))
}

func agentsList(env Env, args []string) error {
	c := newCommand("agents list", "[--status S] [--per-page N] [--all] [--output table|json]")
	filter := map[string]*string{
		"status": c.fs.String("status", "", "only this status: Online, Offline or Retired "+
			"(default: all but Retired)"),
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
	return listAndPrint(env, "/api/v1/agents", query, *paging.all, out, agentTable)
}

func agentTable(w io.Writer, items []json.RawMessage) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tHOSTNAME\tVERSION\tLAST HEARTBEAT")
	for _, raw := range items {
		var a api.Agent
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("read agent: %w", err)
		}
		seen := "never"
		if a.LastHeartbeatAt != nil {
			seen = a.LastHeartbeatAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, cell(a.Name, 40), a.Status,
			cell(a.Hostname, 40), cell(a.Version, 20), seen)
	}
	return tw.Flush()
}
