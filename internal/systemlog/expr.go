package systemlog

// Expr is a parsed filter expression: a Compare or a Logical.
type Expr interface{ expr() }

// Attributes a filter may name.
const (
	AttrEventType     = "eventType"
	AttrTargetID      = "target.id"
	AttrOutcomeResult = "outcome.result"
	AttrSeverity      = "severity"
	AttrActorID       = "actor.id"
	AttrUUID          = "uuid"
)

// Operators.
const (
	OpEq  = "eq"
	OpSw  = "sw"
	OpAnd = "and"
	OpOr  = "or"
)

// Compare is `attr op "value"`. For target.id it matches when any target
// matches.
type Compare struct {
	Attr  string
	Op    string // eq, sw
	Value string
}

// Logical is `left and right` or `left or right`.
type Logical struct {
	Op          string // and, or
	Left, Right Expr
}

func (Compare) expr() {}
func (Logical) expr() {}
