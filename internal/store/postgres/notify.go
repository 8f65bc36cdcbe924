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

// tokensChannel announces a revoked token's id, so that every node drops
// it from its cache of valid tokens at once.
const tokensChannel = "hallmark_tokens"

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
	notify := func(string) {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	go s.listenForever(ctx, outboxChannel, notify)
	return ch
}

// TokenNotices calls forget with the id of every token revoked on any
// node, until ctx ends, and with "" whenever its connection was re-made
// (announcements may have been missed meanwhile: forget every token).
func (s *Store) TokenNotices(ctx context.Context, forget func(id string)) {
	go s.listenForever(ctx, tokensChannel, forget)
}

// listenForever listens on channel until ctx ends, reconnecting with
// backoff; notify gets each payload, and "" once listening (again).
func (s *Store) listenForever(ctx context.Context, channel string, notify func(payload string)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listen(ctx, channel, notify)
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("listening for other nodes' changes", "channel", channel, "err", err, "retry", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen holds one connection LISTENing on channel, calling notify("")
// once listening and notify(payload) on every notification, until the
// connection fails or ctx ends.
func (s *Store) listen(ctx context.Context, channel string, notify func(string)) error {
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
	notify("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		notify(n.Payload)
	}
}
