package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"lambdalab/content"
	"lambdalab/grader"
	"lambdalab/labs"
	"lambdalab/sandbox"
	"lambdalab/sandbox/docker"
	"lambdalab/store"
)

// exitCode makes the program exit with a status of its own and no message
// of main's: grade's 1 (fail) and 2 (error), check's 1 (a lab is wrong).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// loadCourse loads the lessons and the labs, embedded or from an author's
// folder (DIR/labs holds the labs), checking each lab's lesson exists.
func loadCourse(contentDir string) (*content.Course, []*labs.Lab, error) {
	courseFS := content.Embedded()
	if contentDir != "" {
		courseFS = os.DirFS(contentDir)
	}
	course, err := content.Load(courseFS)
	if err != nil {
		return nil, nil, err
	}
	all, err := loadLabs(contentDir, course)
	if err != nil {
		return nil, nil, err
	}
	return course, all, nil
}

// loadLabs loads the labs of a loaded course: the embedded ones, or those
// in contentDir/labs (none when there is no such folder). Every lesson's
// link to a lab must name one of them.
func loadLabs(contentDir string, course *content.Course) ([]*labs.Lab, error) {
	opts := labs.Options{Kinds: grader.LabKinds(), Lesson: lessonExists(course)}
	var all []*labs.Lab
	if contentDir == "" {
		var err error
		if all, err = labs.Load(labs.Embedded(), opts); err != nil {
			return nil, err
		}
	} else if dir := filepath.Join(contentDir, "labs"); !dirMissing(dir) {
		var err error
		if all, err = labs.Load(os.DirFS(dir), opts); err != nil {
			return nil, fmt.Errorf("labs in %s: %w", dir, err)
		}
	} else if embedded, err := labs.Load(labs.Embedded(), opts); err == nil {
		// A folder of lessons only (the repository's own content/course,
		// say) keeps the built-in labs when they fit its lessons, so its
		// links to them still lead somewhere; a course they do not fit
		// gets no labs, and a link to one is an error below.
		all = embedded
	}
	// A link to a lab that is not there would lead a reader to a 404; the
	// *content.LoadError names each such link's lesson file and line.
	err := course.CheckLabLinks(func(id string) bool {
		return slices.ContainsFunc(all, func(l *labs.Lab) bool { return l.ID == id })
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

func dirMissing(dir string) bool {
	_, err := os.Stat(dir)
	return errors.Is(err, fs.ErrNotExist)
}

// lessonExists accepts "module/lesson" slugs (and plain lesson slugs).
func lessonExists(course *content.Course) func(string) bool {
	return func(slug string) bool {
		module, lesson, ok := strings.Cut(slug, "/")
		if !ok {
			_, found := course.Lesson(slug)
			return found
		}
		l, found := course.Lesson(lesson)
		return found && l.Module != nil && l.Module.Slug == module
	}
}

// gradingStack is the emulated AWS side and a sandbox, in its own data
// folder, for grade and check.
type gradingStack struct {
	db     *store.DB
	grader *grader.Grader
	close  func()
}

// startGrading starts what grading needs in dataDir ("" means a temporary
// folder, removed afterwards). The ready layers are cached in the user's
// cache folder, so a temporary data folder does not fetch them again.
func startGrading(ctx context.Context, dataDir string, getenv func(string) string, progress io.Writer, logger *slog.Logger) (*gradingStack, error) {
	var cleanups []func()
	closeAll := func() {
		for _, f := range slices.Backward(cleanups) {
			f()
		}
	}
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "lambdalab-grade-")
		if err != nil {
			return nil, err
		}
		dataDir = dir
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	}
	db, err := store.Open(ctx, filepath.Join(dataDir, "lambdalab.db"))
	if err != nil {
		closeAll()
		return nil, err
	}
	cleanups = append(cleanups, func() { db.Close() })
	acct, err := startAccounts(ctx, db, dataDir, getenv, logger)
	if err != nil {
		closeAll()
		return nil, err
	}
	cleanups = append(cleanups, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		acct.close(cctx)
	})
	engine, release, err := startSandbox(ctx, db, dataDir, getenv, sandboxServices{aws: acct.endpoint.Instance(), xray: acct.xray.InstanceSink}, progress, logger)
	if err != nil {
		closeAll()
		return nil, err
	}
	cleanups = append(cleanups, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		engine.Close(cctx)
		release()
	})
	if err := acct.lambda.SetEngine(ctx, engine); err != nil {
		closeAll()
		return nil, err
	}
	g := acct.newGrader(db, engine, userCache(), progress)
	if _, err := g.RemoveScratchAccounts(ctx); err != nil {
		logger.WarnContext(ctx, "remove leftover scratch accounts", "err", err)
	}
	return &gradingStack{db: db, grader: g, close: closeAll}, nil
}

