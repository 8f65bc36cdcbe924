package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// outboxChannel is the LISTEN/NOTIFY channel on which every commit that
// writes the outbox is announced (pg_notify in the same transaction, so
// PostgreSQL delivers it only once the commit is visible).
const outboxChannel = "hallmark_outbox"

// OutboxNotices returns a channel that receives a value soon after any
// node commits an outbox entry, until ctx ends. Notices coalesce: one value
// may stand for many commits, and the receiver reads the outbox itself.
//
// It listens on a connection of its own. When that connection is lost it
// reconnects with backoff (up to 5 s apart) and sends a notice once
// listening again, since commits made meanwhile were announced to nobody;
// the receiver's periodic poll covers the time it is down.
func (s *Store) OutboxNotices(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	notify := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	go func() {
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			err := s.listen(ctx, outboxChannel, notify)
			if ctx.Err() != nil {
				return
			}
			s.logger.Warn("listening for other nodes' certificate changes; polling meanwhile", "err", err, "retry", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}()
	return ch
}

// listen holds one connection LISTENing on channel, calling notify once
// listening and on every notification, until the connection fails or ctx
// ends.
func (s *Store) listen(ctx context.Context, channel string, notify func()) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, s.url)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	notify()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		notify()
	}
}
