package postgres

import (
	"context"
	"fmt"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const issuerColumns = `id, name, type, config, created_at, updated_at`

func scanIssuer(row pgx.Row) (store.Issuer, error) {
	var i store.Issuer
	var config []byte
	err := row.Scan(&i.ID, &i.Name, &i.Type, &config, &i.CreatedAt, &i.UpdatedAt)
	if err != nil {
		return store.Issuer{}, translate(err)
	}
	i.Config = config
	i.CreatedAt, i.UpdatedAt = i.CreatedAt.UTC(), i.UpdatedAt.UTC()
	return i, nil
}

// jsonObject is the JSONB text of a configuration (an issuer's, a target's); empty is {}.
func jsonObject(config []byte) string {
	if len(config) == 0 {
		return "{}"
	}
	return string(config)
}

// ListIssuers implements store.IssuerQueries.
func (q queries) ListIssuers(ctx context.Context) ([]store.Issuer, error) {
	rows, err := q.db.Query(ctx,
		`SELECT `+issuerColumns+` FROM issuers ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("list issuers: %w", translate(err))
	}
	issuers, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Issuer, error) {
		return scanIssuer(r)
	})
	if err != nil {
		return nil, fmt.Errorf("list issuers: %w", translate(err))
	}
	return issuers, nil
}

// GetIssuer implements store.IssuerQueries.
func (q queries) GetIssuer(ctx context.Context, id string) (store.Issuer, error) {
	i, err := scanIssuer(q.db.QueryRow(ctx,
		`SELECT `+issuerColumns+` FROM issuers WHERE id = $1`, id))
	if err != nil {
		return store.Issuer{}, fmt.Errorf("get issuer %s: %w", id, err)
	}
	return i, nil
}

// CreateIssuer implements store.IssuerQueries.
func (q queries) CreateIssuer(ctx context.Context, i store.Issuer) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO issuers (`+issuerColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		i.ID, i.Name, i.Type, jsonObject(i.Config), i.CreatedAt.UTC(), i.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("create issuer: %w", translate(err))
	}
	return nil
}

// UpdateIssuer implements store.IssuerQueries.
func (q queries) UpdateIssuer(ctx context.Context, i store.Issuer) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE issuers SET name = $1, type = $2, config = $3, updated_at = $4 WHERE id = $5`,
		i.Name, i.Type, jsonObject(i.Config), i.UpdatedAt.UTC(), i.ID)
	return affected("update issuer "+i.ID, tag, err)
}

const caCertColumns = `id, issuer_id, kind, cert_pem, key_sealed, not_before, not_after,
	created_at`

func scanCACert(row pgx.Row) (store.CACert, error) {
	var c store.CACert
	err := row.Scan(&c.ID, &c.IssuerID, &c.Kind, &c.CertPEM, &c.KeySealed, &c.NotBefore,
		&c.NotAfter, &c.CreatedAt)
	if err != nil {
		return store.CACert{}, translate(err)
	}
	c.NotBefore, c.NotAfter, c.CreatedAt = c.NotBefore.UTC(), c.NotAfter.UTC(), c.CreatedAt.UTC()
	return c, nil
}

// ListCACerts implements store.IssuerQueries.
func (q queries) ListCACerts(ctx context.Context, issuerID, kind string) ([]store.CACert,
	error) {
	rows, err := q.db.Query(ctx,
		`SELECT `+caCertColumns+` FROM ca_certs WHERE issuer_id = $1 AND kind = $2
		 ORDER BY created_at DESC, id DESC`, issuerID, kind)
	if err != nil {
		return nil, fmt.Errorf("list CA certificates: %w", translate(err))
	}
	certs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.CACert, error) {
		return scanCACert(r)
	})
	if err != nil {
		return nil, fmt.Errorf("list CA certificates: %w", translate(err))
	}
	return certs, nil
}

// CreateCACert implements store.IssuerQueries.
func (q queries) CreateCACert(ctx context.Context, c store.CACert) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO ca_certs (`+caCertColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.ID, c.IssuerID, c.Kind, c.CertPEM, c.KeySealed, c.NotBefore.UTC(), c.NotAfter.UTC(),
		c.CreatedAt.UTC())
	if err != nil {
		return fmt.Errorf("create CA certificate: %w", translate(err))
	}
	return nil
}

// ResealCACert implements store.IssuerQueries.
func (q queries) ResealCACert(ctx context.Context, id string, sealed []byte) error {
	tag, err := q.db.Exec(ctx, `UPDATE ca_certs SET key_sealed = $1 WHERE id = $2`, sealed, id)
	return affected("reseal CA certificate "+id, tag, err)
}
