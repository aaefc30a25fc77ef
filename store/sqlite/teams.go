package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"certctl/store"
)

const teamColumns = `id, name, description, created_at, updated_at`

func scanTeam(row interface{ Scan(...any) error }) (store.Team, error) {
	var t store.Team
	var created, updated string
	if err := row.Scan(&t.ID, &t.Name, &t.Description, &created, &updated); err != nil {
		return store.Team{}, translate(err)
	}
	var err error
	if t.CreatedAt, err = parseTime(created); err != nil {
		return store.Team{}, err
	}
	t.UpdatedAt, err = parseTime(updated)
	return t, err
}

// ListTeams implements store.TeamQueries.
func (q queries) ListTeams(ctx context.Context, p store.Page) ([]store.Team, string, error) {
	query := `SELECT ` + teamColumns + ` FROM teams`
	var args []any
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		query += ` WHERE (lower(name), id) > (lower(?), ?)`
		args = append(args, k[0], k[1])
	}
	query += ` ORDER BY lower(name), id LIMIT ? OFFSET ?`
	args = append(args, p.Limit, p.Offset)

	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list teams: %w", translate(err))
	}
	defer rows.Close()
	var teams []store.Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list teams: %w", err)
		}
		teams = append(teams, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list teams: %w", translate(err))
	}
	next := ""
	if n := len(teams); n > 0 && n == p.Limit {
		next = store.EncodeKey(teams[n-1].Name, teams[n-1].ID)
	}
	return teams, next, nil
}

// CountTeams implements store.TeamQueries.
func (q queries) CountTeams(ctx context.Context) (int, error) {
	var n int
	if err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM teams`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count teams: %w", translate(err))
	}
	return n, nil
}

// GetTeam implements store.TeamQueries.
func (q queries) GetTeam(ctx context.Context, id string) (store.Team, error) {
	t, err := scanTeam(q.r.QueryRowContext(ctx,
		`SELECT `+teamColumns+` FROM teams WHERE id = ?`, id))
	if err != nil {
		return store.Team{}, fmt.Errorf("get team %s: %w", id, err)
	}
	return t, nil
}

// GetTeamByName implements store.TeamQueries.
func (q queries) GetTeamByName(ctx context.Context, name string) (store.Team, error) {
	t, err := scanTeam(q.r.QueryRowContext(ctx,
		`SELECT `+teamColumns+` FROM teams WHERE lower(name) = lower(?)`, name))
	if err != nil {
		return store.Team{}, fmt.Errorf("get team named %q: %w", name, err)
	}
	return t, nil
}

// CreateTeam implements store.TeamQueries.
func (q queries) CreateTeam(ctx context.Context, t store.Team) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO teams (`+teamColumns+`) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Description, fmtTime(t.CreatedAt), fmtTime(t.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create team: %w", translate(err))
	}
	return nil
}

// UpdateTeam implements store.TeamQueries.
func (q queries) UpdateTeam(ctx context.Context, t store.Team) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE teams SET name = ?, description = ?, updated_at = ? WHERE id = ?`,
		t.Name, t.Description, fmtTime(t.UpdatedAt), t.ID)
	return affected("update team "+t.ID, res, err)
}

// DeleteTeam implements store.TeamQueries.
func (q queries) DeleteTeam(ctx context.Context, id string) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM teams WHERE id = ?`, id)
	return affected("delete team "+id, res, err)
}

// affected turns the result of a single-row write into nil, ErrNotFound or a translated error.
func affected(step string, res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", step, translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", step, translate(err))
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", step, store.ErrNotFound)
	}
	return nil
}
