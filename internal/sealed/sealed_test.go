package sealed

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "master.key")

	b1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode: got %04o, want 0600", got)
	}
	if fi.Size() != KeySize {
		t.Errorf("size: got %d, want %d", fi.Size(), KeySize)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "sub", ".master-key-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	sealed := b1.Seal([]byte("private key"), []byte("cert-key:a.example"))
	b2, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	pt, err := b2.Open(sealed, []byte("cert-key:a.example"))
	if err != nil {
		t.Fatalf("open with reloaded key: %v", err)
	}
	if string(pt) != "private key" {
		t.Errorf("got %q, want %q", pt, "private key")
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    string
	}{
		{"fail/world-readable", bytes.Repeat([]byte{1}, KeySize), 0o644, "chmod 600"},
		{"fail/group-readable", bytes.Repeat([]byte{1}, KeySize), 0o640, "chmod 600"},
		{"fail/short", []byte("short"), 0o600, "want exactly 32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, tc.content, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // umask
				t.Fatal(err)
			}
			_, err := LoadOrCreateKey(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	s := b.Seal([]byte("secret"), []byte("aad"))
	if bytes.Contains(s, []byte("secret")) {
		t.Fatal("sealed value contains the plaintext")
	}
	if s2 := b.Seal([]byte("secret"), []byte("aad")); bytes.Equal(s, s2) {
		t.Error("two seals of the same value are equal: nonce reused")
	}
	damaged := bytes.Clone(s)
	damaged[len(damaged)-1] ^= 1

	tests := []struct {
		name   string
		box    *Box
		sealed []byte
		aad    string
		ok     bool
	}{
		{"ok", b, s, "aad", true},
		{"fail/wrong-aad", b, s, "other", false},
		{"fail/wrong-key", other, s, "aad", false},
		{"fail/damaged", b, damaged, "aad", false},
		{"fail/truncated", b, s[:10], "aad", false},
		{"fail/empty", b, nil, "aad", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.box.Open(tc.sealed, []byte(tc.aad))
			if tc.ok {
				if err != nil || string(pt) != "secret" {
					t.Fatalf("got %q, %v; want secret", pt, err)
				}
				return
			}
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("got %v, want ErrOpen", err)
			}
		})
	}
}

func TestKeyNeverFormatted(t *testing.T) {
	key := bytes.Repeat([]byte{0xAB}, KeySize)
	b, _ := New(key)
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("box", "box", b)
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", b, b, b, b), logBuf.String()} {
		if strings.Contains(strings.ToLower(s), "abab") || strings.Contains(s, string(key)) {
			t.Fatalf("key material in formatted output: %q", s)
		}
		if !strings.Contains(s, "REDACTED") {
			t.Fatalf("got %q, want REDACTED", s)
		}
	}
}

func TestCheckValue(t *testing.T) {
	a, _ := New(bytes.Repeat([]byte{1}, KeySize))
	b, _ := New(bytes.Repeat([]byte{2}, KeySize))
	check := a.CheckValue()
	if !a.Matches(check) {
		t.Error("a key does not match its own check value")
	}
	if b.Matches(check) {
		t.Error("another key matches the check value")
	}
	if bytes.Contains(check, bytes.Repeat([]byte{1}, KeySize)) {
		t.Error("the check value holds the key")
	}
	if a.Matches(a.Seal(checkPlaintext, []byte("elsewhere"))) || a.Matches(nil) {
		t.Error("a value sealed for another place, or none, matches")
	}
}

func TestLoadKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if _, err := LoadKey(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadKey of a missing file: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("LoadKey created the file")
	}
	a, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadKey(path)
	if err != nil || !b.Matches(a.CheckValue()) {
		t.Errorf("LoadKey of the created key: %v; matches %v", err, err == nil && b.Matches(a.CheckValue()))
	}
}
