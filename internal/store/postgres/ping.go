package postgres

import "context"

// Ping reports whether the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	return s.db.PingContext(ctx)
}
