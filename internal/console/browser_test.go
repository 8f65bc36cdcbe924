package console

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
)

// chromium finds Debian's chromium, gated like the other service tiers: a
// missing browser fails under HALLMARK_REQUIRE_SERVICES=1 (CI) and skips
// loudly otherwise.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPED: browser tier: -short")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HALLMARK_REQUIRE_SERVICES") == "1" {
		t.Fatal("chromium is required (HALLMARK_REQUIRE_SERVICES=1) but not installed: apt-get install chromium")
	}
	t.Skip("SKIPPED: browser tier: chromium not installed (apt-get install chromium); set HALLMARK_REQUIRE_SERVICES=1 to make this a failure")
	return ""
}

// artifactDirs are where screenshots go: $HALLMARK_ARTIFACTS/console (or a
// temporary directory), and, outside CI, the repository's git-ignored
// artifacts/console for a person to look at.
func artifactDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	if a := os.Getenv("HALLMARK_ARTIFACTS"); a != "" {
		dirs = append(dirs, filepath.Join(a, "console"))
	} else {
		dirs = append(dirs, t.TempDir())
	}
	if os.Getenv("CI") == "" {
		if root, err := filepath.Abs("../.."); err == nil {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				dirs = append(dirs, filepath.Join(root, "artifacts", "console"))
			}
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

func newBrowser(t *testing.T, exe string) context.Context {
	t.Helper()
	// A fresh profile, removed by hand: chromium's helpers may still be
	// writing into it for a moment after the browser exits, which
	// t.TempDir's cleanup reports as a failure.
	profile, err := os.MkdirTemp("", "hallmark-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.Flag("headless", true),
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// One bound for the whole flow, so a hung browser fails the test.
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// TestBrowserStory1 is Story 1 in a real browser: a tenant admin adds a
// domain, publishes the records the page shows, reads the mistake the page
// explains, fixes it, sees VERIFIED, has a bad certificate refused, signs
// out; and cannot open another org's domain by URL.
func TestBrowserStory1(t *testing.T) {
	exe := chromium(t)
	e := newEnv(t, envOptions{})
	aID, aToken := e.newOrg("Acme Corp")
	bID, _ := e.newOrg("Bravo Inc")
	other := e.createDomain(bID, "sso.acme.test")
	dirs := artifactDirs(t)
	ctx := newBrowser(t, exe)
	base := e.srv.URL

	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			var html string
			_ = chromedp.Run(ctx, chromedp.OuterHTML("html", &html))
			t.Fatalf("%s: %v\npage:\n%.4000s", what, err, html)
		}
	}
	shot := func(name string) {
		t.Helper()
		var png []byte
		run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
		for _, d := range dirs {
			if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return s
	}

	// Sign in, by keyboard: type the token and press Enter.
	run("open sign-in", chromedp.Navigate(base+"/domains"), chromedp.WaitVisible("#token", chromedp.ByQuery))
	shot("01-signin")
	run("sign in", chromedp.SendKeys("#token", aToken+kb.Enter, chromedp.ByQuery),
		chromedp.WaitVisible(`a.button[href="/domains/new"]`, chromedp.ByQuery))
	if got := text("header .who span"); !strings.Contains(got, "Acme Corp") {
		t.Errorf("header shows %q, want the org's name", got)
	}

	// Add a domain.
	run("open add form", chromedp.Click(`a.button[href="/domains/new"]`, chromedp.ByQuery), chromedp.WaitVisible("#domain", chromedp.ByQuery))
	shot("02-add-domain")
	run("add domain", chromedp.SendKeys("#domain", "login.acme.test", chromedp.ByQuery),
		chromedp.Submit("#domain", chromedp.ByQuery),
		chromedp.WaitVisible("#records-h", chromedp.ByQuery))

	// Read the records as a person would, and check the copy buttons are
	// live (the script ran under the CSP).
	txtLabel, txtValue := text("#label-TXT"), text("#value-TXT")
	cnameLabel, cnameValue := text("#label-CNAME"), text("#value-CNAME")
	if txtLabel != "_hallmark-challenge.login" || cnameLabel != "login" || cnameValue != cnameTarget || len(txtValue) != 32 {
		t.Fatalf("records on the page: TXT %q = %q, CNAME %q = %q", txtLabel, txtValue, cnameLabel, cnameValue)
	}
	run("copy buttons shown", chromedp.WaitVisible(`#record-TXT button.copy`, chromedp.ByQuery))
	if hint := text("#zone-hint"); !strings.Contains(hint, "enter only the short name") {
		t.Errorf("registrar hint = %q", hint)
	}
	shot("03-records")

	// Publish them at "the DNS host" (the test's DNS world, whose names are
	// relative to the zone, like a registrar's form), first with quotes
	// pasted around the value.
	e.world.Set(txtLabel+` 300 IN TXT "\"`+txtValue+`\""`, cnameLabel+" 300 IN CNAME "+cnameValue+".")
	run("verify (quoted)", chromedp.Click("#verify", chromedp.ByQuery),
		chromedp.WaitVisible(`[data-finding="dns.value_quoted"]`, chromedp.ByQuery))
	quoted := text(`[data-finding="dns.value_quoted"]`)
	for _, want := range []string{"the value carries literal quotes or spaces", "Fix:", "enter the value as " + txtValue + ", with no quotes"} {
		if !strings.Contains(quoted, want) {
			t.Errorf("quoted-value finding %q lacks %q", quoted, want)
		}
	}
	if got := text("#status"); got != "Action needed: the TXT value has extra quotes" {
		t.Errorf("status after a failed verify = %q, want the cause in words", got)
	}
	shot("04-check-quoted-value")

	// Follow the fix: the value without quotes.
	e.world.Remove(txtLabel, "TXT")
	e.world.Set(txtLabel + ` 300 IN TXT "` + txtValue + `"`)
	run("verify (fixed)", chromedp.Click("#verify", chromedp.ByQuery), chromedp.WaitVisible("#all-good", chromedp.ByQuery))
	if got := text("#status"); got != "Verified" {
		t.Fatalf("status after the fix = %q, want Verified", got)
	}
	shot("05-verified")

	// A bad certificate is refused with the upload check's reason.
	bad := selfSigned(t, "login.acme.test")
	run("upload bad certificate",
		chromedp.Click("#own-cert > summary", chromedp.ByQuery),
		chromedp.WaitVisible("#upload-consequence", chromedp.ByQuery),
		chromedp.SetValue("#cert-pem", bad.cert, chromedp.ByQuery),
		chromedp.SetValue("#key-pem", bad.key, chromedp.ByQuery),
		chromedp.Click("#upload", chromedp.ByQuery),
		chromedp.WaitVisible("#upload-error", chromedp.ByQuery))
	if got := text("#upload-error"); !strings.Contains(got, "self-signed; upload a certificate issued by a certificate authority") {
		t.Errorf("upload refusal = %q", got)
	}
	var key string
	run("key cleared", chromedp.Value("#key-pem", &key, chromedp.ByQuery))
	if key != "" {
		t.Errorf("private key field kept %d characters after the refusal", len(key))
	}
	run("scroll to refusal", chromedp.ScrollIntoView("#upload-error", chromedp.ByQuery))
	shot("06-certificate-refused")

	// The domain list and the system log.
	run("domain list", chromedp.Navigate(base+"/domains"), chromedp.WaitVisible("table.list", chromedp.ByQuery))
	if got := text("table.list tbody"); !strings.Contains(got, "login.acme.test") || !strings.Contains(got, "Verified") || strings.Contains(got, other.Name) {
		t.Errorf("domain list = %q", got)
	}
	shot("07-domains")
	run("system log", chromedp.Navigate(base+"/logs"), chromedp.WaitVisible("table.log", chromedp.ByQuery))
	if got := text("table.log"); !strings.Contains(got, "Custom domain ownership verified") {
		t.Errorf("system log lacks the verify event: %q", got)
	}
	shot("08-logs")

	// Phone width.
	var id string
	ds, _ := e.domains.List(t.Context(), customdomain.Actor{OrgID: aID}, "", 10)
	for _, d := range ds {
		if d.Name == "login.acme.test" {
			id = d.ID
		}
	}
	run("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/domains/"+id), chromedp.WaitVisible("#records-h", chromedp.ByQuery))
	var overflow bool
	run("measure", chromedp.Evaluate(`document.documentElement.scrollWidth > document.documentElement.clientWidth`, &overflow))
	if overflow {
		t.Errorf("the domain page scrolls sideways at phone width")
	}
	shot("09-domain-phone")
	viewport := func(name string, sel string) {
		t.Helper()
		var png []byte
		run("screenshot "+name, chromedp.ScrollIntoView(sel, chromedp.ByQuery), chromedp.CaptureScreenshot(&png))
		for _, d := range dirs {
			if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	viewport("09a-phone-top", "h1")
	viewport("09b-phone-answers", "#answers")
	run("desktop", chromedp.EmulateViewport(1280, 900))

	// Org isolation by URL.
	run("other org's domain", chromedp.Navigate(base+"/domains/"+other.ID), chromedp.WaitVisible("h1", chromedp.ByQuery))
	if got := text("h1"); got != "Not found" {
		t.Errorf("other org's domain page h1 = %q, want Not found", got)
	}
	shot("10-other-org-not-found")

	// Sign out; the pages are closed again.
	run("sign out", chromedp.Click("header .who button", chromedp.ByQuery), chromedp.WaitVisible("#token", chromedp.ByQuery))
	if got := text("main"); !strings.Contains(got, "You are signed out") {
		t.Errorf("after sign-out: %q", got)
	}
	var loc string
	run("closed", chromedp.Navigate(base+"/domains/"+id), chromedp.WaitVisible("#token", chromedp.ByQuery), chromedp.Location(&loc))
	if !strings.Contains(loc, "/signin") {
		t.Errorf("after sign-out, the domain page led to %q, want the sign-in page", loc)
	}

	// The operator's pages.
	run("operator sign in", chromedp.SendKeys("#token", e.operator+kb.Enter, chromedp.ByQuery),
		chromedp.WaitVisible("#records-h", chromedp.ByQuery)) // back to the page asked for
	run("orgs", chromedp.Navigate(base+"/orgs"), chromedp.WaitVisible("#org-name", chromedp.ByQuery))
	shot("11-orgs")
	run("org", chromedp.Navigate(base+"/orgs/"+aID), chromedp.WaitVisible("#token-name", chromedp.ByQuery),
		chromedp.SendKeys("#token-name", "CI robot", chromedp.ByQuery),
		chromedp.Submit("#token-name", chromedp.ByQuery),
		chromedp.WaitVisible("#token-secret", chromedp.ByQuery))
	if got := text("#token-secret"); !strings.HasPrefix(got, "hm_") {
		t.Errorf("new token shown as %q", got)
	}
	shot("12-org-new-token")
}
