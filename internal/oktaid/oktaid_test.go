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

func TestDerive(t *testing.T) {
	a, b := Derive("00u", "tok1"), Derive("00u", "tok2")
	if !Valid("00u", a) || !Valid("00u", b) {
		t.Fatalf("Derive = %q, %q, want ids Valid with prefix 00u", a, b)
	}
	if again := Derive("00u", "tok1"); again != a {
		t.Errorf("Derive(tok1) = %q then %q, want the same id", a, again)
	}
	if a == b {
		t.Errorf("Derive(tok1) = Derive(tok2) = %q, want different ids", a)
	}
}
