package customdomain

import (
	"context"
	"sync"
	"time"
)

// RunOnce is one step of Run: it claims the due domains and does their
// work, and returns when the work is done.
func (s *Service) RunOnce(ctx context.Context) {
	var wg sync.WaitGroup
	s.runDue(ctx, make(chan struct{}, s.cfg.Workers), &wg)
	wg.Wait()
}

// SetClock replaces the service's clock.
func (s *Service) SetClock(now func() time.Time) { s.now = now }
