package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"certctl/store"
)

const certificateColumns = `id, name, common_name, sans, environment, owner_id, team_id,
	tags, issuer_id, profile_id, renewal_policy_id, key_mode, status, current_version_id,
	not_after, created_at, updated_at`

// certificateSelect is what reads return: the stored columns and the renewal time.
const certificateSelect = certificateColumns + `, renew_at`

func scanCertificate(row interface{ Scan(...any) error }) (store.Certificate, error) {
	var c store.Certificate
	var sans, tags, created, updated string
	var owner, team, issuer, profile, policy, current, notAfter, renewAt sql.NullString
	err := row.Scan(&c.ID, &c.Name, &c.CommonName, &sans, &c.Environment, &owner, &team,
		&tags, &issuer, &profile, &policy, &c.KeyMode, &c.Status, &current, &notAfter,
		&created, &updated, &renewAt)
	if err != nil {
		return store.Certificate{}, translate(err)
	}
	c.OwnerID, c.TeamID, c.IssuerID = owner.String, team.String, issuer.String
	c.ProfileID, c.RenewalPolicyID = profile.String, policy.String
	c.CurrentVersionID = current.String
	if c.SANs, err = parseList(sans); err != nil {
		return store.Certificate{}, err
	}
	if c.Tags, err = parseList(tags); err != nil {
		return store.Certificate{}, err
	}
	if c.NotAfter, err = parseNullTime(notAfter); err != nil {
		return store.Certificate{}, err
	}
	if c.RenewAt, err = parseNullTime(renewAt); err != nil {
		return store.Certificate{}, err
	}
	if c.CreatedAt, err = parseTime(created); err != nil {
		return store.Certificate{}, err
	}
	c.UpdatedAt, err = parseTime(updated)
	return c, err
}

func certificateWhere(f store.CertificateFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if f.Status != "" {
		add(`status = ?`, f.Status)
	}
	if f.IssuerID != "" {
		add(`issuer_id = ?`, f.IssuerID)
	}
	if f.OwnerID != "" {
		add(`owner_id = ?`, f.OwnerID)
	}
	if f.TeamID != "" {
		add(`team_id = ?`, f.TeamID)
	}
	if f.ProfileID != "" {
		add(`profile_id = ?`, f.ProfileID)
	}
	if f.Search != "" {
		cond, arg := searchCond(f.Search)
		add(cond, arg)
	}
	if f.Environment != "" {
		add(`environment = ?`, f.Environment)
	}
	if !f.ExpiresAfter.IsZero() {
		add(`not_after >= ?`, fmtTime(f.ExpiresAfter))
	}
	if !f.ExpiresBefore.IsZero() {
		// As the end sorts, so that the index of ends by status serves it; the same as
		// not_after < ? for every certificate, issued or not.
		add(`coalesce(not_after, '`+neverExpires+`') < ?`, fmtTime(f.ExpiresBefore))
	}
	if len(conds) == 0 {
		return ` WHERE 1 = 1`, nil
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
	where, args := certificateWhere(f)
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		where += ` AND (` + o.expr + `, id) ` + o.after + ` (` + o.param + `, ?)`
		args = append(args, k[0], k[1])
	}
	args = append(args, p.Limit, p.Offset)
	rows, err := q.r.QueryContext(ctx, `SELECT `+certificateSelect+` FROM certificates`+
		where+` ORDER BY `+o.expr+` `+o.dir+`, id `+o.dir+` LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list certificates: %w", translate(err))
	}
	defer rows.Close()
	var certs []store.Certificate
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list certificates: %w", err)
		}
		certs = append(certs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list certificates: %w", translate(err))
	}
	next := ""
	if n := len(certs); n > 0 && n == p.Limit {
		next = store.EncodeKey(o.key(certs[n-1]), certs[n-1].ID)
	}
	return certs, next, nil
}

// neverExpires stands in for the end of a certificate not issued yet, so it sorts last.
const neverExpires = "9999-12-31 23:59:59.999999"

// certificateOrder is one way to sort certificates: the expression, the direction, the
// comparison that selects rows after a keyset position, and how a row gives its position.
type certificateOrder struct {
	expr, dir, after, param string
	key                     func(store.Certificate) string
}

var certificateOrders = map[string]certificateOrder{
	"":      {`lower(name)`, "ASC", ">", "lower(?)", certName},
	"name":  {`lower(name)`, "ASC", ">", "lower(?)", certName},
	"-name": {`lower(name)`, "DESC", "<", "lower(?)", certName},
	"not_after": {`coalesce(not_after, '` + neverExpires + `')`, "ASC", ">", "?",
		certExpiry},
	"-not_after": {`coalesce(not_after, '` + neverExpires + `')`, "DESC", "<", "?",
		certExpiry},
}

func certName(c store.Certificate) string { return c.Name }

func certExpiry(c store.Certificate) string {
	if c.NotAfter.IsZero() {
		return neverExpires
	}
	return fmtTime(c.NotAfter)
}

// CountCertificates implements store.CertificateQueries.
func (q queries) CountCertificates(ctx context.Context, f store.CertificateFilter) (int,
	error) {
	where, args := certificateWhere(f)
	var n int
	err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM certificates`+where, args...).
		Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count certificates: %w", translate(err))
	}
	return n, nil
}

