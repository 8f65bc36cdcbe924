package console

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
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
	// Chromium now and then exits while starting when the machine is
	// busy (CI runs every package's tests at once): that is the
	// environment, not the console, so a start is tried three times,
	// each failure logged. Anything after the start fails the test.
	var errs []error
	for attempt := range 3 {
		ctx, stop, err := startBrowser(exe)
		if err == nil {
			t.Cleanup(stop)
			return ctx
		}
		stop()
		errs = append(errs, err)
		t.Logf("starting chromium, attempt %d of 3: %v", attempt+1, err)
		if attempt < 2 {
			time.Sleep(time.Second)
		}
	}
	t.Fatalf("starting chromium: %v", errors.Join(errs...))
	return nil
}

// startBrowser starts headless chromium on a fresh profile; stop ends it
// and removes the profile, whether or not it started.
func startBrowser(exe string) (ctx context.Context, stop func(), err error) {
	// The profile is removed by hand: chromium's helpers may still be
	// writing into it for a moment after the browser exits, which
	// t.TempDir's cleanup reports as a failure.
	profile, err := os.MkdirTemp("", "hallmark-chromium-")
	if err != nil {
		return nil, func() {}, err
	}
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
	stop = func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return ctx, stop, chromedp.Run(ctx)
}

// tab is one browser tab of a test, with the checks every page gets: no
// console error, no sideways scrolling, and axe-core's accessibility rules.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	dirs []string

	mu   sync.Mutex
	errs []string // console errors, exceptions and failed loads seen
}

//go:embed testdata/axe.min.js
var axeSource string

func newTab(t *testing.T, exe, base string) *tab {
	t.Helper()
	b := &tab{t: t, ctx: newBrowser(t, exe), base: base, dirs: artifactDirs(t)}
	chromedp.ListenTarget(b.ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeWarning {
				msg = "console." + string(ev.Type) + ":"
				for _, a := range ev.Args {
					msg += " " + string(a.Value) + a.Description
				}
			}
		case *log.EventEntryAdded:
			e := ev.Entry
			// A page answered 4xx on purpose (an error page, a refused
			// form) is logged as a failed load of the document; failed
			// loads of anything else (the favicon, a script, the status
			// endpoint) are errors.
			if e.Level == log.LevelError && !(e.Source == log.SourceNetwork && isPage(e.URL)) {
				msg = "log " + string(e.Source) + ": " + e.Text + " " + e.URL
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errs = append(b.errs, msg)
			b.mu.Unlock()
		}
	})
	b.run("enable the log", log.Enable())
	// The error check itself must see errors: a probe proves it does.
	b.run("probe", chromedp.Navigate(base+"/static/console.css"), chromedp.Evaluate(`console.error("probe"); true`, nil))
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		seen := len(b.errs) > 0
		b.errs = nil
		b.mu.Unlock()
		if seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the browser's console errors are not seen: the test's error check would pass blindly")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return b
}

// isPage reports whether u is one of the console's pages (not a static
// file, the favicon or the status endpoint).
func isPage(u string) bool {
	return !strings.Contains(u, "/static/") && !strings.Contains(u, "favicon") && !strings.HasSuffix(strings.SplitN(u, "?", 2)[0], "/status")
}

func (b *tab) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		var html string
		_ = chromedp.Run(b.ctx, chromedp.OuterHTML("html", &html))
		b.t.Fatalf("%s: %v\npage:\n%.4000s", what, err, html)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	var s string
	b.run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return strings.TrimSpace(s)
}

func (b *tab) eval(what, js string, res any) {
	b.t.Helper()
	b.run(what, chromedp.Evaluate(js, res))
}

// shot saves a full-page screenshot at 1280 px and at 390 px wide, and
// checks that neither scrolls sideways.
func (b *tab) shot(name string) {
	b.t.Helper()
	for _, w := range []int64{1280, 390} {
		b.run("resize for "+name, chromedp.EmulateViewport(w, 900), chromedp.Sleep(50*time.Millisecond))
		b.noSideways(fmt.Sprintf("%s at %d px", name, w))
		// The whole page in one window as tall as the page, so that no
		// scrollbar takes width from the picture.
		var h int64
		var png []byte
		b.eval("page height", `document.documentElement.scrollHeight`, &h)
		b.run("screenshot "+name, chromedp.EmulateViewport(w, min(h, 8000)), chromedp.Sleep(50*time.Millisecond), chromedp.CaptureScreenshot(&png))
		for _, d := range b.dirs {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
				b.t.Fatal(err)
			}
		}
	}
	b.run("back to desktop", chromedp.EmulateViewport(1280, 900))
}

