package systemlog

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of ParseFilter. They bound the work one request can cause: the
// parser, Match and the SQL a store builds are all linear in the input and
// recurse at most MaxFilterDepth levels on parentheses.
const (
	MaxFilterLen   = 2048
	MaxFilterDepth = 32
)

// attrs lists the attributes a filter may name, in the order error messages
// show them.
var attrs = []string{AttrEventType, AttrTargetID, AttrOutcomeResult, AttrSeverity, AttrActorID, AttrUUID}

// FilterError is a filter that does not parse. Pos is the byte offset in the
// input where the problem is.
type FilterError struct {
	Pos  int
	Msg  string // what is wrong
	Hint string // what to write instead; may be empty
}

func (e *FilterError) Error() string { return "filter: " + e.Detail() }

// Detail is the message without the "filter: " prefix.
func (e *FilterError) Detail() string {
	s := fmt.Sprintf("%s at position %d", e.Msg, e.Pos)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// ParseFilter parses an Okta (SCIM) filter expression:
//
//	eventType eq "system.custom_url_domain.verify" and (outcome.result eq "FAILURE" or severity sw "WA")
//
// Operators eq and sw compare strings; and binds tighter than or; both are
// left-associative. Keywords (eq, sw, and, or) and attribute names are
// case-insensitive; attributes come back in their canonical spelling.
// Values are double-quoted with \" and \\ as the only escapes.
//
// Matching is exact and case-sensitive (SCIM caseExact), in Match and in
// every store, so that an index on the column serves eq and sw. Because
// severity and outcome.result are enumerations whose values Okta writes in
// upper case, ParseFilter upper-cases their values: `severity eq "warn"`
// finds WARN events. Log.Append stores those two fields upper-cased too.
func ParseFilter(s string) (Expr, error) {
	if len(s) > MaxFilterLen {
		return nil, &FilterError{Pos: MaxFilterLen, Msg: fmt.Sprintf("expression is %d bytes long, longer than the limit of %d", len(s), MaxFilterLen), Hint: "split the query"}
	}
	if !utf8.ValidString(s) {
		pos := 0
		for i, r := range s {
			if r == utf8.RuneError {
				if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
					pos = i
					break
				}
			}
		}
		return nil, &FilterError{Pos: pos, Msg: "invalid UTF-8"}
	}
	p := &parser{lx: lexer{src: s}}
	p.next()
	if p.err != nil {
		return nil, p.err
	}
	if p.tok.kind == tokEOF {
		return nil, &FilterError{Pos: 0, Msg: "empty expression", Hint: `write attr eq "value", e.g. eventType eq "` + DomainVerify + `"`}
	}
	e := p.parseOr(0)
	if p.err != nil {
		return nil, p.err
	}
	if p.tok.kind != tokEOF {
		switch p.tok.kind {
		case tokRParen:
			return nil, &FilterError{Pos: p.tok.pos, Msg: "unbalanced )"}
		default:
			return nil, &FilterError{Pos: p.tok.pos, Msg: fmt.Sprintf("expected and or or, found %s", p.tok.describe())}
		}
	}
	return e, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokLParen
	tokRParen
)

type token struct {
	kind tokKind
	pos  int
	text string // word as written, or the unescaped string value
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokWord:
		return strconv.Quote(t.text)
	case tokString:
		return "string " + strconv.Quote(t.text)
	case tokLParen:
		return "("
	default:
		return ")"
	}
}

type lexer struct {
	src string
	pos int
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func (l *lexer) next() (token, *FilterError) {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\n' || l.src[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	switch c := l.src[l.pos]; {
	case c == '(':
		l.pos++
		return token{kind: tokLParen, pos: start}, nil
	case c == ')':
		l.pos++
		return token{kind: tokRParen, pos: start}, nil
	case c == '"':
		var b strings.Builder
		l.pos++
		for {
			if l.pos >= len(l.src) {
				return token{}, &FilterError{Pos: start, Msg: "unterminated string", Hint: `close it with "`}
			}
			c := l.src[l.pos]
			switch {
			case c == '"':
				l.pos++
				return token{kind: tokString, pos: start, text: b.String()}, nil
			case c == '\\':
				if l.pos+1 >= len(l.src) {
					return token{}, &FilterError{Pos: start, Msg: "unterminated string", Hint: `close it with "`}
				}
				e := l.src[l.pos+1]
				if e != '"' && e != '\\' {
					return token{}, &FilterError{Pos: l.pos, Msg: fmt.Sprintf("invalid escape \\%c in string", rune(e)), Hint: `only \" and \\ are escapes`}
				}
				b.WriteByte(e)
				l.pos += 2
			case c < 0x20 || c == 0x7f:
				return token{}, &FilterError{Pos: l.pos, Msg: fmt.Sprintf("control character %#02x in string", c)}
			default:
				b.WriteByte(c)
				l.pos++
			}
		}
	case isWordByte(c):
		for l.pos < len(l.src) && isWordByte(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tokWord, pos: start, text: l.src[start:l.pos]}, nil
	case c == '\'':
		return token{}, &FilterError{Pos: start, Msg: "single quote", Hint: `quote values with "`}
	default:
		r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
		return token{}, &FilterError{Pos: start, Msg: fmt.Sprintf("unexpected character %q", r)}
	}
}

type parser struct {
	lx  lexer
	tok token
	err *FilterError
}

func (p *parser) next() {
	if p.err != nil {
		return
	}
	t, err := p.lx.next()
	if err != nil {
		p.err = err
		p.tok = token{kind: tokEOF, pos: err.Pos}
		return
	}
	p.tok = t
}

