package sqlite

import "context"

// Ping reports whether the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	return s.read.PingContext(ctx)
}
