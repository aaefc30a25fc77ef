package postgres

import (
	"context"
	"fmt"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const versionColumns = `id, certificate_id, issuer_id, serial, cert_pem, chain_pem,
	fingerprint, not_before, not_after, key_algorithm, key_bits, key_location, key_sealed,
	created_at, revoked_at, revoke_reason`

func scanVersion(row pgx.Row) (store.CertificateVersion, error) {
	var v store.CertificateVersion
	var revoked *time.Time
	err := row.Scan(&v.ID, &v.CertificateID, &v.IssuerID, &v.Serial, &v.CertPEM, &v.ChainPEM,
		&v.Fingerprint, &v.NotBefore, &v.NotAfter, &v.KeyAlgorithm, &v.KeyBits, &v.KeyLocation,
		&v.KeySealed, &v.CreatedAt, &revoked, &v.RevokeReason)
	if err != nil {
		return store.CertificateVersion{}, translate(err)
	}
	v.NotBefore, v.NotAfter, v.CreatedAt = v.NotBefore.UTC(), v.NotAfter.UTC(), v.CreatedAt.UTC()
	v.RevokedAt = fromNullTime(revoked)
	return v, nil
}

// AddVersion implements store.CertificateQueries. A trigger makes the new row the
// certificate's current version in the same statement.
func (q queries) AddVersion(ctx context.Context, v store.CertificateVersion) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO certificate_versions (`+versionColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		v.ID, v.CertificateID, v.IssuerID, v.Serial, v.CertPEM, v.ChainPEM, v.Fingerprint,
		v.NotBefore.UTC(), v.NotAfter.UTC(), v.KeyAlgorithm, v.KeyBits, v.KeyLocation,
		v.KeySealed,
		v.CreatedAt.UTC(), nullTime(v.RevokedAt), v.RevokeReason)
	if err != nil {
		return fmt.Errorf("add version to certificate %s: %w", v.CertificateID, translate(err))
	}
	return nil
}

// ListVersions implements store.CertificateQueries.
func (q queries) ListVersions(ctx context.Context,
	certificateID string) ([]store.CertificateVersion, error) {
	rows, err := q.db.Query(ctx,
		`SELECT `+versionColumns+` FROM certificate_versions WHERE certificate_id = $1
		 ORDER BY created_at DESC, id DESC`, certificateID)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", translate(err))
	}
	versions, err := pgx.CollectRows(rows,
		func(r pgx.CollectableRow) (store.CertificateVersion, error) {
			return scanVersion(r)
		})
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", translate(err))
	}
	return versions, nil
}

// GetVersion implements store.CertificateQueries.
func (q queries) GetVersion(ctx context.Context, id string) (store.CertificateVersion, error) {
	v, err := scanVersion(q.db.QueryRow(ctx,
		`SELECT `+versionColumns+` FROM certificate_versions WHERE id = $1`, id))
	if err != nil {
		return store.CertificateVersion{}, fmt.Errorf("get version %s: %w", id, err)
	}
	return v, nil
}

// GetVersionBySerial implements store.CertificateQueries.
func (q queries) GetVersionBySerial(ctx context.Context, issuerID,
	serial string) (store.CertificateVersion, error) {
	v, err := scanVersion(q.db.QueryRow(ctx,
		`SELECT `+versionColumns+` FROM certificate_versions
		 WHERE issuer_id = $1 AND serial = $2`, issuerID, serial))
	if err != nil {
		return store.CertificateVersion{}, fmt.Errorf("get version with serial %s: %w",
			serial, err)
	}
	return v, nil
}

// RevokeVersion implements store.CertificateQueries.
func (q queries) RevokeVersion(ctx context.Context, id string, at time.Time,
	reason int) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE certificate_versions SET revoked_at = $1, revoke_reason = $2
		 WHERE id = $3 AND revoked_at IS NULL`,
		at.UTC(), reason, id)
	return affected("revoke version "+id, tag, err)
}

// ListRevoked implements store.CertificateQueries.
func (q queries) ListRevoked(ctx context.Context, issuerID string,
	now time.Time) ([]store.Revoked, error) {
	rows, err := q.db.Query(ctx,
		`SELECT serial, revoked_at, revoke_reason, cert_pem FROM certificate_versions
		 WHERE issuer_id = $1 AND revoked_at IS NOT NULL AND not_after > $2
		 ORDER BY revoked_at, serial`, issuerID, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("list revoked serials: %w", translate(err))
	}
	revoked, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Revoked, error) {
		var rv store.Revoked
		err := r.Scan(&rv.Serial, &rv.RevokedAt, &rv.Reason, &rv.CertPEM)
		rv.RevokedAt = rv.RevokedAt.UTC()
		return rv, err
	})
	if err != nil {
		return nil, fmt.Errorf("list revoked serials: %w", translate(err))
	}
	return revoked, nil
}

// ListSealedKeys implements store.CertificateQueries.
func (q queries) ListSealedKeys(ctx context.Context) ([]store.SealedKey, error) {
	rows, err := q.db.Query(ctx,
		`SELECT id, key_sealed FROM certificate_versions WHERE key_sealed IS NOT NULL
		 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list sealed keys: %w", translate(err))
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.SealedKey, error) {
		var k store.SealedKey
		err := r.Scan(&k.VersionID, &k.Sealed)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list sealed keys: %w", translate(err))
	}
	return keys, nil
}

// ResealVersion implements store.CertificateQueries.
func (q queries) ResealVersion(ctx context.Context, id string, sealed []byte) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE certificate_versions SET key_sealed = $1 WHERE id = $2 AND key_sealed IS NOT NULL`,
		sealed, id)
	return affected("reseal version "+id, tag, err)
}
