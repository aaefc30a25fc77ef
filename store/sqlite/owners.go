package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"certctl/store"
)

const ownerColumns = `id, name, email, team_id, created_at, updated_at`

func scanOwner(row interface{ Scan(...any) error }) (store.Owner, error) {
	var o store.Owner
	var team sql.NullString
	var created, updated string
	err := row.Scan(&o.ID, &o.Name, &o.Email, &team, &created, &updated)
	if err != nil {
		return store.Owner{}, translate(err)
	}
	o.TeamID = team.String
	if o.CreatedAt, err = parseTime(created); err != nil {
		return store.Owner{}, err
	}
	o.UpdatedAt, err = parseTime(updated)
	return o, err
}

func ownerWhere(f store.OwnerFilter) (string, []any) {
	if f.TeamID != "" {
		return ` WHERE team_id = ?`, []any{f.TeamID}
	}
	return ` WHERE 1 = 1`, nil
}

// ListOwners implements store.OwnerQueries.
func (q queries) ListOwners(ctx context.Context, f store.OwnerFilter,
	p store.Page) ([]store.Owner, string, error) {
	where, args := ownerWhere(f)
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		where += ` AND (lower(name), id) > (lower(?), ?)`
		args = append(args, k[0], k[1])
	}
	args = append(args, p.Limit, p.Offset)
	rows, err := q.r.QueryContext(ctx, `SELECT `+ownerColumns+` FROM owners`+where+
		` ORDER BY lower(name), id LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list owners: %w", translate(err))
	}
	defer rows.Close()
	var owners []store.Owner
	for rows.Next() {
		o, err := scanOwner(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list owners: %w", err)
		}
		owners = append(owners, o)
	}
	if err := rows.Err(); err != nil {
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
	where, args := ownerWhere(f)
	var n int
	err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM owners`+where, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count owners: %w", translate(err))
	}
	return n, nil
}

// GetOwner implements store.OwnerQueries.
func (q queries) GetOwner(ctx context.Context, id string) (store.Owner, error) {
	o, err := scanOwner(q.r.QueryRowContext(ctx,
		`SELECT `+ownerColumns+` FROM owners WHERE id = ?`, id))
	if err != nil {
		return store.Owner{}, fmt.Errorf("get owner %s: %w", id, err)
	}
	return o, nil
}

// GetOwnerByEmail implements store.OwnerQueries.
func (q queries) GetOwnerByEmail(ctx context.Context, email string) (store.Owner, error) {
	o, err := scanOwner(q.r.QueryRowContext(ctx,
		`SELECT `+ownerColumns+` FROM owners WHERE lower(email) = lower(?)`, email))
	if err != nil {
		return store.Owner{}, fmt.Errorf("get owner by e-mail: %w", err)
	}
	return o, nil
}

// CreateOwner implements store.OwnerQueries.
func (q queries) CreateOwner(ctx context.Context, o store.Owner) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO owners (`+ownerColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		o.ID, o.Name, o.Email, nullString(o.TeamID), fmtTime(o.CreatedAt), fmtTime(o.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create owner: %w", translate(err))
	}
	return nil
}

// UpdateOwner implements store.OwnerQueries.
func (q queries) UpdateOwner(ctx context.Context, o store.Owner) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE owners SET name = ?, email = ?, team_id = ?, updated_at = ? WHERE id = ?`,
		o.Name, o.Email, nullString(o.TeamID), fmtTime(o.UpdatedAt), o.ID)
	return affected("update owner "+o.ID, res, err)
}

// DeleteOwner implements store.OwnerQueries.
func (q queries) DeleteOwner(ctx context.Context, id string) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM owners WHERE id = ?`, id)
	return affected("delete owner "+id, res, err)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
