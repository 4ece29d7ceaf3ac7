package main

// The lab workspace driven in Debian's Chromium the way a student works:
// the whole program (serve with its sandbox on real Docker), a real browser,
// the real editor. LAMBDALAB_SCREENSHOTS=DIR keeps pictures of the
// workspace on a laptop and a phone, light and dark.

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	lambdasdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"lambdalab/labs"
	"lambdalab/store/storetest"
)

// browser is one headless Chromium tab on the site, with the test's
// helpers around chromedp.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	chromium := requireBrowser(t)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(cancelTimeout)
	return &browser{t: t, ctx: ctx, base: base}
}

// do runs steps, failing the test with the page's text when one fails.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\n%s", step, err, b.where())
	}
}

// within runs steps with a deadline of their own, so a wait that never
// ends fails at its step rather than at the test's deadline.
func (b *browser) within(d time.Duration, step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s (within %s): %v\n%s", step, d, err, b.where())
	}
}

// where says what the page shows: its address, the workspace's error
// banner and the panel's text (or the body's, outside a lab).
func (b *browser) where() string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), 5*time.Second)
	defer cancel()
	v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\nbanner: ' + ((document.querySelector('[data-testid="workspace-error"]') || {}).innerText || '') + '\n' + (document.querySelector('#panel') || document.body).innerText.slice(0, 4000)`))
	return v
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read text of %s: %v", sel, err)
	}
	return v
}

// until polls a JavaScript condition until it holds, from Go, so that the
// wait survives a navigation (a form posted without htmx, a redirect).
func until(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			ok, err := chromedp.Evaluate[bool](`!!(`+expr+`)`)(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				if err != nil {
					return chromedp.Void{}, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
				}
				return chromedp.Void{}, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// settled waits until no htmx request is in flight, so the next step acts
// on the page the last click asked for.
var settled = until(`!document.querySelector('.htmx-request')`)

// scheme switches the emulated colour scheme ("light" or "dark").
func scheme(s string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s}},
		})
		return err
	})
}

// typeText inserts text where the focus is, as a paste or an input method
// would: the editor gets real input events.
func typeText(s string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: s})
		return err
	})
}

