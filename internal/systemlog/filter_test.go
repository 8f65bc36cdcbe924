package systemlog

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func cmp(attr, op, v string) Compare { return Compare{Attr: attr, Op: op, Value: v} }
func and(l, r Expr) Logical          { return Logical{Op: OpAnd, Left: l, Right: r} }
func or(l, r Expr) Logical           { return Logical{Op: OpOr, Left: l, Right: r} }

func TestParseFilter(t *testing.T) {
	et := func(v string) Compare { return cmp(AttrEventType, OpEq, v) }
	tests := []struct {
		name string
		in   string
		want Expr
	}{
		{"ok/eq", `eventType eq "system.custom_url_domain.verify"`, et("system.custom_url_domain.verify")},
		{"ok/sw", `target.id sw "dom"`, cmp(AttrTargetID, OpSw, "dom")},
		{"ok/every-attribute", `actor.id eq "a" and uuid eq "u" and target.id eq "t"`,
			and(and(cmp(AttrActorID, OpEq, "a"), cmp(AttrUUID, OpEq, "u")), cmp(AttrTargetID, OpEq, "t"))},
		{"ok/keywords-any-case", `EVENTTYPE EQ "x" AND severity Sw "w"`, and(et("x"), cmp(AttrSeverity, OpSw, "W"))},
		{"ok/enum-values-upper-cased", `outcome.result eq "failure" or severity eq "Warn"`,
			or(cmp(AttrOutcomeResult, OpEq, "FAILURE"), cmp(AttrSeverity, OpEq, "WARN"))},
		{"ok/and-binds-tighter", `eventType eq "a" or eventType eq "b" and eventType eq "c"`,
			or(et("a"), and(et("b"), et("c")))},
		{"ok/left-assoc", `eventType eq "a" or eventType eq "b" or eventType eq "c"`,
			or(or(et("a"), et("b")), et("c"))},
		{"ok/parens", `(eventType eq "a" or eventType eq "b") and eventType eq "c"`,
			and(or(et("a"), et("b")), et("c"))},
		{"ok/right-parens", `eventType eq "a" and (eventType eq "b" and eventType eq "c")`,
			and(et("a"), and(et("b"), et("c")))},
		{"ok/escapes", `eventType eq "q\"b\\s"`, et(`q"b\s`)},
		{"ok/empty-value", `actor.id eq ""`, cmp(AttrActorID, OpEq, "")},
		{"ok/white-space", "\t( eventType eq \"a\" )\n", et("a")},
		{"ok/no-space-around-parens", `(eventType eq "a")or(eventType eq "b")`, or(et("a"), et("b"))},
		{"ok/unicode-value", `eventType eq "ünï ☃"`, et("ünï ☃")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFilter(tc.in)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseFilter(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		pos  int
		want string // substring of the message
	}{
		{"fail/empty", ``, 0, "empty expression"},
		{"fail/blank", `   `, 0, "empty expression"},
		{"fail/unknown-attribute", `foo eq "x"`, 0, `unknown attribute "foo" at position 0; use one of eventType, target.id, outcome.result, severity, actor.id, uuid`},
		{"fail/unknown-attribute-later", `eventType eq "x" and displayMessage eq "y"`, 21, `unknown attribute "displayMessage"`},
		{"fail/unterminated", `eventType eq "abc`, 13, "unterminated string"},
		{"fail/unterminated-after-escape", `eventType eq "abc\`, 13, "unterminated string"},
		{"fail/bad-escape", `eventType eq "a\nb"`, 15, `invalid escape \n`},
		{"fail/missing-op", `eventType "x"`, 10, `expected eq or sw after eventType, found string "x"`},
		{"fail/missing-op-eof", `eventType`, 9, `expected eq or sw after eventType, found end of input`},
		{"fail/unsupported-op", `eventType co "x"`, 10, "operator co is not supported at position 10; use eq or sw"},
		{"fail/unsupported-pr", `eventType pr`, 10, "operator pr is not supported"},
		{"fail/not", `not (eventType eq "x")`, 0, "operator not is not supported"},
		{"fail/unquoted-value", `eventType eq x`, 13, `expected a double-quoted value after eventType eq, found "x"`},
		{"fail/single-quotes", `eventType eq 'x'`, 13, `single quote`},
		{"fail/missing-value", `eventType eq`, 12, `found end of input`},
		{"fail/dangling-and", `eventType eq "x" and`, 20, "unexpected end of input"},
		{"fail/double-and", `eventType eq "x" and and eventType eq "y"`, 21, `unknown attribute "and"`},
		{"fail/missing-connective", `eventType eq "x" eventType eq "y"`, 17, `expected and or or, found "eventType"`},
		{"fail/unclosed-paren", `(eventType eq "x"`, 17, "expected ) to close the ( at position 0"},
		{"fail/extra-paren", `eventType eq "x")`, 16, "unbalanced )"},
		{"fail/empty-parens", `()`, 1, "empty parentheses"},
		{"fail/leading-paren-close", `)`, 0, "expected an attribute or (, found )"},
		{"fail/value-first", `"x" eq eventType`, 0, `expected an attribute or (, found string "x"`},
		{"fail/bad-char", `eventType eq "x" & eventType eq "y"`, 17, `unexpected character '&'`},
		{"fail/control-char", "eventType eq \"a\x01\"", 15, "control character 0x01"},
		{"fail/invalid-utf8", "eventType eq \"a\xff\"", 15, "invalid UTF-8"},
		{"fail/too-deep", strings.Repeat("(", MaxFilterDepth+1) + `eventType eq "x"` + strings.Repeat(")", MaxFilterDepth+1), MaxFilterDepth, "nested deeper than 32"},
		{"fail/too-long", `eventType eq "` + strings.Repeat("a", MaxFilterLen) + `"`, MaxFilterLen, "longer than the limit of 2048"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseFilter(tc.in)
			if err == nil {
				t.Fatalf("ParseFilter(%q) = %v, want an error", tc.in, e)
			}
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T, want *FilterError", err, err)
			}
			if fe.Pos != tc.pos {
				t.Errorf("position: got %d, want %d (%v)", fe.Pos, tc.pos, err)
			}
			if !strings.HasPrefix(err.Error(), "filter: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to contain %q", err.Error(), tc.want)
			}
		})
	}
}

func TestParseFilterDepthLimitIsInclusive(t *testing.T) {
	in := strings.Repeat("(", MaxFilterDepth) + `eventType eq "x"` + strings.Repeat(")", MaxFilterDepth)
	if _, err := ParseFilter(in); err != nil {
		t.Fatalf("depth %d: %v", MaxFilterDepth, err)
	}
}

func TestString(t *testing.T) {
	a, b, c := cmp(AttrEventType, OpEq, "a"), cmp(AttrSeverity, OpSw, "B"), cmp(AttrTargetID, OpEq, `c"\`)
	tests := []struct {
		e    Expr
		want string
	}{
		{a, `eventType eq "a"`},
		{c, `target.id eq "c\"\\"`},
		{and(a, b), `eventType eq "a" and severity sw "B"`},
		{or(and(a, b), c), `eventType eq "a" and severity sw "B" or target.id eq "c\"\\"`},
		{and(or(a, b), c), `(eventType eq "a" or severity sw "B") and target.id eq "c\"\\"`},
		{and(a, and(b, c)), `eventType eq "a" and (severity sw "B" and target.id eq "c\"\\")`},
		{or(a, and(b, c)), `eventType eq "a" or severity sw "B" and target.id eq "c\"\\"`},
		{or(a, or(b, c)), `eventType eq "a" or (severity sw "B" or target.id eq "c\"\\")`},
	}
	for _, tc := range tests {
		got := exprString(tc.e)
		if got != tc.want {
			t.Errorf("got %s, want %s", got, tc.want)
		}
		back, err := ParseFilter(got)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", got, err)
		}
		if !reflect.DeepEqual(back, tc.e) {
			t.Errorf("round trip of %s: got %#v, want %#v", got, back, tc.e)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`eventType eq "system.custom_url_domain.verify"`,
		`(eventType eq "a" or target.id sw "b") and severity eq "warn"`,
		`eventType eq "q\"b\\s"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseFilter(s)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T, want *FilterError", err, err)
			}
			if fe.Pos < 0 || fe.Pos > len(s) && fe.Pos != MaxFilterLen {
				t.Fatalf("position %d outside the input of %d bytes", fe.Pos, len(s))
			}
			return
		}
		if e == nil {
			t.Fatalf("ParseFilter(%q) = nil, nil", s)
		}
		text := exprString(e)
		back, err := ParseFilter(text)
		if err != nil {
			t.Fatalf("ParseFilter(%q) = %#v rendered as %q, which does not parse: %v", s, e, text, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("round trip of %q through %q: got %#v, want %#v", s, text, back, e)
		}
		Match(e, Event{EventType: "a", Target: []Target{{ID: "b"}}})
	})
}
