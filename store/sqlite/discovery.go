package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"certctl/store"
)

const discoveredColumns = `id, agent_id, location, format, fingerprint, subject,
	common_name, sans, issuer, serial, not_before, not_after, key_algorithm, key_bits, is_ca,
	key_found, cert_pem, status, certificate_id, first_seen_at, last_seen_at, updated_at`

func scanDiscovered(row interface{ Scan(...any) error }) (store.DiscoveredCertificate,
	error) {
	var d store.DiscoveredCertificate
	var sans, notBefore, notAfter, first, last, updated string
	var cert sql.NullString
	err := row.Scan(&d.ID, &d.AgentID, &d.Location, &d.Format, &d.Fingerprint, &d.Subject,
		&d.CommonName, &sans, &d.Issuer, &d.Serial, &notBefore, &notAfter, &d.KeyAlgorithm,
		&d.KeyBits, &d.IsCA, &d.KeyFound, &d.CertPEM, &d.Status, &cert, &first, &last,
		&updated)
	if err != nil {
		return store.DiscoveredCertificate{}, translate(err)
	}
	d.CertificateID = cert.String
	if d.SANs, err = parseList(sans); err != nil {
		return store.DiscoveredCertificate{}, err
	}
	for _, t := range []struct {
		dst *time.Time
		src string
	}{{&d.NotBefore, notBefore}, {&d.NotAfter, notAfter}, {&d.FirstSeenAt, first},
		{&d.LastSeenAt, last}, {&d.UpdatedAt, updated}} {
		if *t.dst, err = parseTime(t.src); err != nil {
			return store.DiscoveredCertificate{}, err
		}
	}
	return d, nil
}

