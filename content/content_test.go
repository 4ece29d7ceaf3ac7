package content

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

// pngBytes is enough of a PNG for the loader, which checks only that the
// file exists and has an image extension.
var pngBytes = "\x89PNG\r\n\x1a\n"

// baseCourse is a small valid course the tests add to or break.
func baseCourse() fstest.MapFS {
	return fstest.MapFS{
		"course.yaml":           file("title: Test course\nmodules:\n  - slug: m\n    title: Module M\n    summary: First.\n  - slug: other\n    title: Other\n    summary: Second.\n"),
		"m/99-target.md":        file("---\ntitle: Target\nsummary: The link target.\n---\n\n## Target section\n\nText.\n"),
		"m/pic.png":             file(pngBytes),
		"m/img/sub dir.png":     file(pngBytes),
		"other/01-elsewhere.md": file("---\ntitle: Elsewhere\nsummary: In another module.\n---\n\nText.\n"),
	}
}

func TestEmbeddedCourseLoads(t *testing.T) {
	c, err := Load(Embedded())
	if err != nil {
		t.Fatalf("Load(Embedded()): %v", err)
	}
	if c.Title == "" || len(c.Modules) == 0 {
		t.Fatalf("course has title %q and %d modules", c.Title, len(c.Modules))
	}
	if len(c.Lessons) < 3 {
		t.Fatalf("embedded course has %d lessons, want at least the 3 of module 1", len(c.Lessons))
	}
	for i, l := range c.Lessons {
		t.Run(l.Slug, func(t *testing.T) {
			if got, ok := c.Lesson(l.Slug); !ok || got != l {
				t.Errorf("Lesson(%q) = %v, %v; want the lesson itself", l.Slug, got, ok)
			}
			if l.Title == "" || l.Summary == "" || l.Module == nil {
				t.Errorf("lesson %s: title %q, summary %q, module %v", l.File, l.Title, l.Summary, l.Module)
			}
			if (i == 0) != (l.Prev == nil) || (i == len(c.Lessons)-1) != (l.Next == nil) {
				t.Errorf("lesson %d of %d: prev %v next %v", i, len(c.Lessons), l.Prev, l.Next)
			}
			if l.Next != nil && l.Next.Prev != l {
				t.Errorf("lesson %s: Next.Prev is not the lesson", l.File)
			}
			html := allHTML(l)
			for _, want := range []string{`class="markdown-alert `, `<pre class="chroma">`, `href="/lessons/`, `<a class="anchor" href="#`} {
				if !strings.Contains(html, want) {
					t.Errorf("lesson %s has no %s", l.File, want)
				}
			}
			if strings.Contains(html, ".md\"") || strings.Contains(html, "```quiz") {
				t.Errorf("lesson %s still has a raw .md link or quiz fence", l.File)
			}
			if len(l.Quizzes) == 0 {
				t.Fatalf("lesson %s has no quiz", l.File)
			}
			for _, q := range l.Quizzes {
				if got, ok := l.Quiz(q.ID); !ok || got != q {
					t.Errorf("lesson %s: Quiz(%q) = %v, %v", l.File, q.ID, got, ok)
				}
			}
			if _, ok := l.Quiz("no-such-quiz"); ok {
				t.Errorf("lesson %s: Quiz(no-such-quiz) found something", l.File)
			}
			var single, multiple bool
			for _, q := range l.Quizzes {
				for _, qu := range q.Questions {
					single = single || !qu.Multiple
					multiple = multiple || qu.Multiple
					if qu.Explanation == "" {
						t.Errorf("lesson %s question %s has no explanation", l.File, qu.ID)
					}
				}
			}
			if !single || !multiple {
				t.Errorf("lesson %s: single-choice question %v, multiple-choice %v; want both", l.File, single, multiple)
			}
		})
	}
	// The first module's image is served from the assets.
	if _, err := Embedded().Open("compute/lifecycle.svg"); err != nil {
		t.Errorf("embedded image: %v", err)
	}
	if !strings.Contains(allHTML(c.Lessons[2]), `src="/content/compute/lifecycle.svg"`) {
		t.Errorf("lesson 3 does not reference its diagram at /content/compute/lifecycle.svg")
	}
}

