package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const certificateColumns = `id, name, common_name, sans, environment, owner_id, team_id,
	tags, issuer_id, profile_id, renewal_policy_id, key_mode, status, current_version_id,
	not_after, created_at, updated_at`

// certificateSelect is what reads return: the stored columns and the renewal time.
const certificateSelect = certificateColumns + `, renew_at`

func scanCertificate(row pgx.Row) (store.Certificate, error) {
	var c store.Certificate
	var sans, tags []byte
	var owner, team, issuer, profile, policy, current *string
	var notAfter, renewAt *time.Time
	err := row.Scan(&c.ID, &c.Name, &c.CommonName, &sans, &c.Environment, &owner, &team,
		&tags, &issuer, &profile, &policy, &c.KeyMode, &c.Status, &current, &notAfter,
		&c.CreatedAt, &c.UpdatedAt, &renewAt)
	if err != nil {
		return store.Certificate{}, translate(err)
	}
	if c.SANs, err = fromJSONList(sans); err != nil {
		return store.Certificate{}, fmt.Errorf("SANs: %w", err)
	}
	if c.Tags, err = fromJSONList(tags); err != nil {
		return store.Certificate{}, fmt.Errorf("tags: %w", err)
	}
	c.OwnerID, c.TeamID = fromNullString(owner), fromNullString(team)
	c.IssuerID, c.ProfileID = fromNullString(issuer), fromNullString(profile)
	c.RenewalPolicyID, c.CurrentVersionID = fromNullString(policy), fromNullString(current)
	c.NotAfter, c.RenewAt = fromNullTime(notAfter), fromNullTime(renewAt)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// certificateWhere builds the filter; its placeholders continue after args.
func certificateWhere(f store.CertificateFilter, args []any) (string, []any) {
	var conds []string
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Status != "" {
		add(`status = $%d`, f.Status)
	}
	if f.IssuerID != "" {
		add(`issuer_id = $%d`, f.IssuerID)
	}
	if f.OwnerID != "" {
		add(`owner_id = $%d`, f.OwnerID)
	}
	if f.TeamID != "" {
		add(`team_id = $%d`, f.TeamID)
	}
	if f.ProfileID != "" {
		add(`profile_id = $%d`, f.ProfileID)
	}
	if f.Search != "" {
		add(`search LIKE $%d ESCAPE '\'`, "%"+likeEscape(strings.ToLower(f.Search))+"%")
	}
	if f.Environment != "" {
		add(`environment = $%d`, f.Environment)
	}
	if !f.ExpiresAfter.IsZero() {
		add(`not_after >= $%d`, f.ExpiresAfter.UTC())
	}
	if !f.ExpiresBefore.IsZero() {
		// As the end sorts, so that the index of ends by status serves it; the same as
		// not_after < $n for every certificate, issued or not.
		add(expiry+` < $%d`, f.ExpiresBefore.UTC())
	}
	if len(conds) == 0 {
		return ` WHERE TRUE`, args
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// ListCertificates implements store.CertificateQueries.
func (q queries) ListCertificates(ctx context.Context, f store.CertificateFilter,
	p store.Page) ([]store.Certificate, string, error) {
	o, ok := certificateOrders[f.Sort]
	if !ok {
		return nil, "", fmt.Errorf("list certificates: unknown sort %q", f.Sort)
	}
	where, args := certificateWhere(f, []any{p.Limit, p.Offset})
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		pos, err := o.parse(k[0])
		if err != nil {
			return nil, "", err
		}
		args = append(args, pos, k[1])
		where += fmt.Sprintf(` AND (%s, id) %s (%s, $%d)`, o.expr, o.after,
			fmt.Sprintf(o.param, len(args)-1), len(args))
	}
	rows, err := q.db.Query(ctx, `SELECT `+certificateSelect+` FROM certificates`+where+
		` ORDER BY `+o.expr+` `+o.dir+`, id `+o.dir+` LIMIT $1 OFFSET $2`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list certificates: %w", translate(err))
	}
	certs, err := pgx.CollectRows(rows,
		func(r pgx.CollectableRow) (store.Certificate, error) {
			return scanCertificate(r)
		})
	if err != nil {
		return nil, "", fmt.Errorf("list certificates: %w", translate(err))
	}
	next := ""
	if n := len(certs); n > 0 && n == p.Limit {
		next = store.EncodeKey(o.key(certs[n-1]), certs[n-1].ID)
	}
	return certs, next, nil
}

// certificateOrder is one way to sort certificates: the expression, the direction, the
// comparison that selects rows after a keyset position, the placeholder form of a
// position, and how a row gives and a key reads back its position.
type certificateOrder struct {
	expr, dir, after, param string
	key                     func(store.Certificate) string
	parse                   func(string) (any, error)
}

// expiry sorts certificates not issued yet last.
const expiry = `coalesce(not_after, 'infinity'::timestamptz)`

var (
	byName = certificateOrder{`lower(name)`, "ASC", ">", "lower($%d)", certName, asText}
	byEnd  = certificateOrder{expiry, "ASC", ">", "$%d::timestamptz", certExpiry, asTime}
)

var certificateOrders = map[string]certificateOrder{
	"": byName, "name": byName, "not_after": byEnd,
	"-name":      {byName.expr, "DESC", "<", byName.param, certName, asText},
	"-not_after": {byEnd.expr, "DESC", "<", byEnd.param, certExpiry, asTime},
}

func certName(c store.Certificate) string { return c.Name }

func certExpiry(c store.Certificate) string {
	if c.NotAfter.IsZero() {
		return "infinity"
	}
	return c.NotAfter.UTC().Format(keyTimeFormat)
}

func asText(s string) (any, error) { return s, nil }

func asTime(s string) (any, error) {
	if s == "infinity" {
		return s, nil
	}
	if _, err := parseKeyTime(s); err != nil {
		return nil, err
	}
	return s, nil
}

// CountCertificates implements store.CertificateQueries.
func (q queries) CountCertificates(ctx context.Context, f store.CertificateFilter) (int,
	error) {
	where, args := certificateWhere(f, nil)
	var n int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM certificates`+where, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count certificates: %w", translate(err))
	}
	return n, nil
}

// GetCertificate implements store.CertificateQueries.
func (q queries) GetCertificate(ctx context.Context, id string) (store.Certificate, error) {
	c, err := scanCertificate(q.db.QueryRow(ctx,
		`SELECT `+certificateSelect+` FROM certificates WHERE id = $1`, id))
	if err != nil {
		return store.Certificate{}, fmt.Errorf("get certificate %s: %w", id, err)
	}
	return c, nil
}

// CreateCertificate implements store.CertificateQueries.
func (q queries) CreateCertificate(ctx context.Context, c store.Certificate) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO certificates (`+certificateColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		c.ID, c.Name, c.CommonName, jsonList(c.SANs), c.Environment, nullString(c.OwnerID),
		nullString(c.TeamID), jsonList(c.Tags), nullString(c.IssuerID),
		nullString(c.ProfileID), nullString(c.RenewalPolicyID), c.KeyMode, c.Status,
		nullString(c.CurrentVersionID), nullTime(c.NotAfter), c.CreatedAt.UTC(),
		c.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("create certificate: %w", translate(err))
	}
	return nil
}

// UpdateCertificate implements store.CertificateQueries. The current version and its end
// are left alone: AddVersion sets them, and a caller holding an older copy of c must not
// undo an issuance that happened since it read c.
func (q queries) UpdateCertificate(ctx context.Context, c store.Certificate) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE certificates SET name = $1, common_name = $2, sans = $3, environment = $4,
		 owner_id = $5, team_id = $6, tags = $7, issuer_id = $8, profile_id = $9,
		 renewal_policy_id = $10, key_mode = $11, status = $12, updated_at = $13
		 WHERE id = $14`,
		c.Name, c.CommonName, jsonList(c.SANs), c.Environment, nullString(c.OwnerID),
		nullString(c.TeamID), jsonList(c.Tags), nullString(c.IssuerID),
		nullString(c.ProfileID), nullString(c.RenewalPolicyID), c.KeyMode, c.Status,
		c.UpdatedAt.UTC(), c.ID)
	return affected("update certificate "+c.ID, tag, err)
}

// SetCertificateStatus implements store.CertificateQueries.
func (q queries) SetCertificateStatus(ctx context.Context, id, status string,
	at time.Time) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE certificates SET status = $1, updated_at = $2 WHERE id = $3`,
		status, at.UTC(), id)
	return affected("set status of certificate "+id, tag, err)
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
