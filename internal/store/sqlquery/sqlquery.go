// Package sqlquery turns a systemlog.Query into a parameterised SQL WHERE
// clause over the events schema that the SQL backends share, so that
// sqlite/ and postgres/ select exactly the same events (and the same ones
// systemlog.Query.Matches selects). Values are always bound as arguments,
// never written into the SQL text.
//
// The schema it assumes (column types may differ per backend):
//
//	events e (seq, org_id, published /* unix nanoseconds */, event_type,
//	          severity, outcome_result, actor_id, uuid, search /* lower case */)
//	event_targets (seq, target_id)
//
// LIKE must compare case-sensitively: PostgreSQL's does; SQLite's needs
// PRAGMA case_sensitive_like = ON on every connection.
package sqlquery

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// Placeholder renders the n-th (1-based) bind parameter.
type Placeholder func(n int) string

// Question is SQLite's (and MySQL's) style: ?.
func Question(int) string { return "?" }

// Dollar is PostgreSQL's style: $1, $2, ...
func Dollar(n int) string { return "$" + strconv.Itoa(n) }

// Builder accumulates SQL text and its arguments.
type Builder struct {
	ph   Placeholder
	Args []any
	// Keyword renders the condition that e.search (lower case) holds the
	// lower-case keyword k, for a backend with a text index; nil, or an
	// empty result, uses LIKE '%k%' (a scan).
	Keyword func(b *Builder, k string) string
}

// NewBuilder returns a Builder using ph for parameters.
func NewBuilder(ph Placeholder) *Builder { return &Builder{ph: ph} }

// Arg binds v and returns its placeholder.
func (b *Builder) Arg(v any) string {
	b.Args = append(b.Args, v)
	return b.ph(len(b.Args))
}

var columns = map[string]string{
	systemlog.AttrEventType:     "e.event_type",
	systemlog.AttrOutcomeResult: "e.outcome_result",
	systemlog.AttrSeverity:      "e.severity",
	systemlog.AttrActorID:       "e.actor_id",
	systemlog.AttrUUID:          "e.uuid",
}

// EscapeLike escapes the LIKE wildcards % and _ and the escape character
// \ itself, for use with ESCAPE '\'.
func EscapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// EscapeGlob escapes GLOB's special characters *, ? and [ as one-character
// classes.
func EscapeGlob(s string) string {
	r := strings.NewReplacer(`[`, `[[]`, `*`, `[*]`, `?`, `[?]`)
	return r.Replace(s)
}

// Filter renders e as a boolean SQL expression. An unknown attribute or
// operator (an Expr not made by systemlog.ParseFilter) is an error.
func (b *Builder) Filter(e systemlog.Expr) (string, error) {
	switch e := e.(type) {
	case nil:
		return "1=1", nil
	case systemlog.Compare:
		var pred func(col string) string
		switch e.Op {
		case systemlog.OpEq:
			pred = func(col string) string { return col + " = " + b.Arg(e.Value) }
		case systemlog.OpSw:
			pred = func(col string) string { return col + " LIKE " + b.Arg(EscapeLike(e.Value)+"%") + ` ESCAPE '\'` }
		default:
			return "", fmt.Errorf("filter: unknown operator %q", e.Op)
		}
		if e.Attr == systemlog.AttrTargetID {
			// The set of matching seqs comes from the target index first:
			// a correlated EXISTS would run once per event row scanned.
			return "e.seq IN (SELECT t.seq FROM event_targets t WHERE " + pred("t.target_id") + ")", nil
		}
		col, ok := columns[e.Attr]
		if !ok {
			return "", fmt.Errorf("filter: unknown attribute %q", e.Attr)
		}
		return pred(col), nil
	case systemlog.Logical:
		var op string
		switch e.Op {
		case systemlog.OpAnd:
			op = " AND "
		case systemlog.OpOr:
			op = " OR "
		default:
			return "", fmt.Errorf("filter: unknown operator %q", e.Op)
		}
		l, err := b.Filter(e.Left)
		if err != nil {
			return "", err
		}
		r, err := b.Filter(e.Right)
		if err != nil {
			return "", err
		}
		return "(" + l + op + r + ")", nil
	default:
		return "", fmt.Errorf("filter: unknown expression %T", e)
	}
}

// EventWhere renders everything q selects except its order and limit:
// org scope, since (inclusive), until (exclusive), AfterSeq, keywords and
// the filter.
func (b *Builder) EventWhere(q systemlog.Query) (string, error) {
	var conds []string
	if !q.All {
		conds = append(conds, "e.org_id = "+b.Arg(q.OrgID))
	}
	if !q.Since.IsZero() {
		conds = append(conds, "e.published >= "+b.Arg(q.Since.UnixNano()))
	}
	if !q.Until.IsZero() {
		conds = append(conds, "e.published < "+b.Arg(q.Until.UnixNano()))
	}
	if q.AfterSeq > 0 {
		if q.Descending {
			conds = append(conds, "e.seq < "+b.Arg(q.AfterSeq))
		} else {
			conds = append(conds, "e.seq > "+b.Arg(q.AfterSeq))
		}
	}
	for _, k := range q.Keywords {
		k = strings.ToLower(k)
		var c string
		if b.Keyword != nil {
			c = b.Keyword(b, k)
		}
		if c == "" {
			c = "e.search LIKE " + b.Arg("%"+EscapeLike(k)+"%") + ` ESCAPE '\'`
		}
		conds = append(conds, c)
	}
	if q.Filter != nil {
		f, err := b.Filter(q.Filter)
		if err != nil {
			return "", err
		}
		conds = append(conds, f)
	}
	if len(conds) == 0 {
		return "1=1", nil
	}
	return strings.Join(conds, " AND "), nil
}
