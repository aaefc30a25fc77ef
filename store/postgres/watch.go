package postgres

import (
	"context"
	"time"

	"certctl/store"
)

// agentChannel is where migration 00009 announces changed agents.
const agentChannel = "certctl_agents"

var _ store.AgentWatcher = (*Store)(nil)

// WatchAgents implements store.AgentWatcher. It takes one connection out of the pool for
// LISTEN; after a failure it takes another, waiting up to 30 s between tries.
func (s *Store) WatchAgents(ctx context.Context, changed func(id string),
	listening func(bool)) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		heard := s.listen(ctx, changed, listening)
		listening(false)
		if ctx.Err() != nil {
			return
		}
		if heard {
			wait = 100 * time.Millisecond
		}
		// Why listening stopped does not matter here: the next try tells whether the
		// database is back.
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// listen listens on one connection until it fails or ctx ends, reporting whether it got
// as far as listening.
func (s *Store) listen(ctx context.Context, changed func(id string),
	listening func(bool)) bool {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return false
	}
	// A connection that LISTENs must not go back to the pool: it leaves the pool for good
	// and is closed here.
	conn := pooled.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+agentChannel); err != nil {
		return false
	}
	listening(true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true
		}
		changed(n.Payload)
	}
}
