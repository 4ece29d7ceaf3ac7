package content

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"lambdalab/facts"
)

// lesson is a lesson file whose body starts on line 5.
func lesson(body string) string { return "---\ntitle: T\nsummary: S\n---\n" + body }

// TestSyntaxErrors pins the exact message, file and line of each mistake in
// the course-writing syntax (facts, dated external links, calculators, lab
// links, image alt text).
func TestSyntaxErrors(t *testing.T) {
	const dated = `"AWS Lambda Developer Guide, read February 2026"`
	tests := []struct {
		name string
		src  string   // m/01-a.md
		want []string // every problem, in order
	}{
		{"unknown fact", lesson("Text.\n\nUp to {{fact timout-max}}.\n"),
			[]string{`m/01-a.md:7: unknown fact "timout-max" (known: ` + closestFacts("timout-max", 3) + ")"}},
		{"unknown fact in frontmatter", "---\ntitle: T\nsummary: Up to {{fact nope}}.\n---\n",
			[]string{`m/01-a.md:3: unknown fact "nope" (known: ` + closestFacts("nope", 3) + ")"}},
		{"unknown fact in a quiz", lesson("```quiz\n- q: Q?\n  choices:\n    - text: \"{{fact memory-mx}}\"\n      correct: true\n    - text: B\n  explain: E.\n```\n"),
			[]string{`m/01-a.md:8: unknown fact "memory-mx" (known: ` + closestFacts("memory-mx", 3) + ")"}},
		{"unknown fact in code", lesson("```python\nx = \"{{fact x}}\"\n```\n"),
			[]string{`m/01-a.md:6: unknown fact "x" (known: ` + closestFacts("x", 3) + ")"}},
		{"fact without id", lesson("\n{{fact}} and {{fact a b}}\n"),
			[]string{`m/01-a.md:6: fact placeholder "{{fact}}" needs exactly one ID, like {{fact timeout-max}}`,
				`m/01-a.md:6: fact placeholder "{{fact a b}}" needs exactly one ID, like {{fact timeout-max}}`}},
		{"external link without title", lesson("Text.\n\nSee [quotas](https://docs.aws.amazon.com/q.html).\n"),
			[]string{`m/01-a.md:7: external link https://docs.aws.amazon.com/q.html has no title: give its source and the month it was read, as in ` + dated}},
		{"external link title without date", lesson("See [q](http://example.com/ \"AWS docs\").\n"),
			[]string{`m/01-a.md:5: external link http://example.com/: title "AWS docs" names no month and year; say when the page was read, as in ` + dated}},
		{"external link with a year only", lesson("See [q](https://example.com/ \"AWS docs, 2026\").\n"),
			[]string{`m/01-a.md:5: external link https://example.com/: title "AWS docs, 2026" names no month and year; say when the page was read, as in ` + dated}},
		{"reference link without title", lesson("A [ref][r].\n\n[r]: https://example.com/\n"),
			[]string{`m/01-a.md:5: external link https://example.com/ has no title: give its source and the month it was read, as in ` + dated}},
		{"external link in a quiz", lesson("```quiz\n- q: Q?\n  choices:\n    - text: A\n      correct: true\n    - text: B\n  explain: See [x](https://example.com/).\n```\n"),
			[]string{`m/01-a.md:11: external link https://example.com/ has no title: give its source and the month it was read, as in ` + dated}},
		{"bare url", lesson("Text.\n\nFirst line\nthen https://example.com/x here.\n"),
			[]string{`m/01-a.md:8: bare link https://example.com/x: write it as [text](https://example.com/x "Source, read Month YYYY") so it says where it is from and when it was read`}},
		{"angle autolink", lesson("<https://example.com/>\n"),
			[]string{`m/01-a.md:5: bare link https://example.com/: write it as [text](https://example.com/ "Source, read Month YYYY") so it says where it is from and when it was read`}},
		{"www autolink", lesson("Go to www.example.com now.\n"),
			[]string{`m/01-a.md:5: bare link http://www.example.com: write it as [text](http://www.example.com "Source, read Month YYYY") so it says where it is from and when it was read`}},
		{"unknown calculator", lesson("Text.\n\n```calculator cost\n```\n"),
			[]string{`m/01-a.md:7: unknown calculator "cost" (known: billing, rps)`}},
		{"calculator without name", lesson("```calculator\n```\n"),
			[]string{"m/01-a.md:5: calculator: name which one, as in ```calculator billing (known: billing, rps)"}},
		{"calculator with two names", lesson("```calculator billing rps\n```\n"),
			[]string{`m/01-a.md:5: calculator billing: write only its name after calculator, not "billing rps"`}},
		{"calculator with a body", lesson("```calculator rps\n\nmemory: 128\n```\n"),
			[]string{`m/01-a.md:7: calculator rps: the block must be empty (the reader sets the inputs on the page)`}},
		{"calculator in a list", lesson("- item\n\n  ```calculator rps\n  ```\n"),
			[]string{`m/01-a.md:7: a calculator must stand on its own, not inside a list or a quote`}},
		{"image without alt", lesson("Text.\n\n![](pic.png)\n"),
			[]string{`m/01-a.md:7: image pic.png has no text alternative: write ![what the picture shows](pic.png)`}},
		{"image with blank alt", lesson("![ ](pic.png)\n"),
			[]string{`m/01-a.md:5: image pic.png has no text alternative: write ![what the picture shows](pic.png)`}},
		{"lab link too deep", lesson("Text.\n\n[lab](/labs/concurrency/workspace)\n"),
			[]string{`m/01-a.md:7: link to a lab "/labs/concurrency/workspace": write /labs/ID, the lab's own page (like /labs/concurrency)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := baseCourse()
			fsys["m/01-a.md"] = file(tt.src)
			_, err := Load(fsys)
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load = %v, want a *LoadError", err)
			}
			var got []string
			for _, p := range le.Problems {
				got = append(got, p.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Load problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestClosestFacts(t *testing.T) {
	got := closestFacts("timout-max", 3)
	if !strings.HasPrefix(got, "timeout-max, ") || !strings.HasSuffix(got, ", …") || strings.Count(got, ", ") != 3 {
		t.Errorf("closestFacts(timout-max, 3) = %q, want timeout-max first, two more and …", got)
	}
	if got := closestFacts("memory-mx", 2); !strings.HasPrefix(got, "memory-max, memory-min") {
		t.Errorf("closestFacts(memory-mx, 2) = %q, want memory-max, memory-min first", got)
	}
}

func TestFactsExpand(t *testing.T) {
	fsys := baseCourse()
	fsys["m/01-a.md"] = file("---\ntitle: Up to {{fact timeout-max}}\nsummary: Costs {{fact price-requests}}.\n---\n\nMemory: {{fact memory-min}} to {{fact memory-max}}.\n")
	c, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := c.Lesson("a")
	timeout, _ := facts.Lookup("timeout-max")
	price, _ := facts.Lookup("price-requests")
	lo, _ := facts.Lookup("memory-min")
	hi, _ := facts.Lookup("memory-max")
	if want := "Up to " + timeout.Text; l.Title != want {
		t.Errorf("title %q, want %q", l.Title, want)
	}
	if want := "Costs " + price.Text + "."; l.Summary != want {
		t.Errorf("summary %q, want %q", l.Summary, want)
	}
	if want := "<p>Memory: " + lo.Text + " to " + hi.Text + ".</p>\n"; allHTML(l) != want {
		t.Errorf("body %q, want %q", allHTML(l), want)
	}
}

func TestLabLinks(t *testing.T) {
	fsys := baseCourse()
	fsys["m/01-a.md"] = file(lesson("Try [the lab](/labs/concurrency).\n\n```quiz\n- q: Q?\n  choices:\n    - text: A\n      correct: true\n    - text: B\n  explain: Practise in [the S3 lab](/labs/s3-transform#step-1).\n```\n\nThen [again](/labs/concurrency) and [all labs](/labs).\n"))
	c, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := c.Lesson("a")
	want := []LabLink{{"concurrency", 5}, {"s3-transform", 13}, {"concurrency", 16}}
	if !slices.Equal(l.LabLinks, want) {
		t.Errorf("LabLinks = %v, want %v", l.LabLinks, want)
	}
	if err := c.CheckLabLinks(func(id string) bool { return true }); err != nil {
		t.Errorf("CheckLabLinks(every lab exists) = %v", err)
	}
	err = c.CheckLabLinks(func(id string) bool { return id == "s3-transform" })
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("CheckLabLinks = %v, want a *LoadError", err)
	}
	wantMsg := "2 problems in the course:\n" +
		`m/01-a.md:5: link to lab "concurrency", which does not exist` + "\n" +
		`m/01-a.md:16: link to lab "concurrency", which does not exist`
	if err.Error() != wantMsg {
		t.Errorf("CheckLabLinks error:\n%s\nwant:\n%s", err, wantMsg)
	}
}

func TestReadingMinutes(t *testing.T) {
	words := func(n int) string { return strings.Repeat("word ", n) + "\n" }
	quiz := "```quiz\n- q: " + strings.TrimSpace(words(50)) + "\n  choices:\n    - text: yes\n      correct: true\n    - text: no\n  explain: " + strings.TrimSpace(words(48)) + "\n```\n"
	tests := []struct {
		name, body string
		want       int
	}{
		{"empty lesson", "", 1},
		{"a short lesson", words(10), 1},
		{"exactly 200 words", words(200), 1},
		{"201 words", words(201), 2},
		// A heading's anchor "#" and a lone "=" are not words; x and 1
		// are, and make it 201.
		{"heading and code", "## " + strings.TrimSpace(words(99)) + "\n\n```python\nx = 1\n```\n\n" + words(100), 2},
		{"heading and code within 200", "## " + strings.TrimSpace(words(99)) + "\n\n```python\nx = 1\n```\n\n" + words(99), 1},
		{"quiz words count", words(100) + "\n" + quiz, 1}, // 100 + 50 + 2 + 48
		{"quiz words count past 200", words(101) + "\n" + quiz, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := baseCourse()
			fsys["m/01-a.md"] = file(lesson(tt.body))
			c, err := Load(fsys)
			if err != nil {
				t.Fatal(err)
			}
			l, _ := c.Lesson("a")
			if l.ReadingMinutes != tt.want {
				t.Errorf("ReadingMinutes = %d, want %d (%d words)", l.ReadingMinutes, tt.want, countWordsOf(l))
			}
		})
	}
}

func countWordsOf(l *Lesson) int {
	n := 0
	for _, p := range l.Parts {
		n += countWords(p.HTML)
	}
	return n
}

func TestCalculatorParts(t *testing.T) {
	fsys := baseCourse()
	fsys["m/01-a.md"] = file(lesson("Before.\n\n```calculator billing\n```\n\nAfter.\n"))
	c, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := c.Lesson("a")
	if len(l.Parts) != 3 || l.Parts[1].Calculator != "billing" || l.Parts[1].HTML != "" || l.Parts[1].Quiz != nil ||
		l.Parts[0].Calculator != "" || l.Parts[2].HTML != "<p>After.</p>\n" {
		t.Errorf("parts = %+v, want prose, the billing calculator, prose", l.Parts)
	}
}