func discoveredWhere(f store.DiscoveredFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if f.AgentID != "" {
		add(`agent_id = ?`, f.AgentID)
	}
	if f.Network {
		add(`agent_id = ?`, "")
	}
	if f.Status != "" {
		add(`status = ?`, f.Status)
	}
	if len(conds) == 0 {
		return ` WHERE 1 = 1`, nil
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// UpsertDiscovered implements store.DiscoveryQueries. The returned ID is d.ID only when the
// row was inserted, since a known row keeps its own.
func (q queries) UpsertDiscovered(ctx context.Context, d store.DiscoveredCertificate) (string,
	bool, error) {
	var id string
	err := q.w.QueryRowContext(ctx,
		`INSERT INTO discovered_certificates (`+discoveredColumns+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (fingerprint, agent_id, location) DO UPDATE SET
		     format = excluded.format, subject = excluded.subject,
		     common_name = excluded.common_name, sans = excluded.sans,
		     issuer = excluded.issuer, serial = excluded.serial,
		     not_before = excluded.not_before, not_after = excluded.not_after,
		     key_algorithm = excluded.key_algorithm, key_bits = excluded.key_bits,
		     is_ca = excluded.is_ca, key_found = excluded.key_found,
		     cert_pem = excluded.cert_pem, last_seen_at = excluded.last_seen_at,
		     updated_at = excluded.updated_at
		 RETURNING id`,
		d.ID, d.AgentID, d.Location, d.Format, d.Fingerprint, d.Subject, d.CommonName,
		fmtList(d.SANs), d.Issuer, d.Serial, fmtTime(d.NotBefore), fmtTime(d.NotAfter),
		d.KeyAlgorithm, d.KeyBits, d.IsCA, d.KeyFound, d.CertPEM, d.Status,
		nullString(d.CertificateID), fmtTime(d.FirstSeenAt), fmtTime(d.LastSeenAt),
		fmtTime(d.UpdatedAt)).Scan(&id)
	if err != nil {
		return "", false, fmt.Errorf("store discovered certificate: %w", translate(err))
	}
	return id, id == d.ID, nil
}

// ListDiscovered implements store.DiscoveryQueries.
func (q queries) ListDiscovered(ctx context.Context, f store.DiscoveredFilter,
	p store.Page) ([]store.DiscoveredCertificate, string, error) {
	where, args := discoveredWhere(f)
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		where += ` AND (last_seen_at, id) < (?, ?)`
		args = append(args, k[0], k[1])
	}
	args = append(args, p.Limit, p.Offset)
	rows, err := q.r.QueryContext(ctx, `SELECT `+discoveredColumns+
		` FROM discovered_certificates`+where+
		` ORDER BY last_seen_at DESC, id DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list discovered certificates: %w", translate(err))
	}
	defer rows.Close()
	var found []store.DiscoveredCertificate
	for rows.Next() {
		d, err := scanDiscovered(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list discovered certificates: %w", err)
		}
		found = append(found, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list discovered certificates: %w", translate(err))
	}
	next := ""
	if n := len(found); n > 0 && n == p.Limit {
		next = store.EncodeKey(fmtTime(found[n-1].LastSeenAt), found[n-1].ID)
	}
	return found, next, nil
}

// CountDiscovered implements store.DiscoveryQueries.
func (q queries) CountDiscovered(ctx context.Context, f store.DiscoveredFilter) (int, error) {
	where, args := discoveredWhere(f)
	var n int
	err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM discovered_certificates`+where,
		args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count discovered certificates: %w", translate(err))
	}
	return n, nil
}

// GetDiscovered implements store.DiscoveryQueries.
func (q queries) GetDiscovered(ctx context.Context, id string) (store.DiscoveredCertificate,
	error) {
	d, err := scanDiscovered(q.r.QueryRowContext(ctx,
		`SELECT `+discoveredColumns+` FROM discovered_certificates WHERE id = ?`, id))
	if err != nil {
		return store.DiscoveredCertificate{}, fmt.Errorf("get discovered certificate %s: %w",
			id, err)
	}
	return d, nil
}

// SetDiscoveredStatus implements store.DiscoveryQueries.
func (q queries) SetDiscoveredStatus(ctx context.Context, id, status, certificateID string,
	at time.Time) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE discovered_certificates SET status = ?, certificate_id = ?, updated_at = ?
		 WHERE id = ?`, status, nullString(certificateID), fmtTime(at), id)
	return affected("set status of discovered certificate "+id, res, err)
}

const scanColumns = `id, agent_id, targets, found_count, new_count, error_count, started_at,
	finished_at`

func scanScan(row interface{ Scan(...any) error }) (store.DiscoveryScan, error) {
	var s store.DiscoveryScan
	var targets, started, finished string
	err := row.Scan(&s.ID, &s.AgentID, &targets, &s.Found, &s.New, &s.Errors, &started,
		&finished)
	if err != nil {
		return store.DiscoveryScan{}, translate(err)
	}
	if s.Targets, err = parseList(targets); err != nil {
		return store.DiscoveryScan{}, err
	}
	if s.StartedAt, err = parseTime(started); err != nil {
		return store.DiscoveryScan{}, err
	}
	s.FinishedAt, err = parseTime(finished)
	return s, err
}

// CreateDiscoveryScan implements store.DiscoveryQueries.
func (q queries) CreateDiscoveryScan(ctx context.Context, s store.DiscoveryScan) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO discovery_scans (`+scanColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.AgentID, fmtList(s.Targets), s.Found, s.New, s.Errors, fmtTime(s.StartedAt),
		fmtTime(s.FinishedAt))
	if err != nil {
		return fmt.Errorf("create discovery scan: %w", translate(err))
	}
	return nil
}

// ListDiscoveryScans implements store.DiscoveryQueries.
func (q queries) ListDiscoveryScans(ctx context.Context, agentID string,
	limit int) ([]store.DiscoveryScan, error) {
	query := `SELECT ` + scanColumns + ` FROM discovery_scans`
	args := []any{limit}
	if agentID != "" {
		query += ` WHERE agent_id = ?`
		args = []any{agentID, limit}
	}
	rows, err := q.r.QueryContext(ctx, query+` ORDER BY started_at DESC, id DESC LIMIT ?`,
		args...)
	if err != nil {
		return nil, fmt.Errorf("list discovery scans: %w", translate(err))
	}
	defer rows.Close()
	var scans []store.DiscoveryScan
	for rows.Next() {
		s, err := scanScan(rows)
		if err != nil {
			return nil, fmt.Errorf("list discovery scans: %w", err)
		}
		scans = append(scans, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list discovery scans: %w", translate(err))
	}
	return scans, nil
}