// TestEmbeddedNumbersMatchReference guards the figures the lessons quote
// against the reference facts they were taken from.
func TestEmbeddedNumbersMatchReference(t *testing.T) {
	c, err := Load(Embedded())
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, l := range c.Lessons {
		all.WriteString(allHTML(l))
	}
	text := all.String()
	for _, want := range []string{
		"128 MB to 10,240 MB", "1,769 MB", "1 second to 900 seconds", "3 seconds by default",
		"$0.20 per million requests", "$0.0000166667 per GB-second", "$0.0000133334",
		"400,000 GB-seconds", "10 seconds", "512 MB", "1,000 per Region",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no lesson says %q", want)
		}
	}
}

func allHTML(l *Lesson) string {
	var b strings.Builder
	for _, p := range l.Parts {
		b.WriteString(p.HTML)
		if p.Quiz != nil {
			for _, q := range p.Quiz.Questions {
				b.WriteString(q.Prompt + q.Explanation)
			}
		}
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.md")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".md")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			fsys := baseCourse()
			fsys["m/01-"+name+".md"] = &fstest.MapFile{Data: src}
			c, err := Load(fsys)
			if err != nil {
				t.Fatalf("Load with %s: %v", in, err)
			}
			l, ok := c.Lesson(name)
			if !ok {
				t.Fatalf("lesson %q not loaded", name)
			}
			got := dumpLesson(l)
			golden := strings.TrimSuffix(in, ".md") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./content -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s rendered differently from %s (go test ./content -update refreshes it)\n--- got\n%s\n--- want\n%s", in, golden, got, want)
			}
		})
	}
}

// dumpLesson writes a lesson's parts in a stable, readable form.
func dumpLesson(l *Lesson) string {
	var b strings.Builder
	for _, p := range l.Parts {
		if p.Calculator != "" {
			fmt.Fprintf(&b, "<!-- calculator %s -->\n", p.Calculator)
			continue
		}
		if p.Quiz == nil {
			b.WriteString(p.HTML)
			continue
		}
		fmt.Fprintf(&b, "<!-- quiz %s -->\n", p.Quiz.ID)
		for _, q := range p.Quiz.Questions {
			kind := "single"
			if q.Multiple {
				kind = "multiple"
			}
			fmt.Fprintf(&b, "question %s (%s): %s\n", q.ID, kind, q.Prompt)
			for _, c := range q.Choices {
				mark := " "
				if c.Correct {
					mark = "x"
				}
				fmt.Fprintf(&b, "  [%s] %s: %s\n", mark, c.ID, c.Text)
			}
			fmt.Fprintf(&b, "  explain: %s\n", q.Explanation)
		}
	}
	return b.String()
}

