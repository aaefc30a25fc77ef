package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"certctl/store"
)

const versionColumns = `id, certificate_id, issuer_id, serial, cert_pem, chain_pem,
	fingerprint, not_before, not_after, key_algorithm, key_bits, key_location, key_sealed,
	created_at, revoked_at, revoke_reason`

func scanVersion(row interface{ Scan(...any) error }) (store.CertificateVersion, error) {
	var v store.CertificateVersion
	var notBefore, notAfter, created string
	var revoked sql.NullString
	err := row.Scan(&v.ID, &v.CertificateID, &v.IssuerID, &v.Serial, &v.CertPEM,
		&v.ChainPEM, &v.Fingerprint, &notBefore, &notAfter, &v.KeyAlgorithm, &v.KeyBits,
		&v.KeyLocation, &v.KeySealed, &created, &revoked, &v.RevokeReason)
	if err != nil {
		return store.CertificateVersion{}, translate(err)
	}
	if v.NotBefore, err = parseTime(notBefore); err != nil {
		return store.CertificateVersion{}, err
	}
	if v.NotAfter, err = parseTime(notAfter); err != nil {
		return store.CertificateVersion{}, err
	}
	if v.CreatedAt, err = parseTime(created); err != nil {
		return store.CertificateVersion{}, err
	}
	v.RevokedAt, err = parseNullTime(revoked)
	return v, err
}

// nullBytes stores an empty byte slice as NULL, so that it reads back as nil.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// AddVersion implements store.CertificateQueries. A trigger makes the new version the
// certificate's current one in the same statement.
func (q queries) AddVersion(ctx context.Context, v store.CertificateVersion) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO certificate_versions (`+versionColumns+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.CertificateID, v.IssuerID, v.Serial, v.CertPEM, v.ChainPEM, v.Fingerprint,
		fmtTime(v.NotBefore), fmtTime(v.NotAfter), v.KeyAlgorithm, v.KeyBits, v.KeyLocation,
		nullBytes(v.KeySealed), fmtTime(v.CreatedAt), fmtNullTime(v.RevokedAt),
		v.RevokeReason)
	if err != nil {
		return fmt.Errorf("add certificate version: %w", translate(err))
	}
	return nil
}

// ListVersions implements store.CertificateQueries.
func (q queries) ListVersions(ctx context.Context,
	certificateID string) ([]store.CertificateVersion, error) {
	rows, err := q.r.QueryContext(ctx,
		`SELECT `+versionColumns+` FROM certificate_versions WHERE certificate_id = ?
		 ORDER BY created_at DESC, id DESC`, certificateID)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", certificateID, translate(err))
	}
	defer rows.Close()
	var versions []store.CertificateVersion
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("list versions of %s: %w", certificateID, err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", certificateID, translate(err))
	}
	return versions, nil
}

// GetVersion implements store.CertificateQueries.
func (q queries) GetVersion(ctx context.Context, id string) (store.CertificateVersion,
	error) {
	v, err := scanVersion(q.r.QueryRowContext(ctx,
		`SELECT `+versionColumns+` FROM certificate_versions WHERE id = ?`, id))
	if err != nil {
		return store.CertificateVersion{}, fmt.Errorf("get version %s: %w", id, err)
	}
	return v, nil
}

// GetVersionBySerial implements store.CertificateQueries.
func (q queries) GetVersionBySerial(ctx context.Context, issuerID,
	serial string) (store.CertificateVersion, error) {
	v, err := scanVersion(q.r.QueryRowContext(ctx,
		`SELECT `+versionColumns+` FROM certificate_versions
		 WHERE issuer_id = ? AND serial = ?`, issuerID, serial))
	if err != nil {
		return store.CertificateVersion{}, fmt.Errorf("get version by serial %s: %w",
			serial, err)
	}
	return v, nil
}

// RevokeVersion implements store.CertificateQueries.
func (q queries) RevokeVersion(ctx context.Context, id string, at time.Time,
	reason int) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE certificate_versions SET revoked_at = ?, revoke_reason = ?
		 WHERE id = ? AND revoked_at IS NULL`,
		fmtTime(at), reason, id)
	return affected("revoke version "+id, res, err)
}

// ListRevoked implements store.CertificateQueries.
func (q queries) ListRevoked(ctx context.Context, issuerID string,
	now time.Time) ([]store.Revoked, error) {
	rows, err := q.r.QueryContext(ctx,
		`SELECT serial, revoked_at, revoke_reason, cert_pem FROM certificate_versions
		 WHERE issuer_id = ? AND revoked_at IS NOT NULL AND not_after > ?
		 ORDER BY revoked_at, serial`, issuerID, fmtTime(now))
	if err != nil {
		return nil, fmt.Errorf("list revoked of %s: %w", issuerID, translate(err))
	}
	defer rows.Close()
	var revoked []store.Revoked
	for rows.Next() {
		var r store.Revoked
		var at string
		if err := rows.Scan(&r.Serial, &at, &r.Reason, &r.CertPEM); err != nil {
			return nil, fmt.Errorf("list revoked of %s: %w", issuerID, translate(err))
		}
		if r.RevokedAt, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("list revoked of %s: %w", issuerID, err)
		}
		revoked = append(revoked, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked of %s: %w", issuerID, translate(err))
	}
	return revoked, nil
}

// ListSealedKeys implements store.CertificateQueries.
func (q queries) ListSealedKeys(ctx context.Context) ([]store.SealedKey, error) {
	rows, err := q.r.QueryContext(ctx,
		`SELECT id, key_sealed FROM certificate_versions WHERE key_sealed IS NOT NULL
		 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list sealed keys: %w", translate(err))
	}
	defer rows.Close()
	var keys []store.SealedKey
	for rows.Next() {
		var k store.SealedKey
		if err := rows.Scan(&k.VersionID, &k.Sealed); err != nil {
			return nil, fmt.Errorf("list sealed keys: %w", translate(err))
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sealed keys: %w", translate(err))
	}
	return keys, nil
}

// ResealVersion implements store.CertificateQueries.
func (q queries) ResealVersion(ctx context.Context, id string, sealed []byte) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE certificate_versions SET key_sealed = ? WHERE id = ? AND key_sealed IS NOT NULL`,
		sealed, id)
	return affected("reseal version "+id, res, err)
}
