package sqlite

import (
	"context"
	"fmt"

	"certctl/store"
)

const issuerColumns = `id, name, type, config, created_at, updated_at`

func scanIssuer(row interface{ Scan(...any) error }) (store.Issuer, error) {
	var i store.Issuer
	var config, created, updated string
	if err := row.Scan(&i.ID, &i.Name, &i.Type, &config, &created, &updated); err != nil {
		return store.Issuer{}, translate(err)
	}
	i.Config = []byte(config)
	var err error
	if i.CreatedAt, err = parseTime(created); err != nil {
		return store.Issuer{}, err
	}
	i.UpdatedAt, err = parseTime(updated)
	return i, err
}

// jsonObject is the stored form of a configuration (an issuer's, a target's): a JSON
// object, never empty.
func jsonObject(config []byte) string {
	if len(config) == 0 {
		return "{}"
	}
	return string(config)
}

// ListIssuers implements store.IssuerQueries.
func (q queries) ListIssuers(ctx context.Context) ([]store.Issuer, error) {
	rows, err := q.r.QueryContext(ctx,
		`SELECT `+issuerColumns+` FROM issuers ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("list issuers: %w", translate(err))
	}
	defer rows.Close()
	var issuers []store.Issuer
	for rows.Next() {
		i, err := scanIssuer(rows)
		if err != nil {
			return nil, fmt.Errorf("list issuers: %w", err)
		}
		issuers = append(issuers, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list issuers: %w", translate(err))
	}
	return issuers, nil
}

// GetIssuer implements store.IssuerQueries.
func (q queries) GetIssuer(ctx context.Context, id string) (store.Issuer, error) {
	i, err := scanIssuer(q.r.QueryRowContext(ctx,
		`SELECT `+issuerColumns+` FROM issuers WHERE id = ?`, id))
	if err != nil {
		return store.Issuer{}, fmt.Errorf("get issuer %s: %w", id, err)
	}
	return i, nil
}

// CreateIssuer implements store.IssuerQueries.
func (q queries) CreateIssuer(ctx context.Context, i store.Issuer) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO issuers (`+issuerColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		i.ID, i.Name, i.Type, jsonObject(i.Config), fmtTime(i.CreatedAt),
		fmtTime(i.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create issuer: %w", translate(err))
	}
	return nil
}

// UpdateIssuer implements store.IssuerQueries.
func (q queries) UpdateIssuer(ctx context.Context, i store.Issuer) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE issuers SET name = ?, type = ?, config = ?, updated_at = ? WHERE id = ?`,
		i.Name, i.Type, jsonObject(i.Config), fmtTime(i.UpdatedAt), i.ID)
	return affected("update issuer "+i.ID, res, err)
}

const caCertColumns = `id, issuer_id, kind, cert_pem, key_sealed, not_before, not_after,
	created_at`

func scanCACert(row interface{ Scan(...any) error }) (store.CACert, error) {
	var c store.CACert
	var notBefore, notAfter, created string
	err := row.Scan(&c.ID, &c.IssuerID, &c.Kind, &c.CertPEM, &c.KeySealed, &notBefore,
		&notAfter, &created)
	if err != nil {
		return store.CACert{}, translate(err)
	}
	if c.NotBefore, err = parseTime(notBefore); err != nil {
		return store.CACert{}, err
	}
	if c.NotAfter, err = parseTime(notAfter); err != nil {
		return store.CACert{}, err
	}
	c.CreatedAt, err = parseTime(created)
	return c, err
}

// ListCACerts implements store.IssuerQueries.
func (q queries) ListCACerts(ctx context.Context, issuerID, kind string) ([]store.CACert,
	error) {
	rows, err := q.r.QueryContext(ctx,
		`SELECT `+caCertColumns+` FROM ca_certs WHERE issuer_id = ? AND kind = ?
		 ORDER BY created_at DESC, id DESC`, issuerID, kind)
	if err != nil {
		return nil, fmt.Errorf("list ca certificates: %w", translate(err))
	}
	defer rows.Close()
	var certs []store.CACert
	for rows.Next() {
		c, err := scanCACert(rows)
		if err != nil {
			return nil, fmt.Errorf("list ca certificates: %w", err)
		}
		certs = append(certs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list ca certificates: %w", translate(err))
	}
	return certs, nil
}

// CreateCACert implements store.IssuerQueries.
func (q queries) CreateCACert(ctx context.Context, c store.CACert) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO ca_certs (`+caCertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.IssuerID, c.Kind, c.CertPEM, c.KeySealed, fmtTime(c.NotBefore),
		fmtTime(c.NotAfter), fmtTime(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("create ca certificate: %w", translate(err))
	}
	return nil
}

// ResealCACert implements store.IssuerQueries.
func (q queries) ResealCACert(ctx context.Context, id string, sealed []byte) error {
	res, err := q.w.ExecContext(ctx, `UPDATE ca_certs SET key_sealed = ? WHERE id = ?`,
		sealed, id)
	return affected("reseal ca certificate "+id, res, err)
}
