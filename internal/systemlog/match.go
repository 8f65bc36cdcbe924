package systemlog

import (
	"strings"
)

// Match reports whether ev satisfies e. A nil e matches every event.
//
// Comparisons are exact and case-sensitive; sw is a byte prefix. target.id
// matches when any of the event's targets matches, so an event without
// targets matches no target.id comparison. Stores translate the same rules
// to SQL (see internal/store/sqlquery); the conformance suite checks that
// both agree.
func Match(e Expr, ev Event) bool {
	switch e := e.(type) {
	case nil:
		return true
	case Compare:
		if e.Attr == AttrTargetID {
			for _, t := range ev.Target {
				if compare(e.Op, t.ID, e.Value) {
					return true
				}
			}
			return false
		}
		return compare(e.Op, attrValue(e.Attr, ev), e.Value)
	case Logical:
		switch e.Op {
		case OpAnd:
			return Match(e.Left, ev) && Match(e.Right, ev)
		case OpOr:
			return Match(e.Left, ev) || Match(e.Right, ev)
		}
	}
	return false
}

func compare(op, got, want string) bool {
	switch op {
	case OpEq:
		return got == want
	case OpSw:
		return strings.HasPrefix(got, want)
	}
	return false
}

func attrValue(attr string, ev Event) string {
	switch attr {
	case AttrEventType:
		return ev.EventType
	case AttrOutcomeResult:
		return ev.Outcome.Result
	case AttrSeverity:
		return ev.Severity
	case AttrActorID:
		return ev.Actor.ID
	case AttrUUID:
		return ev.UUID
	}
	return ""
}

// SearchText is the text the q keywords of a query search, lower-cased:
// the event type, message, severity, outcome, actor, targets and uuid.
// Stores keep it in a column so that they search exactly what Matches
// searches.
func SearchText(ev Event) string {
	parts := []string{ev.EventType, ev.DisplayMessage, ev.Severity, ev.Outcome.Result, ev.Outcome.Reason,
		ev.Actor.ID, ev.Actor.AlternateID, ev.Actor.DisplayName, ev.UUID}
	for _, t := range ev.Target {
		parts = append(parts, t.ID, t.AlternateID, t.DisplayName)
	}
	// A keyword never holds white space (ParseQuery splits on it), so
	// joining with a newline keeps a keyword from matching across fields.
	return strings.ToLower(strings.Join(parts, "\n"))
}

// Matches reports whether ev is selected by q, apart from paging: org
// scope, since (inclusive), until (exclusive), AfterSeq, keywords and the
// filter. It is the in-memory reference for what a store's QueryEvents
// returns.
func (q Query) Matches(ev Event) bool {
	if !q.All && ev.OrgID != q.OrgID {
		return false
	}
	if !q.Since.IsZero() && ev.Published.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && !ev.Published.Before(q.Until) {
		return false
	}
	if q.AfterSeq > 0 {
		if q.Descending && ev.Seq >= q.AfterSeq || !q.Descending && ev.Seq <= q.AfterSeq {
			return false
		}
	}
	if len(q.Keywords) > 0 {
		text := SearchText(ev)
		for _, k := range q.Keywords {
			if !strings.Contains(text, strings.ToLower(k)) {
				return false
			}
		}
	}
	return Match(q.Filter, ev)
}