// phone saves what a 390 × 844 phone screen shows with sel scrolled to
// the top.
func (b *tab) phone(name, sel string) {
	b.t.Helper()
	var png []byte
	b.run("phone screenshot "+name, chromedp.EmulateViewport(390, 844), chromedp.Sleep(50*time.Millisecond),
		chromedp.Evaluate(`document.querySelector(`+strconv.Quote(sel)+`).scrollIntoView(); true`, nil),
		chromedp.CaptureScreenshot(&png), chromedp.EmulateViewport(1280, 900))
	for _, d := range b.dirs {
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// noSideways fails when the page is wider than the window, naming the
// elements that stick out.
func (b *tab) noSideways(what string) {
	b.t.Helper()
	var r struct {
		Scroll, Client int
		Wide           []string
	}
	b.eval("measure "+what, `(() => {
		const de = document.documentElement, wide = [];
		for (const el of document.body.querySelectorAll("*")) {
			const box = el.getBoundingClientRect();
			if (box.right > de.clientWidth + 1 && wide.length < 8) wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + el.className + " right=" + Math.round(box.right));
		}
		return {Scroll: de.scrollWidth, Client: de.clientWidth, Wide: wide};
	})()`, &r)
	if r.Scroll > r.Client {
		b.t.Errorf("%s scrolls sideways: scrollWidth %d > clientWidth %d; wide: %v", what, r.Scroll, r.Client, r.Wide)
	}
}

// axe runs axe-core (vendored in testdata, injected here: nothing is
// fetched at run time) and fails on serious and critical violations.
func (b *tab) axe(what string) {
	b.t.Helper()
	var defined bool
	b.eval("axe present", `typeof window.axe === "object"`, &defined)
	if !defined {
		b.run("inject axe", chromedp.Evaluate(axeSource, nil))
	}
	var res struct {
		Passes int
		Found  []string
	}
	b.run("axe "+what, chromedp.Evaluate(`axe.run(document).then(r => ({Passes: r.passes.length,
		Found: r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => v.impact + " " + v.id + ": " + v.help + " at " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "))}))`,
		&res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if res.Passes == 0 {
		b.t.Errorf("accessibility (%s): axe-core checked nothing", what)
	}
	for _, v := range res.Found {
		b.t.Errorf("accessibility (%s): %s", what, v)
	}
}

// check is every page's checks: axe and no sideways scrolling at both
// widths, with a screenshot of each.
func (b *tab) check(name string) {
	b.t.Helper()
	b.axe(name)
	b.shot(name)
}

// noErrors fails on any console error seen so far.
func (b *tab) noErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errs {
		b.t.Errorf("browser console: %s", e)
	}
	b.errs = nil
}

// open navigates to path and waits for sel.
func (b *tab) open(path, sel string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(sel, chromedp.ByQuery))
}

func (b *tab) signIn(token, waitFor string) {
	b.t.Helper()
	b.run("sign in", chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.SendKeys("#token", token+kb.Enter, chromedp.ByQuery),
		chromedp.WaitVisible(waitFor, chromedp.ByQuery))
}

// submit clicks sel, which submits a form, and waits for the next page.
func (b *tab) submit(sel string) {
	b.t.Helper()
	b.run("submit "+sel,
		chromedp.Evaluate(`document.body.appendChild(Object.assign(document.createElement("i"), {id: "stale-page"})); true`, nil),
		chromedp.Click(sel, chromedp.ByQuery),
		chromedp.WaitNotPresent("#stale-page", chromedp.ByQuery),
		chromedp.WaitReady("body", chromedp.ByQuery))
}

// waitFor waits, without reloading, until the expression is true.
func (b *tab) waitFor(what, js string, within time.Duration) {
	b.t.Helper()
	b.run(what, chromedp.Poll(js, nil, chromedp.WithPollingTimeout(within), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// TestBrowserStory1 is Story 1 in a real browser: a tenant admin adds a
// domain, sees at once what to publish, publishes it with a mistake, reads
// the cause and the fix, fixes it, sees Verified, has a bad certificate
// refused, reads the system log through its filters, signs out; and cannot
// open another org's domain by URL. Every page is checked at 1280 and
// 390 px (no sideways scrolling), by axe-core, and for console errors.
func TestBrowserStory1(t *testing.T) {
	exe := chromium(t)
	e := newEnv(t, envOptions{})
	aID, aToken := e.newOrg("Acme Corp")
	bID, _ := e.newOrg("Bravo Inc")
	other := e.createDomain(bID, "sso.acme.test")
	b := newTab(t, exe, e.srv.URL)

	// Sign in, by keyboard: type the token and press Enter.
	b.open("/domains", "#token")
	b.check("01-signin")
	b.signIn(aToken, `a.button[href="/domains/new"]`)
	b.check("01b-no-domains-yet")
	if got := b.text("header .who span"); !strings.Contains(got, "Acme Corp") {
		t.Errorf("header shows %q, want the org's name", got)
	}
	var signout struct{ W, H float64 }
	b.eval("sign-out size", `(() => { const r = document.querySelector("header .who button").getBoundingClientRect(); return {W: r.width, H: r.height}; })()`, &signout)
	if signout.W < 24 || signout.H < 24 {
		t.Errorf("Sign out target is %.0f×%.0f px, want at least 24×24", signout.W, signout.H)
	}
	if got := b.text(`nav a[aria-current="page"]`); got != "Domains" {
		t.Errorf("current navigation item on the list = %q, want Domains", got)
	}

	// Add a domain; a refused name keeps "Add a domain" current.
	b.run("open add form", chromedp.Click(`a.button[href="/domains/new"]`, chromedp.ByQuery), chromedp.WaitVisible("#domain", chromedp.ByQuery))
	b.check("02-add-domain")
	b.run("add a URL", chromedp.SendKeys("#domain", "https://login.acme.test/x", chromedp.ByQuery),
		chromedp.Submit("#domain", chromedp.ByQuery), chromedp.WaitVisible("#domain-error", chromedp.ByQuery))
	if got := b.text(`nav a[aria-current="page"]`); got != "Add a domain" {
		t.Errorf("current navigation item after a refused Add domain = %q, want Add a domain", got)
	}
	var invalid string
	b.eval("name marked invalid", `document.getElementById("domain").getAttribute("aria-invalid")`, &invalid)
	if invalid != "true" {
		t.Errorf("refused name field aria-invalid = %q, want true", invalid)
	}
	b.run("add domain", chromedp.SetValue("#domain", "login.acme.test", chromedp.ByQuery),
		chromedp.Submit("#domain", chromedp.ByQuery),
		chromedp.WaitVisible("#records-h", chromedp.ByQuery))

	// The next step first: the status in words right under the name,
	// then the records to publish, neutral before the first check.
	var under string
	b.eval("status under h1", `document.querySelector("main h1").nextElementSibling.querySelector("#status").textContent`, &under)
	if under != "Waiting for DNS" {
		t.Errorf("status under the name = %q, want Waiting for DNS", under)
	}
	var headers []string
	b.eval("record headers", `[...document.querySelectorAll("table.records thead th")].map(th => th.textContent)`, &headers)
	if len(headers) < 3 || headers[0] != "Type" || headers[1] != "Name" || headers[2] != "Value" {
		t.Errorf("records table headers = %q, want Type, Name, Value first", headers)
	}
	for _, typ := range []string{"TXT", "CNAME"} {
		if got := b.text("#mark-" + typ); got != "not published yet" {
			t.Errorf("%s record before the first check: %q, want not published yet", typ, got)
		}
	}
	var errorBoxes int
	b.eval("no error before the first check", `document.querySelectorAll("li.finding.sev-error").length`, &errorBoxes)
	if errorBoxes != 0 {
		t.Errorf("%d error findings shown before the records were asked for", errorBoxes)
	}
	txtLabel, txtValue := b.text("#label-TXT"), b.text("#value-TXT")
	cnameLabel, cnameValue := b.text("#label-CNAME"), b.text("#value-CNAME")
	if txtLabel != "_hallmark-challenge.login" || cnameLabel != "login" || cnameValue != cnameTarget || len(txtValue) != 32 {
		t.Fatalf("records on the page: TXT %q = %q, CNAME %q = %q", txtLabel, txtValue, cnameLabel, cnameValue)
	}
	var copyButtons int
	b.eval("copy buttons", `document.querySelectorAll("table.records td:nth-child(-n+3) button.copy:not([hidden])").length`, &copyButtons)
	if copyButtons != 2*4 { // Type, Name, full name and Value of each record
		t.Errorf("%d copy buttons shown in the records table, want 8", copyButtons)
	}
	// "Copied" is announced by a live region that was there before.
	var region string
	b.eval("live region", `document.getElementById("announcer").getAttribute("aria-live")`, &region)
	if region != "polite" {
		t.Errorf("announcer aria-live = %q, want polite", region)
	}
	b.run("copy the value", chromedp.Click(`#record-TXT td[data-label="Value"] button.copy`, chromedp.ByQuery))
	b.waitFor("Copied announced", `document.getElementById("announcer").textContent === "Copied"`, 5*time.Second)
	if hint := b.text("#zone-hint"); !strings.Contains(hint, "enter only the short name") {
		t.Errorf("registrar hint = %q", hint)
	}
	b.check("03-records")
	b.phone("03-records-phone-screen", "main")

	// Publish them at "the DNS host" (the test's DNS world, whose names are
	// relative to the zone, like a registrar's form), first with quotes
	// pasted around the value.
	e.world.Set(txtLabel+` 300 IN TXT "\"`+txtValue+`\""`, cnameLabel+" 300 IN CNAME "+cnameValue+".")
	b.run("verify (quoted)", chromedp.Click("#verify", chromedp.ByQuery),
		chromedp.WaitVisible(`[data-finding="dns.value_quoted"]`, chromedp.ByQuery))
	if got := b.text("#status"); got != "Action needed: the TXT value has extra quotes" {
		t.Errorf("status after a failed verify = %q, want the cause in words", got)
	}
	if got, want := b.text("#mark-TXT"), "✗ value has extra quotes"; got != want {
		t.Errorf("TXT mark = %q, want %q", got, want)
	}
	if got, want := b.text("#mark-CNAME"), "✓ published"; got != want {
		t.Errorf("CNAME mark = %q, want %q", got, want)
	}
	// The finding leads with the cause, then the fix and its copy button;
	// the evidence opens on demand.
	var order []string
	b.eval("finding order", `[...document.querySelector('[data-finding="dns.value_quoted"]').children].map(c => c.className || c.tagName.toLowerCase())`, &order)
	if strings.Join(order, " ") != "summary fix fix-copy evidence" {
		t.Errorf("the finding's parts in order: %q, want summary, fix, fix-copy, evidence", order)
	}
	quoted := b.text(`[data-finding="dns.value_quoted"]`)
	for _, want := range []string{"the value carries literal quotes or spaces", "Fix:", "enter the value as " + txtValue + ", with no quotes"} {
		if !strings.Contains(quoted, want) {
			t.Errorf("quoted-value finding %q lacks %q", quoted, want)
		}
	}
	var evidenceShown bool
	b.eval("evidence closed", `document.querySelector('[data-finding="dns.value_quoted"] details.evidence .detail').checkVisibility()`, &evidenceShown)
	if evidenceShown {
		t.Errorf("the evidence is shown before it is asked for")
	}
	b.run("open evidence", chromedp.Click(`[data-finding="dns.value_quoted"] details.evidence summary`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-finding="dns.value_quoted"] details.evidence .detail`, chromedp.ByQuery))
	b.run("open answers", chromedp.Click("#answers summary", chromedp.ByQuery), chromedp.WaitVisible("#answers table.answers", chromedp.ByQuery))
	b.check("04-check-quoted-value")
	b.phone("04-check-phone-screen", "main")
	b.phone("04-finding-phone-screen", "#check")

	// Follow the fix: the value without quotes.
	e.world.Remove(txtLabel, "TXT")
	e.world.Set(txtLabel + ` 300 IN TXT "` + txtValue + `"`)
	b.run("verify (fixed)", chromedp.Click("#verify", chromedp.ByQuery), chromedp.WaitVisible("#all-good", chromedp.ByQuery))
	if got := b.text("#status"); got != "Verified" {
		t.Fatalf("status after the fix = %q, want Verified", got)
	}
	for _, typ := range []string{"TXT", "CNAME"} {
		if got := b.text("#mark-" + typ); got != "✓ published" {
			t.Errorf("%s mark after the fix = %q, want ✓ published", typ, got)
		}
	}
	if got := b.text("#records-h"); got != "DNS records" {
		t.Errorf("records heading of a verified domain = %q, want DNS records (not a to-do)", got)
	}
	// "Last checked … ago" stays true while the page is open (nothing
	// changes the domain here: only the page's clock moves the words).
	b.eval("mark the time", `window.hallmarkSeen = document.querySelector("#last-checked time.rel").textContent; true`, nil)
	b.waitFor("last checked kept current", `/^\d+s ago$/.test(document.querySelector("#last-checked time.rel").textContent) &&
		document.querySelector("#last-checked time.rel").textContent !== window.hallmarkSeen`, 10*time.Second)
	b.check("05-verified")

	// Uploading sits behind "Use my own certificate", which says it ends
	// automatic renewal; a bad certificate is refused with the reason.
	var formShown bool
	b.eval("upload form closed", `document.getElementById("cert-pem").checkVisibility()`, &formShown)
	if formShown {
		t.Errorf("the upload form of a managed domain is open before it is asked for")
	}
	b.run("open upload", chromedp.Click("#own-cert > summary", chromedp.ByQuery), chromedp.WaitVisible("#upload-consequence", chromedp.ByQuery))
	if got := b.text("#upload-consequence"); !strings.Contains(got, "ends automatic renewal") {
		t.Errorf("upload consequence = %q", got)
	}
	bad := selfSigned(t, "login.acme.test")
	b.run("upload bad certificate",
		chromedp.SetValue("#cert-pem", bad.cert, chromedp.ByQuery),
		chromedp.SetValue("#key-pem", bad.key, chromedp.ByQuery),
		chromedp.Click("#upload", chromedp.ByQuery),
		chromedp.WaitVisible("#upload-error", chromedp.ByQuery))
	if got := b.text("#upload-error"); !strings.Contains(got, "self-signed; upload a certificate issued by a certificate authority") {
		t.Errorf("upload refusal = %q", got)
	}
	var key string
	b.run("key cleared", chromedp.Value("#key-pem", &key, chromedp.ByQuery))
	if key != "" {
		t.Errorf("private key field kept %d characters after the refusal", len(key))
	}
	b.run("scroll to refusal", chromedp.ScrollIntoView("#upload-error", chromedp.ByQuery))
	b.axe("06-certificate-refused")

	// The domain list: cards on a phone, with the status and the latest
	// finding in view.
	b.open("/domains", "table.list")
	if got := b.text("table.list tbody"); !strings.Contains(got, "login.acme.test") || !strings.Contains(got, "Verified") || strings.Contains(got, other.Name) {
		t.Errorf("domain list = %q", got)
	}
	b.check("07-domains")
	b.phone("07-domains-phone-screen", "main")
	b.run("phone", chromedp.EmulateViewport(390, 844))
	var card struct {
		Display string
		Right   float64
		Head    string
	}
	b.eval("list as cards", `(() => {
		const row = document.querySelector("table.list tbody tr"), cell = row.querySelector('[data-label="Latest finding"]');
		return {Display: getComputedStyle(row).display, Right: cell.getBoundingClientRect().right, Head: getComputedStyle(document.querySelector("table.list thead")).display};
	})()`, &card)
	if card.Display != "block" || card.Head != "none" || card.Right > 390 {
		t.Errorf("domain list at 390 px: row display %q, header display %q, latest finding ends at %.0f px; want stacked cards within the screen", card.Display, card.Head, card.Right)
	}
	b.run("desktop", chromedp.EmulateViewport(1280, 900))

	// The system log, through its controls.
	b.open("/logs", "table.log")
	if got := b.text("table.log"); !strings.Contains(got, "Custom domain ownership verified") {
		t.Errorf("system log lacks the verify event: %q", got)
	}
	b.check("08-logs")
	b.run("filter: failed ownership checks",
		chromedp.SetValue("#type", systemlog.DomainVerify, chromedp.ByQuery),
		chromedp.SetValue("#outcome", "FAILURE", chromedp.ByQuery),
		chromedp.SetValue("#range", "24h", chromedp.ByQuery),
	)
	b.submit("#search")
	if got := b.text("table.log tbody"); !strings.Contains(got, "Custom domain verification failed") || strings.Contains(got, "ownership verified") || strings.Contains(got, "setup initiated") {
		t.Errorf("log filtered to failed ownership checks = %q", got)
	}
	var advancedOpen bool
	b.eval("advanced closed", `document.getElementById("advanced").open`, &advancedOpen)
	if advancedOpen {
		t.Errorf("Advanced is open though only the controls were used")
	}
	b.run("filter: severity warning",
		chromedp.SetValue("#type", "", chromedp.ByQuery),
		chromedp.SetValue("#outcome", "", chromedp.ByQuery),
		chromedp.SetValue("#severity", "WARN", chromedp.ByQuery),
	)
	b.submit("#search")
	var sevs []string
	b.eval("severities", `[...document.querySelectorAll("table.log tbody tr td.event .sev-WARN, table.log tbody tr td.event [class^=sev-]")].map(s => s.textContent)`, &sevs)
	for _, s := range sevs {
		if s != "Warning" {
			t.Errorf("log filtered to warnings shows severity %q", s)
		}
	}
	if len(sevs) == 0 {
		t.Errorf("log filtered to warnings shows none; the failed checks are warnings")
	}
	b.run("bad expression",
		chromedp.SetValue("#severity", "", chromedp.ByQuery),
		chromedp.Click("#advanced > summary", chromedp.ByQuery),
		chromedp.WaitVisible("#filter", chromedp.ByQuery),
		chromedp.SendKeys("#filter", `eventType zz "x"`, chromedp.ByQuery),
	)
	b.submit("#search")
	b.eval("filter marked invalid", `document.getElementById("filter").getAttribute("aria-invalid")`, &invalid)
	if invalid != "true" {
		t.Errorf("bad filter expression: aria-invalid = %q, want true", invalid)
	}
	b.check("09-logs-bad-filter")

	// Org isolation by URL.
	b.open("/domains/"+other.ID, "h1")
	if got := b.text("h1"); got != "Not found" {
		t.Errorf("other org's domain page h1 = %q, want Not found", got)
	}
	b.check("10-other-org-not-found")

	// Sign out; the pages are closed again.
	var id string
	ds, _ := e.domains.List(t.Context(), customdomain.Actor{OrgID: aID}, "", 10)
	for _, d := range ds {
		if d.Name == "login.acme.test" {
			id = d.ID
		}
	}
	b.run("sign out", chromedp.Click("header .who button", chromedp.ByQuery), chromedp.WaitVisible("#token", chromedp.ByQuery))
	if got := b.text("main"); !strings.Contains(got, "You are signed out") {
		t.Errorf("after sign-out: %q", got)
	}
	var loc string
	b.run("closed", chromedp.Navigate(b.base+"/domains/"+id), chromedp.WaitVisible("#token", chromedp.ByQuery), chromedp.Location(&loc))
	if !strings.Contains(loc, "/signin") {
		t.Errorf("after sign-out, the domain page led to %q, want the sign-in page", loc)
	}

	// The operator's pages.
	b.signIn(e.operator, "#records-h") // back to the page asked for
	b.open("/orgs", "#org-name")
	if got := b.text(`nav a[aria-current="page"]`); got != "Organizations" {
		t.Errorf("current navigation item on the orgs page = %q", got)
	}
	var styled struct{ URL, Text string }
	b.eval("url field styled", `(() => { const f = el => { const s = getComputedStyle(document.getElementById(el)); return s.borderTopWidth + " " + s.borderRadius + " " + s.paddingLeft + " " + s.width; };
		return {URL: f("org-upstream"), Text: f("org-domain")}; })()`, &styled)
	if styled.URL != styled.Text {
		t.Errorf("the type=url field is styled %q, the text fields %q", styled.URL, styled.Text)
	}
	b.check("11-orgs")
	b.open("/orgs/"+aID, "#token-name")
	b.run("new token", chromedp.SendKeys("#token-name", "CI robot", chromedp.ByQuery),
		chromedp.Submit("#token-name", chromedp.ByQuery),
		chromedp.WaitVisible("#token-secret", chromedp.ByQuery))
	if got := b.text("#token-secret"); !strings.HasPrefix(got, "hm_") {
		t.Errorf("new token shown as %q", got)
	}
	b.check("12-org-new-token")
	b.noErrors()
}

// TestBrowserLiveStatus: the domain list and a domain page turn to
// "Verified" without a reload once the records are published and the
// background check runs, and the page turns to "Live over HTTPS" when a
// certificate arrives; the page says when the next check is.
func TestBrowserLiveStatus(t *testing.T) {
	exe := chromium(t)
	e := newEnv(t, envOptions{live: true})
	aID, aToken := e.newOrg("Acme Corp")
	listed := e.createDomain(aID, "www.acme.test")
	b := newTab(t, exe, e.srv.URL)
	b.open("/domains", "#token")
	b.signIn(aToken, "table.list")

	// The list: a marker set in the page survives only if it is not
	// reloaded.
	b.eval("mark the list", `window.hallmarkSamePage = "list"; true`, nil)
	e.publish(listed, `"`+listed.Token+`"`)
	b.waitFor("list turns Verified", `document.querySelector("#row-`+listed.ID+` .badge").textContent === "Verified"`, 20*time.Second)
	var same string
	b.eval("same list page", `window.hallmarkSamePage || ""`, &same)
	if same != "list" {
		t.Errorf("the list was reloaded to show the change")
	}

	// The domain page.
	d := e.createDomain(aID, "login.acme.test")
	b.open("/domains/"+d.ID, "#records-h")
	if got := b.text("#status"); got != "Waiting for DNS" {
		t.Errorf("new domain status = %q, want Waiting for DNS", got)
	}
	b.waitFor("next check said", `/^Next check( in \d|: due now)/.test(document.getElementById("next-check").textContent)`, 10*time.Second)
	b.eval("mark the page", `window.hallmarkSamePage = "domain"; true`, nil)
	e.publish(d, `"`+d.Token+`"`)
	b.waitFor("page turns Verified", `document.getElementById("status").textContent === "Verified"`, 20*time.Second)
	for _, typ := range []string{"TXT", "CNAME"} {
		if got := b.text("#mark-" + typ); got != "✓ published" {
			t.Errorf("%s mark after the background check = %q, want ✓ published", typ, got)
		}
	}
	b.shot("13-live-verified")

	// A certificate arrives (here an upload through the lifecycle; an
	// issuance changes the domain the same way).
	iss, err := e.ca.Issue(t.Context(), issuance.Request{Name: d.Name})
	if err != nil {
		t.Fatal(err)
	}
	good := pemOf(t, iss)
	if err := e.domains.UploadCertificate(t.Context(), customdomain.Actor{OrgID: aID, ID: "test"}, d.ID, good.cert, good.chain, good.key); err != nil {
		t.Fatal(err)
	}
	b.waitFor("page turns Live", `document.getElementById("status").textContent === "Live over HTTPS"`, 20*time.Second)
	b.waitFor("certificate shown", `document.getElementById("cert-details") !== null`, 5*time.Second)
	b.eval("same domain page", `window.hallmarkSamePage || ""`, &same)
	if same != "domain" {
		t.Errorf("the domain page was reloaded to show the change")
	}
	b.check("14-live-https")

	// A refused upload is a page rendered by a POST: it updates itself from
	// the domain's own page, and keeps the refusal in view.
	bad := selfSigned(t, d.Name)
	b.run("refused upload", chromedp.Click("#own-cert > summary", chromedp.ByQuery),
		chromedp.SetValue("#cert-pem", bad.cert, chromedp.ByQuery),
		chromedp.SetValue("#key-pem", bad.key, chromedp.ByQuery))
	b.submit("#upload")
	b.run("refusal shown", chromedp.WaitVisible("#upload-error", chromedp.ByQuery))
	var version string
	b.eval("version", `document.getElementById("live").dataset.version`, &version)
	if _, _, err := e.domains.Verify(t.Context(), customdomain.Actor{OrgID: aID, ID: "test"}, d.ID); err != nil {
		t.Fatal(err)
	}
	b.waitFor("refused-upload page updated", `document.getElementById("live").dataset.version !== `+strconv.Quote(version), 20*time.Second)
	var kept bool
	b.eval("refusal kept", `document.getElementById("upload-error") !== null`, &kept)
	if !kept {
		t.Errorf("the live update removed the upload's refusal")
	}
	b.noErrors()
}
