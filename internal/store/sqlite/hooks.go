package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hallmark-dev/hallmark/internal/eventhook"
	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

var _ eventhook.Store = (*Store)(nil)

// hookBody is the part of a hook kept as JSON.
type hookBody struct {
	Name               string             `json:"name"`
	Description        *string            `json:"description"`
	Status             string             `json:"status"`
	VerificationStatus string             `json:"verificationStatus"`
	Events             []string           `json:"events"`
	URI                string             `json:"uri"`
	Headers            []eventhook.Header `json:"headers"`
	AuthKey            string             `json:"authKey"`
	LastUpdated        int64              `json:"lastUpdated"`
	CreatedBy          string             `json:"createdBy"`
}

func encodeHook(h eventhook.Hook) (string, error) {
	b, err := json.Marshal(hookBody{h.Name, h.Description, h.Status, h.VerificationStatus, h.Events, h.URI,
		h.Headers, h.AuthKey, h.LastUpdated.UnixNano(), h.CreatedBy})
	return string(b), err
}

// CreateHook stores a new hook with its delivery state.
func (s *Store) CreateHook(ctx context.Context, h eventhook.Hook) error {
	body, err := encodeHook(h)
	if err != nil {
		return fmt.Errorf("creating hook %s: %w", h.ID, err)
	}
	created, err := encTime(h.Created)
	if err != nil {
		return fmt.Errorf("creating hook %s: %w", h.ID, err)
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO event_hooks (id, org_id, created, body, auth_value, cursor) VALUES (?, ?, ?, ?, ?, ?)`,
		h.ID, h.OrgID, created, body, h.SealedAuthValue, h.Cursor)
	if err != nil {
		return fmt.Errorf("creating hook %s: %w", h.ID, mapErr(err))
	}
	return nil
}

const hookColumns = `id, org_id, created, body, auth_value, cursor, failures, next_attempt, last_delivery`

func scanHook(r rowScanner) (eventhook.Hook, error) {
	var (
		h              eventhook.Hook
		created        int64
		next           *int64
		body, delivery string
	)
	if err := r.Scan(&h.ID, &h.OrgID, &created, &body, &h.SealedAuthValue, &h.Cursor, &h.Failures, &next, &delivery); err != nil {
		return h, mapErr(err)
	}
	var b hookBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		return h, fmt.Errorf("hook %s: decoding: %w", h.ID, err)
	}
	h.Name, h.Description, h.Status, h.VerificationStatus, h.Events, h.URI, h.Headers, h.AuthKey, h.CreatedBy =
		b.Name, b.Description, b.Status, b.VerificationStatus, b.Events, b.URI, b.Headers, b.AuthKey, b.CreatedBy
	if len(h.SealedAuthValue) == 0 {
		h.SealedAuthValue = nil
	}
	h.Created = decTime(sqlNull(created))
	h.LastUpdated = decTime(sqlNull(b.LastUpdated))
	if next != nil {
		h.NextAttempt = decTime(sqlNull(*next))
	}
	if delivery != "" {
		h.LastDelivery = new(eventhook.Delivery)
		if err := json.Unmarshal([]byte(delivery), h.LastDelivery); err != nil {
			return h, fmt.Errorf("hook %s: decoding last delivery: %w", h.ID, err)
		}
	}
	return h, nil
}

// GetHook returns one hook.
func (s *Store) GetHook(ctx context.Context, id string) (eventhook.Hook, error) {
	h, err := scanHook(s.read.QueryRowContext(ctx, `SELECT `+hookColumns+` FROM event_hooks WHERE id = ?`, id))
	if err != nil {
		return eventhook.Hook{}, fmt.Errorf("reading hook %s: %w", id, err)
	}
	return h, nil
}

// ListHooks lists org's hooks, or all of them, by creation.
func (s *Store) ListHooks(ctx context.Context, org string, all bool) ([]eventhook.Hook, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+hookColumns+` FROM event_hooks WHERE ? OR org_id = ? ORDER BY created, id`, all, org)
	if err != nil {
		return nil, fmt.Errorf("listing hooks: %w", err)
	}
	defer rows.Close()
	var hs []eventhook.Hook
	for rows.Next() {
		h, err := scanHook(rows)
		if err != nil {
			return nil, fmt.Errorf("listing hooks: %w", err)
		}
		hs = append(hs, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing hooks: %w", err)
	}
	return hs, nil
}

func affected(res interface{ RowsAffected() (int64, error) }, err error) error {
	if err != nil {
		return mapErr(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// UpdateHook replaces a hook's settings, not its delivery state.
func (s *Store) UpdateHook(ctx context.Context, h eventhook.Hook) error {
	body, err := encodeHook(h)
	if err != nil {
		return fmt.Errorf("updating hook %s: %w", h.ID, err)
	}
	res, err := s.write.ExecContext(ctx, `UPDATE event_hooks SET body = ?, auth_value = ? WHERE id = ?`, body, h.SealedAuthValue, h.ID)
	if err := affected(res, err); err != nil {
		return fmt.Errorf("updating hook %s: %w", h.ID, err)
	}
	return nil
}

// DeleteHook deletes a hook.
func (s *Store) DeleteHook(ctx context.Context, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM event_hooks WHERE id = ?`, id)
	if err := affected(res, err); err != nil {
		return fmt.Errorf("deleting hook %s: %w", id, err)
	}
	return nil
}

// SaveDelivery replaces a hook's delivery state only.
func (s *Store) SaveDelivery(ctx context.Context, h eventhook.Hook, events ...systemlog.Event) error {
	next, err := encTime(h.NextAttempt)
	if err != nil {
		return fmt.Errorf("saving delivery of hook %s: %w", h.ID, err)
	}
	var delivery []byte
	if h.LastDelivery != nil {
		if delivery, err = json.Marshal(h.LastDelivery); err != nil {
			return fmt.Errorf("saving delivery of hook %s: %w", h.ID, err)
		}
	}
	err = s.withEvents(ctx, events, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE event_hooks SET cursor = ?, failures = ?, next_attempt = ?, last_delivery = ? WHERE id = ?`,
			h.Cursor, h.Failures, next, string(delivery), h.ID)
		return affected(res, err)
	})
	if err != nil {
		return fmt.Errorf("saving delivery of hook %s: %w", h.ID, err)
	}
	return nil
}
