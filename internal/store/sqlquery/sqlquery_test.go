package sqlquery

import (
	"reflect"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

func TestEventWhereDollar(t *testing.T) {
	f, err := systemlog.ParseFilter(`eventType sw "a%_\\" or target.id eq "d1" and severity eq "warn"`)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Unix(0, 1000)
	b := NewBuilder(Dollar)
	got, err := b.EventWhere(systemlog.Query{OrgID: "org1", Since: since, AfterSeq: 7, Descending: true, Keywords: []string{"Login_"}, Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	want := `e.org_id = $1 AND e.published >= $2 AND e.seq < $3 AND e.search LIKE $4 ESCAPE '\' AND ` +
		`(e.event_type LIKE $5 ESCAPE '\' OR (e.seq IN (SELECT t.seq FROM event_targets t WHERE t.target_id = $6) AND e.severity = $7))`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	wantArgs := []any{"org1", int64(1000), int64(7), `%login\_%`, `a\%\_\\%`, "d1", "WARN"}
	if !reflect.DeepEqual(b.Args, wantArgs) {
		t.Errorf("args: got %#v, want %#v", b.Args, wantArgs)
	}
}

func TestEventWhereAllNoConstraint(t *testing.T) {
	b := NewBuilder(Question)
	got, err := b.EventWhere(systemlog.Query{All: true})
	if err != nil || got != "1=1" || len(b.Args) != 0 {
		t.Errorf("got %q, %v, args %v, want 1=1 without args", got, err, b.Args)
	}
}

func TestFilterRejectsForeignExprs(t *testing.T) {
	for _, e := range []systemlog.Expr{
		systemlog.Compare{Attr: "displayMessage", Op: systemlog.OpEq, Value: "x"},
		systemlog.Compare{Attr: systemlog.AttrEventType, Op: "co", Value: "x"},
		systemlog.Logical{Op: "xor", Left: systemlog.Compare{Attr: systemlog.AttrUUID, Op: systemlog.OpEq}, Right: systemlog.Compare{Attr: systemlog.AttrUUID, Op: systemlog.OpEq}},
		systemlog.Logical{Op: systemlog.OpAnd, Left: nil, Right: systemlog.Compare{Attr: "bad", Op: systemlog.OpEq}},
	} {
		if got, err := NewBuilder(Question).Filter(e); err == nil {
			t.Errorf("Filter(%#v) = %q, want an error", e, got)
		}
	}
}