// GetCertificate implements store.CertificateQueries.
func (q queries) GetCertificate(ctx context.Context, id string) (store.Certificate, error) {
	c, err := scanCertificate(q.r.QueryRowContext(ctx,
		`SELECT `+certificateSelect+` FROM certificates WHERE id = ?`, id))
	if err != nil {
		return store.Certificate{}, fmt.Errorf("get certificate %s: %w", id, err)
	}
	return c, nil
}

// CreateCertificate implements store.CertificateQueries.
func (q queries) CreateCertificate(ctx context.Context, c store.Certificate) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO certificates (`+certificateColumns+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.CommonName, fmtList(c.SANs), c.Environment, nullString(c.OwnerID),
		nullString(c.TeamID), fmtList(c.Tags), nullString(c.IssuerID),
		nullString(c.ProfileID), nullString(c.RenewalPolicyID), c.KeyMode, c.Status,
		nullString(c.CurrentVersionID), fmtNullTime(c.NotAfter), fmtTime(c.CreatedAt),
		fmtTime(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create certificate: %w", translate(err))
	}
	return nil
}

// UpdateCertificate implements store.CertificateQueries.
func (q queries) UpdateCertificate(ctx context.Context, c store.Certificate) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE certificates SET name = ?, common_name = ?, sans = ?, environment = ?,
		 owner_id = ?, team_id = ?, tags = ?, issuer_id = ?, profile_id = ?,
		 renewal_policy_id = ?, key_mode = ?, status = ?, updated_at = ?
		 WHERE id = ?`,
		c.Name, c.CommonName, fmtList(c.SANs), c.Environment, nullString(c.OwnerID),
		nullString(c.TeamID), fmtList(c.Tags), nullString(c.IssuerID),
		nullString(c.ProfileID), nullString(c.RenewalPolicyID), c.KeyMode, c.Status,
		fmtTime(c.UpdatedAt), c.ID)
	return affected("update certificate "+c.ID, res, err)
}

// SetCertificateStatus implements store.CertificateQueries.
func (q queries) SetCertificateStatus(ctx context.Context, id, status string,
	at time.Time) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE certificates SET status = ?, updated_at = ? WHERE id = ?`,
		status, fmtTime(at), id)
	return affected("set status of certificate "+id, res, err)
}

// searchCond matches certificates containing q through the trigram index; the index needs
// three characters, so shorter searches scan.
func searchCond(q string) (string, any) {
	if utf8.RuneCountInString(q) >= 3 {
		return `id IN (SELECT id FROM certificates_search WHERE certificates_search MATCH ?)`,
			`"` + strings.ReplaceAll(q, `"`, `""`) + `"`
	}
	return `lower(name || ' ' || common_name || ' ' || sans) LIKE ? ESCAPE '\'`,
		"%" + likeEscape(strings.ToLower(q)) + "%"
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