// readyLayers builds (or finds cached in cacheDir) the ready layers the
// labs use.
func readyLayers(cacheDir string, progress io.Writer) func(ctx context.Context, name string) (string, error) {
	var (
		mu    sync.Mutex
		built string // the zip, once found: later asks say nothing
	)
	return func(ctx context.Context, name string) (string, error) {
		if name != "xray-sdk" {
			return "", fmt.Errorf("no ready layer named %q (there is xray-sdk)", name)
		}
		mu.Lock()
		defer mu.Unlock()
		w := progress
		if built != "" {
			w = io.Discard
		}
		p, err := docker.BuildXRayLayer(ctx, filepath.Join(cacheDir, "xray-layer"), w)
		if err == nil {
			built = p
		}
		return p, err
	}
}

// userCache is the user's cache folder for lambdalab, where grade and
// check keep the ready layers across their temporary data folders.
func userCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "lambdalab-cache")
	}
	return filepath.Join(dir, "lambdalab")
}

// runGrade is `lambdalab grade`: grade a local folder against a lab and
// print the report; exit status 0 on pass, 1 on fail, 2 on error.
func runGrade(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("grade", flag.ContinueOnError)
	fl.SetOutput(stderr)
	labID := fl.String("lab", "", "the lab to grade against (required)")
	dir := fl.String("dir", ".", "the submission folder: the functions' code, actions.yaml, answers.yaml")
	asJSON := fl.Bool("json", false, "print the report as JSON")
	contentDir := fl.String("content", "", "read the course and labs from this folder instead of the embedded ones")
	dataDir := fl.String("data", "", "data folder for the grading run (default: a temporary folder)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *labID == "" || fl.NArg() > 0 {
		return errors.New("grade: usage: lambdalab grade --lab ID [--dir DIR] [--json]")
	}
	_, all, err := loadCourse(*contentDir)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(all, func(l *labs.Lab) bool { return l.ID == *labID })
	if i < 0 {
		ids := make([]string, len(all))
		for j, l := range all {
			ids[j] = l.ID
		}
		return fmt.Errorf("grade: no lab %q (labs: %s)", *labID, strings.Join(ids, ", "))
	}
	lab := all[i]
	files := os.DirFS(*dir)
	v, err := labs.LoadSubmission(lab, files, labs.Options{Kinds: grader.LabKinds()})
	if err != nil {
		return fmt.Errorf("grade: %s: %w", *dir, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	progress := io.Discard
	if !*asJSON {
		progress = stderr
	}
	st, err := startGrading(ctx, *dataDir, getenv, progress, logger)
	if err != nil {
		return err
	}
	defer st.close()
	opts := grader.Options{}
	if !*asJSON {
		shown := *dir
		if abs, err := filepath.Abs(*dir); err == nil {
			shown = abs
		}
		fmt.Fprintf(stdout, "Grading %s against lab %s (%s)\n", shown, lab.ID, lab.Title)
		opts.Progress = func(c grader.CheckResult) { printCheck(stdout, c) }
	}
	rep, gerr := st.grader.Grade(ctx, lab, grader.Submission{Files: files, Actions: v.Actions, Answers: v.Answers}, opts)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		for _, a := range rep.Actions {
			fmt.Fprintf(stdout, "  ! %s (%s:%d) was refused: %s\n", a.Kind, a.File, a.Line, a.Message)
		}
		if rep.Status == grader.Error {
			fmt.Fprintf(stdout, "\n%s\n", rep.Message)
		}
		fmt.Fprintf(stdout, "\n%s, score %.2f (%.1f s)\n", rep.Summary(), rep.Score, float64(rep.DurationMS)/1000)
	}
	if gerr != nil {
		logger.ErrorContext(ctx, "grading failed", "err", gerr)
	}
	switch rep.Status {
	case grader.Pass:
		return nil
	case grader.Fail:
		return exitCode(1)
	}
	return exitCode(2)
}

// printCheck writes one check's line, and for a check that did not pass,
// its message, hints and log excerpt, indented.
func printCheck(w io.Writer, c grader.CheckResult) {
	mark := map[grader.Status]string{grader.Pass: "✓", grader.Fail: "✗", grader.Error: "!", grader.Skipped: "-"}[c.Status]
	fmt.Fprintf(w, "  %s %s — %s (%.1f s)\n", mark, c.ID, c.Title, float64(c.DurationMS)/1000)
	if c.Status == grader.Pass {
		return
	}
	// A message may quote the function's output; neither it nor the log
	// may drive the terminal.
	for _, line := range strings.Split(strings.TrimRight(sandbox.ReadableLog(c.Message), "\n"), "\n") {
		fmt.Fprintf(w, "      %s\n", line)
	}
	for _, h := range c.Hints {
		fmt.Fprintf(w, "      Hint: %s\n", h)
	}
	if c.Log != "" && c.Status != grader.Skipped {
		fmt.Fprintf(w, "      Log:\n")
		for _, line := range strings.Split(strings.TrimRight(sandbox.ReadableLog(c.Log), "\n"), "\n") {
			fmt.Fprintf(w, "        %s\n", line)
		}
	}
}

// runCheck is `lambdalab check`: load every lesson and lab, and prove for
// every lab that the solution scores 1.0, that the starter fails, and that
// each wrong variant fails exactly the checks it names.
func runCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("check", flag.ContinueOnError)
	fl.SetOutput(stderr)
	contentDir := fl.String("content", "", "check the course and labs in this folder instead of the embedded ones")
	only := fl.String("lab", "", "check only this lab")
	dataDir := fl.String("data", "", "data folder for the grading runs (default: a temporary folder)")
	verbose := fl.Bool("v", false, "print every check of every run")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("check: unexpected argument %q", fl.Arg(0))
	}
	course, all, err := loadCourse(*contentDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "course: %d lessons, %d labs load\n", len(course.Lessons), len(all))
	if *only != "" {
		all = slices.DeleteFunc(all, func(l *labs.Lab) bool { return l.ID != *only })
		if len(all) == 0 {
			return fmt.Errorf("check: no lab %q", *only)
		}
	}
	if len(all) == 0 {
		return nil
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := startGrading(ctx, *dataDir, getenv, stderr, logger)
	if err != nil {
		return err
	}
	defer st.close()

	type row struct{ lab, variant, want, got, secs, mark string }
	var rows []row
	misses := 0
	for _, lab := range all {
		variants := append([]*labs.Variant{lab.Solution, lab.Starter}, lab.Wrong...)
		for _, v := range variants {
			sub, err := grader.VariantSubmission(lab, v)
			if err != nil {
				return err
			}
			name := v.Name
			if v != lab.Solution && v != lab.Starter {
				name = "wrong/" + v.Name
			}
			start := time.Now()
			opts := grader.Options{}
			if *verbose {
				opts.Progress = func(c grader.CheckResult) { printCheck(stderr, c) }
			}
			rep, gerr := st.grader.Grade(ctx, lab, sub, opts)
			if gerr != nil {
				logger.ErrorContext(ctx, "grading failed", "lab", lab.ID, "variant", v.Name, "err", gerr)
			}
			want, got, ok := judgeVariant(lab, v, rep)
			r := row{lab.ID, name, want, got, fmt.Sprintf("%.1f", time.Since(start).Seconds()), ""}
			verdict := "as expected"
			if !ok {
				misses++
				r.mark = "MISS"
				verdict = "MISS: expected " + want + ", got " + got
			}
			rows = append(rows, r)
			fmt.Fprintf(stderr, "%s %s: %s (%s s)\n", lab.ID, name, verdict, r.secs)
			if !ok && !*verbose {
				for _, c := range rep.Checks {
					if c.Status != grader.Pass {
						printCheck(stderr, c)
					}
				}
				if rep.Message != "" {
					fmt.Fprintf(stderr, "      %s\n", rep.Message)
				}
			}
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAB\tVARIANT\tEXPECTED\tGOT\tSECONDS\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.lab, r.variant, r.want, r.got, r.secs, r.mark)
	}
	tw.Flush()
	if misses > 0 {
		fmt.Fprintf(stdout, "%d of the runs above did not come out as the lab says\n", misses)
		return exitCode(1)
	}
	return nil
}

