package customdomain

import (
	"context"
	"sync"
	"time"
)

// OutboxRetention is how long outbox entries are kept: far longer than any
// edge takes to catch up (one poll), short enough that the table stays small.
const OutboxRetention = time.Hour

// Run is the one scheduler of the lifecycle, until ctx ends: it re-checks
// pending domains, issues the first certificate of verified managed ones,
// and watches and renews active ones. It leases due domains from the store
// (so several workers or nodes never work on the same one at once, and a
// restart resumes where the store says), works on at most Config.Workers
// at a time, and claims more as soon as a worker is free. On every poll it
// also brings the edge up to date with the other nodes' commits, and at
// once when the store announces them: a certificate committed on any node
// is served by every edge within one poll (a second by default) even when
// an announcement is lost.
func (s *Service) Run(ctx context.Context) error {
	if s.certs.Certifier != nil {
		// Managed domains proven while no issuer was configured have
		// nothing scheduled: issue their first certificate now.
		n, err := s.store.ScheduleUnissued(ctx, s.now().UTC())
		switch {
		case err != nil && ctx.Err() == nil:
			s.logger.Error("scheduling verified domains without a certificate", "err", err)
		case n > 0:
			s.logger.Info("scheduled verified domains without a certificate", "domains", n)
		}
	}
	s.primeEdge(ctx)
	if n, ok := s.store.(OutboxNotifier); ok && s.certs.Edge != nil {
		notices := n.OutboxNotices(ctx)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-notices:
					s.SyncEdge(ctx)
				}
			}
		}()
	}
	s.loadPersist(ctx)
	sem := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		s.runDue(ctx, sem, &wg)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.SyncEdge(ctx)
			if now := s.now(); now.Sub(lastPrune) > OutboxRetention/4 {
				lastPrune = now
				if _, err := s.store.PruneOutbox(ctx, now.Add(-OutboxRetention)); err != nil && ctx.Err() == nil {
					s.logger.Warn("pruning the outbox", "err", err)
				}
			}
		case <-s.wake:
		}
	}
}

// Wake makes the scheduler look for due work now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) runDue(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) {
	for ctx.Err() == nil {
		// Claim only what the free workers can start now, so claimed
		// domains do not wait out their lease in a queue; a worker that
		// finishes wakes the loop to claim again.
		free := cap(sem) - len(sem)
		if free == 0 {
			return
		}
		now := s.now().UTC()
		due, err := s.store.ClaimDue(ctx, s.owner, now, now.Add(s.cfg.Lease), free)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Error("claiming due domains", "err", err)
			}
			return
		}
		for _, d := range due {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done(); s.Wake() }()
				s.work(ctx, d)
			}()
		}
		if len(due) < free {
			return
		}
	}
}

// work does what a claimed domain is due for: a pending domain is checked;
// a VERIFIED managed one gets its first certificate; an active one is
// watched and renewed; anything else is taken off the schedule.
func (s *Service) work(ctx context.Context, d Domain) {
	switch {
	case !d.Status.Proven():
		s.verifyInBackground(ctx, d)
	case d.Ready() && s.rules.renewsAhead(d, s.now()):
		s.obtain(ctx, d)
	case d.Ready():
		// The certificate is served ahead of the CNAME: the check says
		// when traffic moved here (COMPLETED).
		s.verifyInBackground(ctx, d)
	case d.Status == Verified && s.rules.managed(d):
		s.obtain(ctx, d)
	case d.Status == Completed:
		s.maintain(ctx, d)
	default:
		s.finish(ctx, d, func(cur Domain, _ time.Time) (Change, error) {
			if cur.Status != d.Status {
				return Change{}, errNoChange
			}
			return s.rules.Parked(cur), nil
		})
	}
}

func (s *Service) verifyInBackground(ctx context.Context, d Domain) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Lease/2)
	defer cancel()
	s.loadPersist(cctx)
	exp := s.Expectation(d)
	rep := s.checker.Check(cctx, exp)
	if ctx.Err() != nil {
		return // shutting down: the lease expires and the check is redone
	}
	if _, err := s.recordCheck(ctx, System, d.ID, Check{Report: rep, Persist: exp.Persist != nil}, d.Lease.Token); err != nil && ctx.Err() == nil {
		s.logger.Info("background check not recorded", "domain", d.Name, "err", err)
	}
}