func TestRenderFeatures(t *testing.T) {
	fsys := baseCourse()
	fsys["m/01-all.md"] = file("---\ntitle: All\nsummary: S\n---\n\n## Hello World\n\n> [!WARNING]\n> Careful.\n\n```python\nx = 1\n```\n\nSee [t](99-target.md#target-section) and ![p](pic.png).\n")
	c, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := c.Lesson("all")
	html := allHTML(l)
	for _, want := range []string{
		`<h2 id="hello-world">Hello World <a class="anchor" href="#hello-world"`,
		`<div class="markdown-alert markdown-alert-warning" role="note">`,
		`<p class="markdown-alert-title">Warning</p>`,
		`<span class="n">x</span>`, // chroma token classes, no inline styles
		`href="/lessons/target#target-section"`,
		`src="/content/m/pic.png"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("rendered lesson lacks %s\n%s", want, html)
		}
	}
	if strings.Contains(html, "style=") || strings.Contains(html, "[!WARNING]") {
		t.Errorf("rendered lesson has inline styles or a raw alert marker:\n%s", html)
	}
}

func TestHighlightCSS(t *testing.T) {
	css := HighlightCSS()
	light, dark, found := strings.Cut(css, "@media (prefers-color-scheme: dark)")
	if !found {
		t.Fatalf("HighlightCSS has no dark-mode media query:\n%s", css)
	}
	// Keywords (.k) must be styled in both, with different colours.
	re := regexp.MustCompile(`\.chroma \.k \{ ([^}]*)\}`)
	l, d := re.FindStringSubmatch(light), re.FindStringSubmatch(dark)
	if l == nil || d == nil {
		t.Fatalf("keyword class missing: light %v, dark %v", l, d)
	}
	if l[1] == d[1] {
		t.Errorf("keywords look the same in light and dark mode: %q", l[1])
	}
}

func TestRenderUntrusted(t *testing.T) {
	tests := []struct {
		name, in   string
		want       []string
		mustNotSee []string
	}{
		{"script block", "<script>alert(1)</script>", []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}, []string{"<script"}},
		{"inline html", "hi <img src=x onerror=alert(1)> there", []string{"&lt;img src=x onerror=alert(1)&gt;"}, []string{"<img"}},
		{"javascript link", "[click](javascript:alert(1))", []string{"click"}, []string{"javascript:"}},
		{"markdown still works", "**bold** and `code`\n\n- item", []string{"<strong>bold</strong>", "<code>code</code>", "<li>item</li>"}, nil},
		{"no heading ids", "## Title", []string{"<h2>Title</h2>"}, []string{"id="}},
		{"alerts work", "> [!NOTE]\n> hi", []string{"markdown-alert-note"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RenderUntrusted(tt.in)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("RenderUntrusted(%q) = %q, want it to contain %q", tt.in, got, w)
				}
			}
			for _, w := range tt.mustNotSee {
				if strings.Contains(got, w) {
					t.Errorf("RenderUntrusted(%q) = %q, must not contain %q", tt.in, got, w)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	fm := func(extra string) string { return "---\ntitle: T\nsummary: S\n" + extra + "---\n" }
	quiz := func(yaml string) string { return fm("") + "\nText.\n\n```quiz\n" + yaml + "```\n" }
	validQ := "- q: Q?\n  choices:\n    - text: A\n      correct: true\n    - text: B\n  explain: E.\n"
	tests := []struct {
		name  string
		files map[string]string // added to (or, when empty, removed from) baseCourse
		file  string
		line  int
		msg   string
	}{
		{"no frontmatter", map[string]string{"m/01-a.md": "# Hi\n"}, "m/01-a.md", 1, "missing frontmatter"},
		{"unclosed frontmatter", map[string]string{"m/01-a.md": "---\ntitle: T\n"}, "m/01-a.md", 1, "not closed"},
		{"bad frontmatter yaml", map[string]string{"m/01-a.md": "---\ntitle: T\nsummary: [oops\n---\n"}, "m/01-a.md", 3, "frontmatter"},
		{"unknown frontmatter key", map[string]string{"m/01-a.md": "---\ntitle: T\nsumary: S\n---\n"}, "m/01-a.md", 3, "field sumary not found"},
		{"missing title", map[string]string{"m/01-a.md": "---\nsummary: S\norder: 1\n---\n"}, "m/01-a.md", 1, "missing title"},
		{"empty title", map[string]string{"m/01-a.md": "---\nsummary: S\ntitle: \"  \"\n---\n"}, "m/01-a.md", 3, "missing title"},
		{"missing summary", map[string]string{"m/01-a.md": "---\ntitle: T\n---\n"}, "m/01-a.md", 1, "missing summary"},
		{"module mismatch", map[string]string{"m/01-a.md": fm("module: other\n")}, "m/01-a.md", 4, `module "other" does not match`},
		{"bad slug", map[string]string{"m/01-a.md": fm("slug: Not OK\n")}, "m/01-a.md", 4, "slug"},
		{"no order", map[string]string{"m/intro.md": fm("")}, "m/intro.md", 1, "missing order"},
		{"duplicate slug", map[string]string{"m/01-a.md": fm("slug: target\n")}, "m/99-target.md", 1, `duplicate lesson slug "target"`},
		{"duplicate order", map[string]string{"m/99-b.md": fm("")}, "m/99-target.md", 1, "order 99 is also used"},
		{"dead lesson link", map[string]string{"m/01-a.md": fm("") + "\nOne.\n\nSee [x](02-missing.md).\n"}, "m/01-a.md", 8, "02-missing.md: no such lesson"},
		{"dead link in list", map[string]string{"m/01-a.md": fm("") + "\n- one\n- two [x](../other/09-gone.md#x)\n"}, "m/01-a.md", 7, "other/09-gone.md: no such lesson"},
		{"dead anchor", map[string]string{"m/01-a.md": fm("") + "\n[x](99-target.md#nope)\n"}, "m/01-a.md", 6, "no heading with that anchor"},
		{"dead local anchor", map[string]string{"m/01-a.md": fm("") + "\n## Real\n\n[x](#unreal)\n"}, "m/01-a.md", 8, "#unreal"},
		{"dead image", map[string]string{"m/01-a.md": fm("") + "\n\n![d](missing.png)\n"}, "m/01-a.md", 7, "image m/missing.png: no such file"},
		{"image not an image", map[string]string{"m/01-a.md": fm("") + "\n![d](99-target.md)\n", "m/x.txt": "x"}, "m/01-a.md", 6, "only lessons (.md) and images"},
		{"link outside course", map[string]string{"m/01-a.md": fm("") + "\n[x](../../etc/passwd.md)\n"}, "m/01-a.md", 6, "outside the course folder"},
		{"bad quiz yaml", map[string]string{"m/01-a.md": quiz("- q: Q?\n  choices: [\n")}, "m/01-a.md", 10, "quiz"},
		{"quiz unknown key", map[string]string{"m/01-a.md": quiz("- q: Q?\n  answer: 1\n")}, "m/01-a.md", 10, "field answer not found"},
		{"quiz no correct answer", map[string]string{"m/01-a.md": quiz("- q: Q?\n  choices:\n    - text: A\n    - text: B\n  explain: E.\n")}, "m/01-a.md", 10, "no choice is marked correct"},
		{"quiz two correct in single choice", map[string]string{"m/01-a.md": quiz(validQ + "- q: Q2?\n  choices:\n    - text: A\n      correct: true\n    - text: B\n      correct: true\n  explain: E.\n")}, "m/01-a.md", 16, "add multiple: true"},
		{"quiz missing explanation", map[string]string{"m/01-a.md": quiz("- q: Q?\n  choices:\n    - text: A\n      correct: true\n    - text: B\n")}, "m/01-a.md", 9, "missing explain"},
		{"quiz one choice", map[string]string{"m/01-a.md": quiz("- q: Q?\n  choices:\n    - text: A\n      correct: true\n  explain: E.\n")}, "m/01-a.md", 10, "at least two choices"},
		{"quiz empty", map[string]string{"m/01-a.md": quiz("")}, "m/01-a.md", 8, "empty"},
		{"quiz scalar", map[string]string{"m/01-a.md": quiz("just text\n")}, "m/01-a.md", 9, "list of questions"},
		{"quiz dead link", map[string]string{"m/01-a.md": quiz("- q: Q?\n  choices:\n    - text: A\n      correct: true\n    - text: B\n  explain: See [x](nope.md).\n")}, "m/01-a.md", 14, "nope.md: no such lesson"},
		{"quiz inside a list", map[string]string{"m/01-a.md": fm("") + "\n- item\n\n  ```quiz\n" + validQ + "  ```\n"}, "m/01-a.md", 8, "must stand on its own"},
		{"duplicate quiz id", map[string]string{"m/01-a.md": quiz("id: x\nquestions:\n"+validQ) + "\n```quiz\nid: x\nquestions:\n" + validQ + "```\n"}, "m/01-a.md", 19, `quiz id "x" is also used`},
		{"not utf-8", map[string]string{"m/01-a.md": "---\ntitle: \xff\n---\n"}, "m/01-a.md", 0, "not UTF-8"},
		{"course.yaml missing", map[string]string{"course.yaml": ""}, "course.yaml", 0, "read course description"},
		{"course.yaml bad yaml", map[string]string{"course.yaml": "title: T\nmodules:\n  - slug: m\n   title: x\n"}, "course.yaml", 3, "course description"},
		{"course.yaml no title", map[string]string{"course.yaml": "modules:\n  - slug: m\n    title: M\n"}, "course.yaml", 0, "missing title"},
		{"course.yaml duplicate module", map[string]string{"course.yaml": "title: T\nmodules:\n  - slug: m\n    title: M\n  - slug: m\n    title: Again\n"}, "course.yaml", 5, `duplicate module slug "m"`},
		{"module without lessons", map[string]string{"course.yaml": "title: T\nmodules:\n  - slug: m\n    title: M\n  - slug: empty\n    title: E\n"}, "course.yaml", 5, `module "empty"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := baseCourse()
			for name, data := range tt.files {
				if data == "" && fsys[name] != nil {
					delete(fsys, name)
					continue
				}
				fsys[name] = file(data)
			}
			c, err := Load(fsys)
			if err == nil {
				t.Fatalf("Load succeeded with %d lessons, want an error at %s:%d", len(c.Lessons), tt.file, tt.line)
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LoadError", err)
			}
			for _, p := range le.Problems {
				if p.File == tt.file && p.Line == tt.line && strings.Contains(p.Msg, tt.msg) {
					want := fmt.Sprintf("%s:%d: ", tt.file, tt.line)
					if tt.line == 0 {
						want = tt.file + ": "
					}
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error text %q does not name %q", err, want)
					}
					return
				}
			}
			t.Errorf("got %v\nwant a problem at %s:%d containing %q", err, tt.file, tt.line, tt.msg)
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	fsys := baseCourse()
	fsys["m/01-a.md"] = file("---\nsummary: S\n---\n")
	fsys["m/02-b.md"] = file("---\ntitle: B\nsummary: S\n---\n[x](nope.md)\n")
	_, err := Load(fsys)
	var le *LoadError
	if !errors.As(err, &le) || len(le.Problems) != 2 {
		t.Fatalf("Load = %v, want a LoadError with 2 problems", err)
	}
	if le.Problems[0].File != "m/01-a.md" || le.Problems[1].File != "m/02-b.md" {
		t.Errorf("problems not sorted by file: %v", err)
	}
}