// shots keeps pictures of the page as a learner sees it, at a laptop's
// and a phone's width in light and dark, when LAMBDALAB_SCREENSHOTS names a
// folder: the top of the page, and on the phone the workspace too (it comes
// after the instructions). On the phone nothing may be wider than the
// screen: a page that scrolls sideways is not usable there.
func (b *browser) shots(name string) {
	b.t.Helper()
	dir := os.Getenv("LAMBDALAB_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"laptop", 1280, 900}, {"phone", 390, 844}} {
		for _, sc := range []string{"light", "dark"} {
			// Not as a mobile device: that one zooms a page that is too
			// wide out to fit, hiding what overflows.
			var opts []chromedp.EmulateViewportOption
			b.do("emulate "+size.name+" "+sc, chromedp.EmulateViewport(size.w, size.h, opts...), scheme(sc), chromedp.Sleep(150*time.Millisecond),
				chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
			if size.name == "phone" {
				// A mobile browser zooms a page wider than the screen out to
				// fit (innerWidth grows with it), so compare with the screen.
				if over := b.eval(`String(document.documentElement.scrollWidth - 390)`); !strings.HasPrefix(over, "-") && over != "0" {
					wide := b.eval(`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391 && e.parentElement && e.parentElement.getBoundingClientRect().right <= 391 && !(() => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) { if (getComputedStyle(a).overflowX !== 'visible') return true; } return false; })()).slice(0, 8).map(e => e.tagName + '.' + e.className + '[' + (e.dataset.testid || '') + '] ' + Math.round(e.getBoundingClientRect().left) + '+' + Math.round(e.getBoundingClientRect().width)).join(' | ')`)
					b.t.Errorf("%s on a 390 px phone scrolls sideways by %s px; too wide: %s", name, over, wide)
				}
			}
			views := []string{"top"}
			if size.name == "phone" {
				views = append(views, "workspace")
			}
			for _, view := range views {
				if view == "workspace" {
					b.do("scroll to the workspace", chromedp.Evaluate[chromedp.Void](`document.querySelector('#workspace').scrollIntoView()`), chromedp.Sleep(100*time.Millisecond))
				}
				png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
				if err != nil {
					b.t.Logf("screenshot %s: %v", name, err)
					continue
				}
				os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-%s-%s.png", name, size.name, sc, view)), png, 0o644)
			}
		}
	}
	b.do("back to the laptop", chromedp.EmulateViewport(1280, 900), scheme("light"), chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
}

// tab opens a workspace tab by its link, as a click does.
func (b *browser) tab(id string) {
	b.t.Helper()
	b.do("open the "+id+" tab",
		chromedp.Click(chromedp.CSS(`[data-testid="tab-`+id+`"]`)),
		settled,
		until(`document.querySelector('#panel') && document.querySelector('#panel').dataset.tab === '`+id+`'`),
	)
}

// labSolution reads a function's file from one of a lab's variants.
func labSolution(t *testing.T, lab *labs.Lab, variant, file string) string {
	t.Helper()
	b, err := fs.ReadFile(lab.FS, variant+"/"+file)
	if err != nil {
		t.Fatalf("read %s of %s: %v", file, lab.ID, err)
	}
	return string(b)
}

// TestBrowserS3TransformLab completes the S3 transform lab as a student
// would: open it from the home page, start it, edit the code in the
// editor, deploy, connect the bucket's trigger, upload a log, watch the
// REPORT line arrive in the console, read the masked copy, and check the
// work until every check passes. Then a burst on the concurrency lab's
// function draws its instance timeline and concurrency chart.
// browserLabs are the two labs the browser tests walk through.
func browserLabs(t *testing.T) (transform, conc *labs.Lab) {
	t.Helper()
	_, all, err := loadCourse("")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		switch l.ID {
		case "s3-transform":
			transform = l
		case "concurrency":
			conc = l
		}
	}
	if transform == nil || conc == nil {
		t.Fatal("the embedded labs lack s3-transform or concurrency")
	}
	return transform, conc
}

// TestBrowserS3TransformLab: a learner does the S3 transform lab in
// Chromium, from sign-up to a passing check, then watches a burst in the
// concurrency lab's monitor.
func TestBrowserS3TransformLab(t *testing.T) {
	requireDocker(t)
	transform, conc := browserLabs(t)
	labInBrowser(t, startWithSandbox(t, t.TempDir()), transform, conc)
}

// TestBrowserLabThroughReplica is the same learner on a replica of a
// two-serve cluster on PostgreSQL: every workspace request, the uploads
// and the event streams of the console and the check, and the learner's SDK
// calls, are forwarded to the controller; the home page and lessons are
// the replica's own.
func TestBrowserLabThroughReplica(t *testing.T) {
	requireDocker(t)
	transform, conc := browserLabs(t)
	pgURL := storetest.PostgresURL(t)
	data := t.TempDir()
	controller := startWithSandbox(t, data, "--database", pgURL)
	replica := startServeEnv(t, map[string]string{"LAMBDALAB_PRESTART": "1"}, data, "--database", pgURL)
	if role := clusterRoleOf(t, replica.URL); role != "replica" {
		t.Fatalf("the second serve is %s, want replica", role)
	}
	labInBrowser(t, replica, transform, conc)
	for _, want := range []string{"method=POST path=/labs/s3-transform/deploy status=303", "path=/labs/s3-transform/console status=200", "method=POST path=/labs/s3-transform/check status=303"} {
		if !strings.Contains(controller.Logs.String(), want) {
			t.Errorf("the controller's log has no %q: the workspace was not forwarded", want)
		}
	}
}

// labInBrowser is the learner's whole session on the site s.
func labInBrowser(t *testing.T, s *server, transform, conc *labs.Lab) {
	b := newBrowser(t, s.URL)

	b.do("sign up",
		chromedp.Navigate(s.URL+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="auth-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="email"]`), "student@example.com"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="password"]`), "student password"),
		chromedp.Click(chromedp.CSS(`[data-testid="auth-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signed-in-as"]`)),
	)
	b.do("find the lab on the home page",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lab-link"][data-lab="s3-transform"]`)),
	)
	if st := b.eval(`document.querySelector('[data-testid="lab-link"][data-lab="s3-transform"]').dataset.state`); st != "not-started" {
		t.Errorf("before opening it the lab's state is %q, want not-started", st)
	}
	b.do("open the lab",
		chromedp.Click(chromedp.CSS(`[data-testid="lab-link"][data-lab="s3-transform"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lab-instructions"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="code-start-button"]`)),
	)
	b.shots("lab-start")
	b.within(2*time.Minute, "start the lab",
		chromedp.Click(chromedp.CSS(`[data-testid="code-start-button"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="code-editor-editor"] .cm-content`)),
	)

	// What the workspace page costs a learner: the bytes on the wire of the
	// page and everything it loads (compressed, as a cold cache fetches
	// them), and when it is interactive (deferred scripts, the editor among
	// them, have run by DOMContentLoaded).
	b.do("load the workspace page",
		chromedp.Navigate(s.URL+"/labs/s3-transform"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="code-editor-editor"] .cm-content`)),
		until(`performance.getEntriesByType('navigation')[0].loadEventEnd > 0`),
	)
	weight := b.eval(`(() => { const n = performance.getEntriesByType('navigation')[0]; let total = n.encodedBodySize; const parts = ['page ' + n.encodedBodySize]; for (const r of performance.getEntriesByType('resource')) { total += r.encodedBodySize; parts.push(r.name.split('/').pop() + ' ' + r.encodedBodySize); } return 'total ' + (total / 1024).toFixed(1) + ' KB (' + parts.join(', ') + '); DOMContentLoaded ' + n.domContentLoadedEventEnd.toFixed(0) + ' ms, load ' + n.loadEventEnd.toFixed(0) + ' ms'; })()`)
	t.Logf("workspace page: %s", weight)

	// Replace the starter with the solution, typed into the editor.
	solution := labSolution(t, transform, "solution", "app.py")
	b.do("edit the code",
		chromedp.Click(chromedp.CSS(`[data-testid="code-editor-editor"] .cm-content`)),
		chromedp.Evaluate[chromedp.Void](`(() => { const ed = LambdalabEditor.get(document.querySelector('[data-testid="code-editor"]')); ed.view.dispatch({selection: {anchor: 0, head: ed.view.state.doc.length}}); })()`),
		typeText(solution),
		until(`document.querySelector('[data-autosave-status]') && document.querySelector('[data-autosave-status]').dataset.state === 'saved'`),
	)
	if got := b.eval(`document.querySelector('[data-testid="code-editor"]').value`); strings.TrimSpace(got) != strings.TrimSpace(solution) {
		t.Fatalf("after typing, the editor holds:\n%s\nwant the solution", got)
	}
	b.do("reload keeps the draft",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="code-editor-editor"] .cm-content`)),
	)
	if got := b.eval(`document.querySelector('[data-testid="code-editor"]').value`); !strings.Contains(got, "unquote_plus") {
		t.Fatalf("after a reload the draft lost the edit:\n%s", got)
	}
	b.within(time.Minute, "deploy",
		chromedp.Click(chromedp.CSS(`[data-testid="code-deploy"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="panel-flash"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="code-sha"]`)),
	)
	if sha := b.text(`[data-testid="code-sha"]`); len(strings.TrimSpace(sha)) != 44 {
		t.Errorf("after deploying, CodeSha256 shows %q, want 44 characters of base64", sha)
	}
	b.shots("lab-code")

	// The trigger: raw-logs sends new objects to the function, with the
	// permission S3 needs.
	b.tab("buckets")
	b.do("choose raw-logs",
		chromedp.Click(chromedp.CSS(`[data-testid="buckets-bucket"][href*="raw-logs"]`)),
		settled,
		until(`!!document.querySelector('[data-testid="buckets-objects"][data-bucket="raw-logs"]')`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="buckets-trigger-form"]`)),
	)
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range strings.Split(s.Logs.String(), "\n") {
				if strings.Contains(l, "path=/labs/") {
					t.Log(l)
				}
			}
		}
	})
	b.within(time.Minute, "connect the trigger",
		chromedp.Evaluate[chromedp.Void](`(() => { const a = document.querySelector('[data-testid="buckets-trigger-allow"]'); if (a && !a.checked) a.click(); })()`),
		chromedp.Click(chromedp.CSS(`[data-testid="buckets-trigger-save"]`)),
		until(`!!document.querySelector('[data-testid="buckets-trigger"], [data-testid="panel-error"], [data-testid="buckets-error"], [data-testid="workspace-error"]')`),
	)
	if msg := b.eval(`(document.querySelector('[data-testid="panel-error"], [data-testid="buckets-error"], [data-testid="workspace-error"]') || {}).textContent || ''`); strings.TrimSpace(msg) != "" {
		t.Fatalf("connecting the trigger was refused: %s", msg)
	}
	upload := filepath.Join(t.TempDir(), "browser.log")
	os.WriteFile(upload, []byte("login ann@example.com\npaid with 4111 1111 1111 1111\norder 123456\n"), 0o644)
	b.within(time.Minute, "upload a log",
		chromedp.SetUploadFiles(chromedp.CSS(`[data-testid="buckets-file"]`), []string{upload}),
		chromedp.SetValue(chromedp.CSS(`[data-testid="buckets-key"]`), "browser/browser.log"),
		chromedp.Click(chromedp.CSS(`[data-testid="buckets-upload"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="buckets-object"][data-key="browser/browser.log"]`)),
	)
	// S3 invokes the function; its REPORT line arrives in the console.
	b.within(time.Minute, "the REPORT line appears",
		until(`[...document.querySelectorAll('[data-testid="console-report"]')].some(e => e.textContent.includes('Billed Duration'))`),
	)
	b.shots("lab-console")

	// The masked copy is in masked-logs.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b.do("open masked-logs", chromedp.Navigate(s.URL+"/labs/s3-transform/buckets/masked-logs?prefix=browser/"))
		n := b.eval(`String(document.querySelectorAll('[data-testid="buckets-object"][data-key="browser/browser.log"]').length)`)
		if n == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no masked copy of browser/browser.log in masked-logs:\n%s", b.text("#panel"))
		}
		time.Sleep(300 * time.Millisecond)
	}
	b.do("view the masked copy",
		chromedp.Click(chromedp.CSS(`[data-testid="buckets-object"][data-key="browser/browser.log"] [data-testid="buckets-view"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="buckets-text-body"]`)),
	)
	if body := b.text(`[data-testid="buckets-text-body"]`); !strings.Contains(body, "login [email]") || !strings.Contains(body, "paid with [card]") || !strings.Contains(body, "order 123456") {
		t.Errorf("the masked copy reads:\n%s", body)
	}
	b.shots("lab-buckets")

	// Invoke from the Test tab: the console shows the REPORT; the second,
	// warm, invoke is timed in the page (click → REPORT on screen).
	b.tab("test")
	var measures []string
	for i := range 3 {
		b.within(time.Minute, fmt.Sprintf("invoke %d", i+1),
			chromedp.Click(chromedp.CSS(`[data-testid="test-invoke"]`)),
			until(fmt.Sprintf(`performance.getEntriesByName('invoke-to-report').length >= %d`, i+1)),
		)
		measures = append(measures, b.eval(`String(performance.getEntriesByName('invoke-to-report').at(-1).duration.toFixed(1))`))
	}
	t.Logf("click Invoke → REPORT on screen: %v ms (the first may be cold)", measures)
	b.shots("lab-test")

	// Check my work: every check passes.
	b.tab("check")
	b.within(3*time.Minute, "check my work",
		chromedp.Click(chromedp.CSS(`[data-testid="check-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="check-verdict"]`)),
	)
	verdict := b.text(`[data-testid="check-verdict"]`)
	statuses := b.eval(`[...document.querySelectorAll('[data-testid="check-report"] [data-testid="check-row"]')].map(r => r.dataset.checkId + '=' + r.dataset.status).join(' ')`)
	if !strings.HasPrefix(strings.TrimSpace(verdict), "✓") && !strings.Contains(verdict, "Passed") {
		t.Errorf("verdict %q, checks: %s", verdict, statuses)
	}
	if statuses == "" || strings.Contains(statuses, "=fail") || strings.Contains(statuses, "=error") || strings.Contains(statuses, "=skipped") {
		t.Errorf("not every check passed: %s", statuses)
	}
	if st := b.eval(`(document.querySelector('#lab-state-slot [data-testid="lab-state"]') || {dataset: {}}).dataset.state || ''`); st != "passed" {
		t.Errorf("after a passing check the lab page's own badge says %q, want passed (it is swapped with the report)", st)
	}
	b.shots("lab-check")
	b.do("the home page says passed",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lab-link"][data-lab="s3-transform"]`)),
	)
	if st := b.eval(`document.querySelector('[data-testid="lab-link"][data-lab="s3-transform"]').dataset.state`); st != "passed" {
		t.Errorf("after a passing check the lab's state is %q, want passed", st)
	}

	// The concurrency lab: a burst from the learner's own SDK client shows
	// in the Monitor tab as an instance timeline and a concurrency chart.
	b.within(2*time.Minute, "start the concurrency lab",
		chromedp.Navigate(s.URL+"/labs/concurrency"),
		chromedp.Click(chromedp.CSS(`[data-testid="code-start-button"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="code-editor-editor"]`)),
	)
	b.do("read the keys", chromedp.Navigate(s.URL+"/account"), chromedp.WaitReady(chromedp.CSS(`[data-testid="secret"]`)))
	keyID := strings.TrimSpace(b.eval(`document.querySelector('[data-testid="access-key-id"]').textContent`))
	secret := strings.TrimSpace(b.eval(`document.querySelector('[data-testid="secret"]').textContent`))
	sdk := lambdasdk.New(lambdasdk.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		BaseEndpoint: aws.String(s.AWSURL),
	})
	fn := conc.Functions[0].Name
	if _, err := sdk.PutFunctionConcurrency(context.Background(), &lambdasdk.PutFunctionConcurrencyInput{FunctionName: aws.String(fn), ReservedConcurrentExecutions: aws.Int32(2)}); err != nil {
		t.Fatalf("reserve concurrency: %v", err)
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			sdk.Invoke(context.Background(), &lambdasdk.InvokeInput{FunctionName: aws.String(fn), Payload: []byte(`{"order": 1}`)})
		})
	}
	wg.Wait()
	b.within(time.Minute, "the monitor shows the burst",
		chromedp.Navigate(s.URL+"/labs/concurrency?tab=monitor&fn="+fn),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="monitor-timeline"] svg`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="monitor-concurrency"] svg`)),
	)
	peak := strings.TrimSpace(b.text(`[data-testid="monitor-peak"]`))
	invocations := strings.TrimSpace(b.text(`[data-testid="monitor-invocations"]`))
	if n, err := strconv.Atoi(peak); err != nil || n < 1 || n > 2 {
		t.Errorf("peak concurrency shows %q after a burst under reserved concurrency 2", peak)
	}
	if invocations == "0" {
		t.Errorf("the monitor counts %s invocations after a burst of 6", invocations)
	}
	b.shots("lab-monitor")
}
