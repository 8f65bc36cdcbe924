package oktaid

import "testing"

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New("dom")
		if !Valid("dom", id) {
			t.Fatalf("New(dom) = %q, not Valid", id)
		}
		if seen[id] {
			t.Fatalf("New(dom) repeated %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "dom", "bnd0123456789ABCDEFG", "dom0123456789ABCDEF-", "dom0123456789ABCDEFGH"} {
		if Valid("dom", bad) {
			t.Errorf("Valid(dom, %q) = true, want false", bad)
		}
	}
}
