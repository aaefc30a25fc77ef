package postgres

import (
	"context"
	"fmt"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const ownerColumns = `id, name, email, team_id, created_at, updated_at`

func scanOwner(row pgx.Row) (store.Owner, error) {
	var o store.Owner
	var team *string
	err := row.Scan(&o.ID, &o.Name, &o.Email, &team, &o.CreatedAt, &o.UpdatedAt)
	if err != nil {
		return store.Owner{}, translate(err)
	}
	if team != nil {
		o.TeamID = *team
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, nil
}

// ownerWhere builds the filter; its placeholders start after the first n arguments.
func ownerWhere(f store.OwnerFilter, args []any) (string, []any) {
	if f.TeamID != "" {
		args = append(args, f.TeamID)
		return fmt.Sprintf(` WHERE team_id = $%d`, len(args)), args
	}
	return ` WHERE TRUE`, args
}

// ListOwners implements store.OwnerQueries.
func (q queries) ListOwners(ctx context.Context, f store.OwnerFilter,
	p store.Page) ([]store.Owner, string, error) {
	where, args := ownerWhere(f, []any{p.Limit, p.Offset})
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		args = append(args, k[0], k[1])
		where += fmt.Sprintf(` AND (lower(name), id) > (lower($%d), $%d)`, len(args)-1,
			len(args))
	}
	rows, err := q.db.Query(ctx, `SELECT `+ownerColumns+` FROM owners`+where+
		` ORDER BY lower(name), id LIMIT $1 OFFSET $2`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list owners: %w", translate(err))
	}
	owners, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Owner, error) {
		return scanOwner(r)
	})
	if err != nil {
		return nil, "", fmt.Errorf("list owners: %w", translate(err))
	}
	next := ""
	if n := len(owners); n > 0 && n == p.Limit {
		next = store.EncodeKey(owners[n-1].Name, owners[n-1].ID)
	}
	return owners, next, nil
}

// CountOwners implements store.OwnerQueries.
func (q queries) CountOwners(ctx context.Context, f store.OwnerFilter) (int, error) {
	where, args := ownerWhere(f, nil)
	var n int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM owners`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count owners: %w", translate(err))
	}
	return n, nil
}

// GetOwner implements store.OwnerQueries.
func (q queries) GetOwner(ctx context.Context, id string) (store.Owner, error) {
	o, err := scanOwner(q.db.QueryRow(ctx,
		`SELECT `+ownerColumns+` FROM owners WHERE id = $1`, id))
	if err != nil {
		return store.Owner{}, fmt.Errorf("get owner %s: %w", id, err)
	}
	return o, nil
}

// GetOwnerByEmail implements store.OwnerQueries.
func (q queries) GetOwnerByEmail(ctx context.Context, email string) (store.Owner, error) {
	o, err := scanOwner(q.db.QueryRow(ctx,
		`SELECT `+ownerColumns+` FROM owners WHERE lower(email) = lower($1)`, email))
	if err != nil {
		return store.Owner{}, fmt.Errorf("get owner by e-mail: %w", err)
	}
	return o, nil
}

// CreateOwner implements store.OwnerQueries.
func (q queries) CreateOwner(ctx context.Context, o store.Owner) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO owners (`+ownerColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		o.ID, o.Name, o.Email, nullString(o.TeamID), o.CreatedAt.UTC(), o.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("create owner: %w", translate(err))
	}
	return nil
}

// UpdateOwner implements store.OwnerQueries.
func (q queries) UpdateOwner(ctx context.Context, o store.Owner) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE owners SET name = $1, email = $2, team_id = $3, updated_at = $4 WHERE id = $5`,
		o.Name, o.Email, nullString(o.TeamID), o.UpdatedAt.UTC(), o.ID)
	return affected("update owner "+o.ID, tag, err)
}

// DeleteOwner implements store.OwnerQueries.
func (q queries) DeleteOwner(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM owners WHERE id = $1`, id)
	return affected("delete owner "+id, tag, err)
}