func (p *parser) fail(pos int, msg, hint string) {
	if p.err == nil {
		p.err = &FilterError{Pos: pos, Msg: msg, Hint: hint}
	}
}

func (p *parser) isWord(w string) bool {
	return p.tok.kind == tokWord && strings.EqualFold(p.tok.text, w)
}

// parseOr: and-expr { or and-expr }
func (p *parser) parseOr(depth int) Expr {
	left := p.parseAnd(depth)
	for p.err == nil && p.isWord(OpOr) {
		p.next()
		right := p.parseAnd(depth)
		left = Logical{Op: OpOr, Left: left, Right: right}
	}
	return left
}

// parseAnd: term { and term }
func (p *parser) parseAnd(depth int) Expr {
	left := p.parseTerm(depth)
	for p.err == nil && p.isWord(OpAnd) {
		p.next()
		right := p.parseTerm(depth)
		left = Logical{Op: OpAnd, Left: left, Right: right}
	}
	return left
}

// parseTerm: ( or-expr ) | attr op "value"
func (p *parser) parseTerm(depth int) Expr {
	if p.err != nil {
		return nil
	}
	switch p.tok.kind {
	case tokLParen:
		if depth >= MaxFilterDepth {
			p.fail(p.tok.pos, fmt.Sprintf("parentheses nested deeper than %d", MaxFilterDepth), "simplify the expression")
			return nil
		}
		open := p.tok.pos
		p.next()
		if p.tok.kind == tokRParen {
			p.fail(p.tok.pos, "empty parentheses", "")
			return nil
		}
		e := p.parseOr(depth + 1)
		if p.err != nil {
			return nil
		}
		if p.tok.kind != tokRParen {
			p.fail(p.tok.pos, fmt.Sprintf("expected ) to close the ( at position %d, found %s", open, p.tok.describe()), "")
			return nil
		}
		p.next()
		return e
	case tokWord:
		return p.parseCompare()
	case tokEOF:
		p.fail(p.tok.pos, "unexpected end of input", `expected attr eq "value" or (`)
	default:
		p.fail(p.tok.pos, fmt.Sprintf("expected an attribute or (, found %s", p.tok.describe()), "use one of "+strings.Join(attrs, ", "))
	}
	return nil
}

// unsupported lists SCIM operators Hallmark does not evaluate.
var unsupported = []string{"ne", "co", "ew", "gt", "ge", "lt", "le", "pr", "not"}

func (p *parser) parseCompare() Expr {
	at := p.tok
	attr := canonicalAttr(at.text)
	if attr == "" {
		if strings.EqualFold(at.text, "not") {
			p.fail(at.pos, "operator not is not supported", "")
			return nil
		}
		p.fail(at.pos, fmt.Sprintf("unknown attribute %q", at.text), "use one of "+strings.Join(attrs, ", "))
		return nil
	}
	p.next()
	if p.err != nil {
		return nil
	}
	opTok := p.tok
	var op string
	switch {
	case p.isWord(OpEq):
		op = OpEq
	case p.isWord(OpSw):
		op = OpSw
	case opTok.kind == tokWord && containsFold(unsupported, opTok.text):
		p.fail(opTok.pos, fmt.Sprintf("operator %s is not supported", strings.ToLower(opTok.text)), "use eq or sw")
		return nil
	default:
		p.fail(opTok.pos, fmt.Sprintf("expected eq or sw after %s, found %s", attr, opTok.describe()), "")
		return nil
	}
	p.next()
	if p.err != nil {
		return nil
	}
	if p.tok.kind != tokString {
		p.fail(p.tok.pos, fmt.Sprintf("expected a double-quoted value after %s %s, found %s", attr, op, p.tok.describe()), `write it as "value"`)
		return nil
	}
	v := p.tok.text
	p.next()
	return Compare{Attr: attr, Op: op, Value: canonicalValue(attr, v)}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func canonicalAttr(s string) string {
	for _, a := range attrs {
		if strings.EqualFold(a, s) {
			return a
		}
	}
	return ""
}

// canonicalValue upper-cases the values of the enumerated attributes (see
// ParseFilter). ASCII only, so that the byte length and every other
// character stay as written.
func canonicalValue(attr, v string) string {
	if attr == AttrSeverity || attr == AttrOutcomeResult {
		return asciiUpper(v)
	}
	return v
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// String renders the comparison in filter syntax; ParseFilter reads it back
// to an equal Compare.
func (c Compare) String() string {
	return c.Attr + " " + c.Op + " " + quote(c.Value)
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// String renders the expression in filter syntax with the parentheses its
// shape needs; ParseFilter reads it back to an equal Logical.
func (l Logical) String() string {
	return render(l.Left, l.Op, false) + " " + l.Op + " " + render(l.Right, l.Op, true)
}

func render(e Expr, parentOp string, right bool) string {
	s := exprString(e)
	if c, ok := e.(Logical); ok {
		// The parser builds left-deep trees and binds and tighter than
		// or, so a right operand that is itself Logical, or an or under
		// an and, needs parentheses.
		if right && precedence(c.Op) <= precedence(parentOp) || precedence(c.Op) < precedence(parentOp) {
			return "(" + s + ")"
		}
	}
	return s
}

func precedence(op string) int {
	if op == OpAnd {
		return 2
	}
	return 1
}

func exprString(e Expr) string {
	switch e := e.(type) {
	case Compare:
		return e.String()
	case Logical:
		return e.String()
	case nil:
		return ""
	default:
		return fmt.Sprint(e)
	}
}
