package postgres

import (
	"context"
	"fmt"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const teamColumns = `id, name, description, created_at, updated_at`

func scanTeam(row pgx.Row) (store.Team, error) {
	var t store.Team
	if err := row.Scan(&t.ID, &t.Name, &t.Description, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return store.Team{}, translate(err)
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}

// ListTeams implements store.TeamQueries.
func (q queries) ListTeams(ctx context.Context, p store.Page) ([]store.Team, string, error) {
	query := `SELECT ` + teamColumns + ` FROM teams`
	args := []any{p.Limit, p.Offset}
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		query += ` WHERE (lower(name), id) > (lower($3), $4)`
		args = append(args, k[0], k[1])
	}
	query += ` ORDER BY lower(name), id LIMIT $1 OFFSET $2`

	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list teams: %w", translate(err))
	}
	teams, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Team, error) {
		return scanTeam(r)
	})
	if err != nil {
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
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM teams`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count teams: %w", translate(err))
	}
	return n, nil
}

// GetTeam implements store.TeamQueries.
func (q queries) GetTeam(ctx context.Context, id string) (store.Team, error) {
	t, err := scanTeam(q.db.QueryRow(ctx,
		`SELECT `+teamColumns+` FROM teams WHERE id = $1`, id))
	if err != nil {
		return store.Team{}, fmt.Errorf("get team %s: %w", id, err)
	}
	return t, nil
}

// GetTeamByName implements store.TeamQueries.
func (q queries) GetTeamByName(ctx context.Context, name string) (store.Team, error) {
	t, err := scanTeam(q.db.QueryRow(ctx,
		`SELECT `+teamColumns+` FROM teams WHERE lower(name) = lower($1)`, name))
	if err != nil {
		return store.Team{}, fmt.Errorf("get team named %q: %w", name, err)
	}
	return t, nil
}

// CreateTeam implements store.TeamQueries.
func (q queries) CreateTeam(ctx context.Context, t store.Team) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO teams (`+teamColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		t.ID, t.Name, t.Description, t.CreatedAt.UTC(), t.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("create team: %w", translate(err))
	}
	return nil
}

// UpdateTeam implements store.TeamQueries.
func (q queries) UpdateTeam(ctx context.Context, t store.Team) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE teams SET name = $1, description = $2, updated_at = $3 WHERE id = $4`,
		t.Name, t.Description, t.UpdatedAt.UTC(), t.ID)
	return affected("update team "+t.ID, tag, err)
}

// DeleteTeam implements store.TeamQueries.
func (q queries) DeleteTeam(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM teams WHERE id = $1`, id)
	return affected("delete team "+id, tag, err)
}