func TestLoadCapsProblems(t *testing.T) {
	fsys := baseCourse()
	for i := range 60 {
		fsys[fmt.Sprintf("m/%02d-x%d.md", i+1, i)] = file("no frontmatter\n")
	}
	_, err := Load(fsys)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load with 60 broken lessons = %v, want a *LoadError", err)
	}
	if len(le.Problems) != maxProblems || le.More != 10 {
		t.Fatalf("Load with 60 broken lessons: %d problems shown, %d more; want %d and 10", len(le.Problems), le.More, maxProblems)
	}
	if !strings.Contains(err.Error(), "60 problems") || !strings.Contains(err.Error(), "and 10 more") {
		t.Errorf("error text does not count the hidden problems: %v", err)
	}
}

func TestQuizGrade(t *testing.T) {
	quiz := &Quiz{ID: "quiz-1", Questions: []*Question{
		{ID: "q1", Choices: []*Choice{{ID: "a"}, {ID: "b", Correct: true}, {ID: "c"}}},
		{ID: "q2", Multiple: true, Choices: []*Choice{{ID: "a", Correct: true}, {ID: "b"}, {ID: "c", Correct: true}}},
	}}
	tests := []struct {
		name    string
		answers map[string][]string
		score   int
		correct []bool
		chosen  [][]string
	}{
		{"all right", map[string][]string{"q1": {"b"}, "q2": {"a", "c"}}, 2, []bool{true, true}, [][]string{{"b"}, {"a", "c"}}},
		{"order does not matter", map[string][]string{"q1": {"b"}, "q2": {"c", "a"}}, 2, []bool{true, true}, [][]string{{"b"}, {"a", "c"}}},
		{"nothing answered", nil, 0, []bool{false, false}, [][]string{nil, nil}},
		{"single wrong", map[string][]string{"q1": {"a"}, "q2": {"a", "c"}}, 1, []bool{false, true}, [][]string{{"a"}, {"a", "c"}}},
		{"multiple partly right", map[string][]string{"q1": {"b"}, "q2": {"a"}}, 1, []bool{true, false}, [][]string{{"b"}, {"a"}}},
		{"multiple with an extra wrong", map[string][]string{"q2": {"a", "b", "c"}}, 0, []bool{false, false}, [][]string{nil, {"a", "b", "c"}}},
		{"single with every choice ticked", map[string][]string{"q1": {"a", "b", "c"}}, 0, []bool{false, false}, [][]string{{"a", "b", "c"}, nil}},
		{"unknown ids ignored", map[string][]string{"q1": {"b", "zzz"}, "q9": {"a"}, "q2": {"a", "c", "a"}}, 2, []bool{true, true}, [][]string{{"b"}, {"a", "c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := quiz.Grade(tt.answers)
			if g.Score != tt.score || g.Total != 2 {
				t.Errorf("Grade(%v) score %d/%d, want %d/2", tt.answers, g.Score, g.Total, tt.score)
			}
			for i, qg := range g.Questions {
				if qg.Question != quiz.Questions[i] || qg.Correct != tt.correct[i] || fmt.Sprint(qg.Chosen) != fmt.Sprint(tt.chosen[i]) {
					t.Errorf("Grade(%v) question %s: correct %v chosen %v, want %v %v", tt.answers, qg.Question.ID, qg.Correct, qg.Chosen, tt.correct[i], tt.chosen[i])
				}
			}
		})
	}
}

func BenchmarkLoadEmbedded(b *testing.B) {
	for b.Loop() {
		if _, err := Load(Embedded()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderLesson(b *testing.B) {
	c, err := Load(Embedded())
	if err != nil {
		b.Fatal(err)
	}
	l := c.Lessons[0]
	src, err := readLimited(Embedded(), l.File)
	if err != nil {
		b.Fatal(err)
	}
	_, end, _ := splitFrontmatter(src)
	body := []byte(strings.Repeat("\n", strings.Count(string(src[:end]), "\n")) + string(src[end:]))
	byFile := map[string]*Lesson{}
	for _, l := range c.Lessons {
		byFile[l.File] = l
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		var probs problems
		r := newRenderer(Embedded(), byFile, &probs)
		copyL := &Lesson{File: l.File, Slug: l.Slug, Module: l.Module}
		r.renderLesson(copyL, body)
		r.checkAnchors()
		if len(probs.list) > 0 || len(copyL.Parts) == 0 {
			b.Fatalf("render: %v, %d parts", probs.err(), len(copyL.Parts))
		}
	}
}

// Course-wide rules from the writing spec that Load does not enforce, so
// that a lesson half written still loads in author mode: they hold for the
// course as shipped.

// courseRuleProblems checks the course against the spec's rules for
// pictures and module quizzes, one message per broken rule:
//   - every .svg in the course is an accessible, self-contained picture:
//     role="img", a <title>, a viewBox, a dark-mode style block, no script
//     (no <script>, no on… attributes), no reference outside the file
//     (href, xlink:href, src, url(…), @import other than to #fragment);
//   - every module has a quiz somewhere;
//   - every module's last lesson ends with the module quiz: its last quiz
//     part has id module-quiz and 4 to 6 questions, and after it comes at
//     most closing prose, no heading and no calculator.
func courseRuleProblems(c *Course) []string {
	var out []string
	_ = fs.WalkDir(c.Assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(path.Ext(p), ".svg") {
			out = append(out, svgProblems(c.Assets, p)...)
		}
		return nil
	})
	for _, m := range c.Modules {
		quizzes := 0
		for _, l := range m.Lessons {
			quizzes += len(l.Quizzes)
		}
		if quizzes == 0 {
			out = append(out, fmt.Sprintf("module %s has no quiz", m.Slug))
		}
		if len(m.Lessons) == 0 {
			continue
		}
		last := m.Lessons[len(m.Lessons)-1]
		q := -1
		for i, p := range last.Parts {
			if p.Quiz != nil {
				q = i
			}
		}
		if q < 0 {
			out = append(out, fmt.Sprintf("%s: the last lesson of module %s has no module quiz", last.File, m.Slug))
			continue
		}
		mq := last.Parts[q].Quiz
		if mq.ID != "module-quiz" {
			out = append(out, fmt.Sprintf("%s: the module quiz (the lesson's last quiz) has id %q, want id: module-quiz", last.File, mq.ID))
		}
		if n := len(mq.Questions); n < 4 || n > 6 {
			out = append(out, fmt.Sprintf("%s: the module quiz has %d questions, want 4 to 6", last.File, n))
		}
		for _, p := range last.Parts[q+1:] {
			if p.Calculator != "" || headingTag.MatchString(p.HTML) {
				out = append(out, fmt.Sprintf("%s: the lesson must end with the module quiz, but a heading or calculator follows it", last.File))
				break
			}
		}
	}
	return out
}

var (
	headingTag = regexp.MustCompile(`<h[1-6][ >]`)
	darkScheme = regexp.MustCompile(`@media[^{]*prefers-color-scheme:\s*dark`)
	cssURL     = regexp.MustCompile(`url\(\s*['"]?([^'")]*)`)
)

// svgProblems checks one picture; each problem names file:line.
func svgProblems(fsys fs.FS, p string) []string {
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", p, err)}
	}
	var out []string
	dec := xml.NewDecoder(bytes.NewReader(data))
	line := func() int { l, _ := dec.InputPos(); return l }
	bad := func(l int, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s:%d: ", p, l)+fmt.Sprintf(format, args...))
	}
	external := func(ref string) bool { ref = strings.TrimSpace(ref); return ref != "" && !strings.HasPrefix(ref, "#") }
	var stack []string
	title, dark, root := false, false, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			bad(line(), "not well-formed XML: %v", err)
			return out
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			attr := map[string]string{}
			for _, a := range t.Attr {
				attr[a.Name.Local] = a.Value
				switch {
				case strings.HasPrefix(strings.ToLower(a.Name.Local), "on"):
					bad(line(), "<%s> has an event handler %s: no scripts in pictures", t.Name.Local, a.Name.Local)
				case (a.Name.Local == "href" || a.Name.Local == "src") && external(a.Value):
					bad(line(), "<%s> refers to %s outside the picture", t.Name.Local, a.Value)
				}
				for _, m := range cssURL.FindAllStringSubmatch(a.Value, -1) {
					if external(m[1]) {
						bad(line(), "<%s> refers to %s outside the picture", t.Name.Local, m[1])
					}
				}
			}
			if len(stack) == 1 {
				root = true
				if t.Name.Local != "svg" {
					bad(line(), "the root element is <%s>, want <svg>", t.Name.Local)
				}
				if attr["role"] != "img" {
					bad(line(), `<svg> needs role="img"`)
				}
				if attr["viewBox"] == "" {
					bad(line(), "<svg> needs a viewBox, so the picture scales to the page")
				}
			}
			if t.Name.Local == "script" {
				bad(line(), "<script>: no scripts in pictures")
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			switch stack[len(stack)-1] {
			case "title":
				title = title || (len(stack) == 2 && strings.TrimSpace(string(t)) != "")
			case "style":
				css := string(t)
				dark = dark || darkScheme.MatchString(css)
				for _, m := range cssURL.FindAllStringSubmatch(css, -1) {
					if external(m[1]) {
						bad(line(), "the style refers to %s outside the picture", m[1])
					}
				}
				for _, at := range []string{"@import", "@font-face"} {
					if strings.Contains(css, at) {
						bad(line(), "the style uses %s: no external or embedded fonts and styles", at)
					}
				}
			}
		}
	}
	if !root {
		bad(1, "no <svg> element")
	}
	if !title {
		bad(1, "<svg> needs a <title> child naming what the picture shows")
	}
	if !dark {
		bad(1, "no @media (prefers-color-scheme: dark) block in a <style>: the picture must stay readable in dark mode")
	}
	return out
}

func TestCourseRulesFixtures(t *testing.T) {
	tests := []struct {
		dir  string
		want []string
	}{
		{"testdata/rules-pass", nil},
		{"testdata/rules-fail", []string{
			`one/bad.svg:1: <svg> needs role="img"`,
			`one/bad.svg:1: <svg> needs a viewBox, so the picture scales to the page`,
			`one/bad.svg:5: the style refers to https://fonts.example.com/font.css outside the picture`,
			`one/bad.svg:5: the style uses @import: no external or embedded fonts and styles`,
			`one/bad.svg:6: <image> refers to https://example.com/logo.png outside the picture`,
			`one/bad.svg:7: <rect> has an event handler onclick: no scripts in pictures`,
			`one/bad.svg:8: <script>: no scripts in pictures`,
			`one/bad.svg:1: <svg> needs a <title> child naming what the picture shows`,
			`one/bad.svg:1: no @media (prefers-color-scheme: dark) block in a <style>: the picture must stay readable in dark mode`,
			`one/02-last.md: the module quiz (the lesson's last quiz) has id "quiz-1", want id: module-quiz`,
			`one/02-last.md: the module quiz has 3 questions, want 4 to 6`,
			`one/02-last.md: the lesson must end with the module quiz, but a heading or calculator follows it`,
			`module two has no quiz`,
			`two/01-quizless.md: the last lesson of module two has no module quiz`,
		}},
	}
	for _, tt := range tests {
		t.Run(path.Base(tt.dir), func(t *testing.T) {
			c, err := Load(os.DirFS(tt.dir))
			if err != nil {
				t.Fatalf("Load(%s): %v", tt.dir, err)
			}
			if got := courseRuleProblems(c); !slices.Equal(got, tt.want) {
				t.Errorf("courseRuleProblems(%s):\n%s\nwant:\n%s", tt.dir, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestEmbeddedCourseRules holds the shipped course to the spec's rules for
// pictures and module quizzes.
func TestEmbeddedCourseRules(t *testing.T) {
	c, err := Load(Embedded())
	if err != nil {
		t.Fatalf("Load(Embedded()): %v", err)
	}
	for _, p := range courseRuleProblems(c) {
		t.Error(p)
	}
}
