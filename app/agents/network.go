package agents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"certctl/app/agentapi"
	"certctl/app/audit"
	"certctl/app/valid"
	"certctl/store"
)

// NetworkScanner finds TLS certificates served at addresses (the netscan package does).
type NetworkScanner interface {
	// Check refuses hosts and ports that must never be scanned or are too many.
	Check(hosts []string, ports []int) error
	// Scan handshakes with every host and port and returns the served leaves.
	Scan(ctx context.Context, hosts []string, ports []int) ([]agentapi.Discovered,
		[]agentapi.ScanProblem)
}

// ScanTargetInput is what an admin sets on a network scan target.
type ScanTargetInput struct {
	Name    string
	Hosts   []string
	Ports   []int
	Enabled bool
}

// SaveScanTarget creates a network scan target, or replaces target id when id is not "".
func (s *Service) SaveScanTarget(ctx context.Context, id string, in ScanTargetInput) (
	store.NetworkScanTarget, error) {
	e := valid.Errors{}
	t := store.NetworkScanTarget{Name: e.Text("name", in.Name, 1, 100), Ports: in.Ports,
		Enabled: in.Enabled}
	for _, h := range in.Hosts {
		if h = strings.TrimSpace(h); h != "" {
			t.Hosts = append(t.Hosts, h)
		}
	}
	if len(t.Hosts) == 0 {
		e.Add("hosts", "name at least one host, address or CIDR")
	}
	if len(t.Ports) == 0 {
		t.Ports = []int{443}
	}
	if s.scanner == nil {
		e.Add("hosts", "network discovery is not available on this server")
	} else if len(t.Hosts) > 0 {
		if err := s.scanner.Check(t.Hosts, t.Ports); err != nil {
			e.Add("hosts", err.Error())
		}
	}
	if err := e.Err(); err != nil {
		return t, err
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		now := store.UTC(s.now())
		action := "network_scan_target.update"
		if id == "" {
			t.ID, t.CreatedAt, t.UpdatedAt = store.NewID("nst"), now, now
			action = "network_scan_target.create"
			if err := q.CreateNetworkScanTarget(ctx, t); err != nil {
				return scanNameTaken(err, t.Name)
			}
		} else {
			old, err := q.GetNetworkScanTarget(ctx, id)
			if err != nil {
				return err
			}
			t.ID, t.CreatedAt, t.UpdatedAt = id, old.CreatedAt, now
			t.LastScanAt, t.LastError = old.LastScanAt, old.LastError
			if err := q.UpdateNetworkScanTarget(ctx, t); err != nil {
				return scanNameTaken(err, t.Name)
			}
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, action, "network_scan_target", t.ID,
			map[string]any{"name": t.Name, "hosts": t.Hosts, "ports": t.Ports,
				"enabled": t.Enabled}))
	})
	if err != nil {
		return store.NetworkScanTarget{}, fmt.Errorf("save network scan target: %w", err)
	}
	return t, nil
}

func scanNameTaken(err error, name string) error {
	if errors.Is(err, store.ErrConflict) {
		return &valid.Conflict{Message: fmt.Sprintf("a scan target named %q exists", name),
			Fields: map[string]string{"name": "is already taken"}}
	}
	return err
}

// ScanTargets lists the network scan targets.
func (s *Service) ScanTargets(ctx context.Context) ([]store.NetworkScanTarget, error) {
	return s.st.ListNetworkScanTargets(ctx)
}

// ScanTarget returns network scan target id.
func (s *Service) ScanTarget(ctx context.Context, id string) (store.NetworkScanTarget, error) {
	return s.st.GetNetworkScanTarget(ctx, id)
}

// DeleteScanTarget removes network scan target id; what it found stays.
func (s *Service) DeleteScanTarget(ctx context.Context, id string) error {
	return s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.DeleteNetworkScanTarget(ctx, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, s.now(), "network_scan_target.delete",
			"network_scan_target", id, nil))
	})
}

// ScanNetwork scans every enabled network scan target, or only target id when id is not
// "", and stores what it finds. It returns how many certificates it found.
func (s *Service) ScanNetwork(ctx context.Context, id string) (int, error) {
	if s.scanner == nil {
		return 0, errors.New("network discovery is not available on this server")
	}
	targets, err := s.st.ListNetworkScanTargets(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, t := range targets {
		if (id == "" && !t.Enabled) || (id != "" && t.ID != id) {
			continue
		}
		n, err := s.scanOne(ctx, t)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (s *Service) scanOne(ctx context.Context, t store.NetworkScanTarget) (int, error) {
	started := time.Now()
	// Check again: a target stored under older, looser limits is not scanned.
	scanErr := ""
	var found []agentapi.Discovered
	var problems []agentapi.ScanProblem
	if err := s.scanner.Check(t.Hosts, t.Ports); err != nil {
		scanErr = err.Error()
	} else {
		found, problems = s.scanner.Scan(ctx, t.Hosts, t.Ports)
		if len(problems) > 0 {
			scanErr = fmt.Sprintf("%d of the addresses could not be read; first: %s: %s",
				len(problems), problems[0].Location, problems[0].Error)
		}
	}
	n, _, err := s.storeDiscovered(ctx, "", t.Hosts, found, len(problems), started,
		time.Now())
	if err != nil {
		return 0, err
	}
	s.log.Info("network scan finished", "target_id", t.ID, "found", n,
		"problems", len(problems))
	return n, s.st.RecordNetworkScan(ctx, t.ID, store.UTC(s.now()), scanErr)
}
