package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of size bytes at dir for the test, or skips
// loudly (fails under HALLMARK_REQUIRE_SERVICES=1) where it cannot mount.
func mountTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		msg := fmt.Sprintf("SKIPPED: cannot mount a %d-byte tmpfs at %s (%v): the full-disk test needs root or CAP_SYS_ADMIN", size, dir, err)
		if os.Getenv("HALLMARK_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg + " (required: HALLMARK_REQUIRE_SERVICES=1)")
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
}

// fill writes to a file under dir until the file system is full and
// returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for range 1 << 14 { // bounded: at most 1 GiB
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the file system did not fill up")
	return ""
}

// raw sends a request and returns the status, headers and body.
func (h *hallmark) raw(method, path string, body any) (int, http.Header, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+h.api+path, rd)
	req.Header.Set("Authorization", "SSWS "+e2eToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestServeFullDisk runs serve on a small tmpfs, fills it, and checks that
// writes get a 503 that says the storage is full, that /readyz turns not
// ready while reads keep working, and that both recover once there is room
// again. (A tmpfs cannot be remounted read-only under open files; the
// read-only database is tested in internal/store/sqlite.)
func TestServeFullDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, dir, 16<<20)
	h := startHallmark(t, &hallmark{dataDir: dir}, newWorld(t))
	if st, _, b := h.raw("POST", "/api/v1/orgs", map[string]string{"name": "Before"}); st != 201 {
		t.Fatalf("create org before the disk fills: %d %s", st, b)
	}

	wantUnavailable := func(what, cause string) {
		t.Helper()
		// The first writes may still fit in pages SQLite already holds.
		var st int
		var hdr http.Header
		var b []byte
		for i := range 50 {
			st, hdr, b = h.raw("POST", "/api/v1/orgs", map[string]string{"name": fmt.Sprintf("During %s %d %s", what, i, strings.Repeat("x", 150))})
			if st != 201 {
				break
			}
		}
		var e struct {
			ErrorCode   string
			ErrorCauses []struct{ ErrorSummary string }
		}
		json.Unmarshal(b, &e)
		if st != 503 || e.ErrorCode != "E0000010" || len(e.ErrorCauses) == 0 || !strings.Contains(e.ErrorCauses[0].ErrorSummary, cause) || hdr.Get("Retry-After") == "" {
			t.Fatalf("write on a %s disk: %d %s (Retry-After %q), want 503 E0000010 saying %q with Retry-After", what, st, b, hdr.Get("Retry-After"), cause)
		}
		st, hdr, b = h.raw("GET", "/readyz", nil)
		if st != 503 || !strings.Contains(string(b), cause) || hdr.Get("Retry-After") == "" {
			t.Fatalf("/readyz on a %s disk: %d %s, want 503 saying %q", what, st, b, cause)
		}
		if st, _, b := h.raw("GET", "/api/v1/orgs", nil); st != 200 || !strings.Contains(string(b), "Before") {
			t.Fatalf("read on a %s disk: %d %s, want 200 with the orgs", what, st, b)
		}
	}
	wantRecovered := func(what string) {
		t.Helper()
		if st, _, b := h.raw("GET", "/readyz", nil); st != 200 {
			t.Fatalf("/readyz after the %s disk recovered: %d %s", what, st, b)
		}
		if st, _, b := h.raw("POST", "/api/v1/orgs", map[string]string{"name": "After " + what}); st != 201 {
			t.Fatalf("write after the %s disk recovered: %d %s", what, st, b)
		}
	}

	filler := fill(t, dir)
	wantUnavailable("full", "the storage is full")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	wantRecovered("full")
}
