package tenant

import "time"

// SetClock replaces the service's clock (token cache expiry in tests).
func SetClock(s *Service, now func() time.Time) { s.now = now }