// judgeVariant says what a variant should get, what it got, and whether
// they agree.
func judgeVariant(lab *labs.Lab, v *labs.Variant, rep *grader.Report) (want, got string, ok bool) {
	failed := []string{}
	for _, c := range rep.Checks {
		if c.Status == grader.Fail || c.Status == grader.Skipped {
			failed = append(failed, c.ID)
		}
	}
	switch v {
	case lab.Solution:
		return "pass 1.00", fmt.Sprintf("%s %.2f", rep.Status, rep.Score), rep.Status == grader.Pass && rep.Score == 1
	case lab.Starter:
		got = string(rep.Status)
		if rep.Status == grader.Fail {
			got = fmt.Sprintf("fail (%d of %d)", len(failed), len(rep.Checks))
		}
		return "fail", got, rep.Status == grader.Fail
	}
	want = shorten(fmt.Sprintf("fails %d: %s", len(v.Fails), strings.Join(v.Fails, ", ")), 48)
	if rep.Status != grader.Fail {
		return want, string(rep.Status), false
	}
	var passes, also []string
	for _, id := range v.Fails {
		if !slices.Contains(failed, id) {
			passes = append(passes, id)
		}
	}
	for _, id := range failed {
		if !slices.Contains(v.Fails, id) {
			also = append(also, id)
		}
	}
	if len(passes) == 0 && len(also) == 0 {
		return want, "as named", true
	}
	var parts []string
	if len(passes) > 0 {
		parts = append(parts, "passes "+strings.Join(passes, ", "))
	}
	if len(also) > 0 {
		parts = append(parts, "also fails "+strings.Join(also, ", "))
	}
	return want, strings.Join(parts, "; "), false
}

// shorten cuts s to at most n characters, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
