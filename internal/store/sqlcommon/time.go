package sqlcommon

import (
	"database/sql"
	"fmt"
	"time"
)

func unixNano(n int64) time.Time { return time.Unix(0, n).UTC() }

// Times are stored as Unix nanoseconds; the zero time as NULL.

// EncTime encodes t for a BIGINT/INTEGER column.
func EncTime(t time.Time) (sql.NullInt64, error) {
	if t.IsZero() {
		return sql.NullInt64{}, nil
	}
	if y := t.Year(); y < 1678 || y > 2261 {
		return sql.NullInt64{}, fmt.Errorf("time %s is outside the storable range (years 1678 to 2261)", t)
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}, nil
}

// DecTime decodes a column written by EncTime.
func DecTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// EncTimes encodes several times, returning the first error.
func EncTimes(ts ...time.Time) ([]sql.NullInt64, error) {
	out := make([]sql.NullInt64, len(ts))
	for i, t := range ts {
		n, err := EncTime(t)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// CheckLimit refuses a page size below 1.
func CheckLimit(limit int) error {
	if limit < 1 {
		return fmt.Errorf("limit %d: must be at least 1", limit)
	}
	return nil
}
