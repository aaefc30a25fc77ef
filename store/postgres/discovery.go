package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const discoveredColumns = `id, agent_id, location, format, fingerprint, subject,
	common_name, sans, issuer, serial, not_before, not_after, key_algorithm, key_bits, is_ca,
	key_found, cert_pem, status, certificate_id, first_seen_at, last_seen_at, updated_at`

func scanDiscovered(row pgx.Row) (store.DiscoveredCertificate, error) {
	var d store.DiscoveredCertificate
	var sans []byte
	var cert *string
	err := row.Scan(&d.ID, &d.AgentID, &d.Location, &d.Format, &d.Fingerprint, &d.Subject,
		&d.CommonName, &sans, &d.Issuer, &d.Serial, &d.NotBefore, &d.NotAfter, &d.KeyAlgorithm,
		&d.KeyBits, &d.IsCA, &d.KeyFound, &d.CertPEM, &d.Status, &cert, &d.FirstSeenAt,
		&d.LastSeenAt, &d.UpdatedAt)
	if err != nil {
		return store.DiscoveredCertificate{}, translate(err)
	}
	if d.SANs, err = fromJSONList(sans); err != nil {
		return store.DiscoveredCertificate{}, fmt.Errorf("SANs: %w", err)
	}
	d.CertificateID = fromNullString(cert)
	d.NotBefore, d.NotAfter = d.NotBefore.UTC(), d.NotAfter.UTC()
	d.FirstSeenAt, d.LastSeenAt = d.FirstSeenAt.UTC(), d.LastSeenAt.UTC()
	d.UpdatedAt = d.UpdatedAt.UTC()
	return d, nil
}

// discoveredWhere builds the filter; its placeholders continue after args.
func discoveredWhere(f store.DiscoveredFilter, args []any) (string, []any) {
	var conds []string
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.AgentID != "" {
		add(`agent_id = $%d`, f.AgentID)
	}
	if f.Network {
		add(`agent_id = $%d`, "")
	}
	if f.Status != "" {
		add(`status = $%d`, f.Status)
	}
	if len(conds) == 0 {
		return ` WHERE TRUE`, args
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// UpsertDiscovered implements store.DiscoveryQueries. The returned ID is d.ID only when the
// row was inserted, since a known row keeps its own.
func (q queries) UpsertDiscovered(ctx context.Context, d store.DiscoveredCertificate) (string,
	bool, error) {
	var id string
	err := q.db.QueryRow(ctx,
		`INSERT INTO discovered_certificates (`+discoveredColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
		     $18, $19, $20, $21, $22)
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
		jsonList(d.SANs), d.Issuer, d.Serial, d.NotBefore.UTC(), d.NotAfter.UTC(),
		d.KeyAlgorithm, d.KeyBits, d.IsCA, d.KeyFound, d.CertPEM, d.Status,
		nullString(d.CertificateID), d.FirstSeenAt.UTC(), d.LastSeenAt.UTC(),
		d.UpdatedAt.UTC()).Scan(&id)
	if err != nil {
		return "", false, fmt.Errorf("store discovered certificate: %w", translate(err))
	}
	return id, id == d.ID, nil
}

// ListDiscovered implements store.DiscoveryQueries.
func (q queries) ListDiscovered(ctx context.Context, f store.DiscoveredFilter,
	p store.Page) ([]store.DiscoveredCertificate, string, error) {
	where, args := discoveredWhere(f, []any{p.Limit, p.Offset})
	where, args, err := olderThan(p.After, "last_seen_at", where, args)
	if err != nil {
		return nil, "", err
	}
	rows, err := q.db.Query(ctx, `SELECT `+discoveredColumns+` FROM discovered_certificates`+
		where+` ORDER BY last_seen_at DESC, id DESC LIMIT $1 OFFSET $2`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list discovered certificates: %w", translate(err))
	}
	found, err := pgx.CollectRows(rows,
		func(r pgx.CollectableRow) (store.DiscoveredCertificate, error) {
			return scanDiscovered(r)
		})
	if err != nil {
		return nil, "", fmt.Errorf("list discovered certificates: %w", translate(err))
	}
	next := ""
	if n := len(found); n > 0 && n == p.Limit {
		next = store.EncodeKey(found[n-1].LastSeenAt.Format(keyTimeFormat), found[n-1].ID)
	}
	return found, next, nil
}

// CountDiscovered implements store.DiscoveryQueries.
func (q queries) CountDiscovered(ctx context.Context, f store.DiscoveredFilter) (int, error) {
	where, args := discoveredWhere(f, nil)
	var n int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM discovered_certificates`+where, args...).
		Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count discovered certificates: %w", translate(err))
	}
	return n, nil
}

// GetDiscovered implements store.DiscoveryQueries.
func (q queries) GetDiscovered(ctx context.Context, id string) (store.DiscoveredCertificate,
	error) {
	d, err := scanDiscovered(q.db.QueryRow(ctx,
		`SELECT `+discoveredColumns+` FROM discovered_certificates WHERE id = $1`, id))
	if err != nil {
		return store.DiscoveredCertificate{}, fmt.Errorf("get discovered certificate %s: %w",
			id, err)
	}
	return d, nil
}

// SetDiscoveredStatus implements store.DiscoveryQueries.
func (q queries) SetDiscoveredStatus(ctx context.Context, id, status, certificateID string,
	at time.Time) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE discovered_certificates SET status = $1, certificate_id = $2, updated_at = $3
		 WHERE id = $4`, status, nullString(certificateID), at.UTC(), id)
	return affected("set status of discovered certificate "+id, tag, err)
}

const scanColumns = `id, agent_id, targets, found_count, new_count, error_count, started_at,
	finished_at`

func scanScan(row pgx.Row) (store.DiscoveryScan, error) {
	var s store.DiscoveryScan
	var targets []byte
	err := row.Scan(&s.ID, &s.AgentID, &targets, &s.Found, &s.New, &s.Errors, &s.StartedAt,
		&s.FinishedAt)
	if err != nil {
		return store.DiscoveryScan{}, translate(err)
	}
	if s.Targets, err = fromJSONList(targets); err != nil {
		return store.DiscoveryScan{}, fmt.Errorf("scan targets: %w", err)
	}
	s.StartedAt, s.FinishedAt = s.StartedAt.UTC(), s.FinishedAt.UTC()
	return s, nil
}

// CreateDiscoveryScan implements store.DiscoveryQueries.
func (q queries) CreateDiscoveryScan(ctx context.Context, s store.DiscoveryScan) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO discovery_scans (`+scanColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		s.ID, s.AgentID, jsonList(s.Targets), s.Found, s.New, s.Errors, s.StartedAt.UTC(),
		s.FinishedAt.UTC())
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
		query += ` WHERE agent_id = $2`
		args = append(args, agentID)
	}
	rows, err := q.db.Query(ctx, query+` ORDER BY started_at DESC, id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, fmt.Errorf("list discovery scans: %w", translate(err))
	}
	scans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.DiscoveryScan,
		error) {
		return scanScan(r)
	})
	if err != nil {
		return nil, fmt.Errorf("list discovery scans: %w", translate(err))
	}
	return scans, nil
}
