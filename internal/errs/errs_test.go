package errs_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/errs"
)

func TestKindOf(t *testing.T) {
	taken := errs.New(errs.Conflict, "E0000161", "taken")
	for _, tc := range []struct {
		name string
		err  error
		kind errs.Kind
		code string
	}{
		{"sentinel", taken, errs.Conflict, "E0000161"},
		{"wrapped", fmt.Errorf("creating x: %w", taken), errs.Conflict, "E0000161"},
		{"field", fmt.Errorf("decoding: %w", &errs.FieldError{Field: "name", Reason: "empty"}), errs.Invalid, ""},
		{"fault", errors.New("disk on fire"), errs.Internal, ""},
		{"nil", nil, errs.Internal, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errs.KindOf(tc.err); got != tc.kind {
				t.Errorf("KindOf: got %s, want %s", got, tc.kind)
			}
			if got := errs.CodeOf(tc.err); got != tc.code {
				t.Errorf("CodeOf: got %q, want %q", got, tc.code)
			}
		})
	}
	if !errors.Is(fmt.Errorf("x: %w", taken), taken) {
		t.Error("errors.Is does not find the sentinel")
	}
}
