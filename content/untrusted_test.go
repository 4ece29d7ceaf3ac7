package content

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// allowedTags are the elements Markdown itself produces. Anything else in
// RenderUntrusted's output would have come from the student's raw HTML.
var allowedTags = map[string]bool{
	"p": true, "br": true, "hr": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"em": true, "strong": true, "del": true, "code": true, "pre": true, "span": true, "blockquote": true,
	"ul": true, "ol": true, "li": true, "input": true, "a": true, "img": true, "div": true,
	"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true,
}

// checkSafe fails when rendered HTML holds an element, attribute or URL
// that a student could use to run script or restyle the page.
func checkSafe(t *testing.T, in, out string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if !allowedTags[tok.Data] {
			t.Fatalf("RenderUntrusted(%q) produced <%s>:\n%s", in, tok.Data, out)
		}
		for _, a := range tok.Attr {
			v := strings.ToLower(strings.TrimSpace(a.Val))
			switch {
			case strings.HasPrefix(a.Key, "on"), a.Key == "style", a.Key == "id", a.Key == "name":
				t.Fatalf("RenderUntrusted(%q) produced attribute %s=%q on <%s>:\n%s", in, a.Key, a.Val, tok.Data, out)
			case (a.Key == "href" || a.Key == "src") && (strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "vbscript:") || strings.HasPrefix(v, "data:text")):
				t.Fatalf("RenderUntrusted(%q) produced %s=%q:\n%s", in, a.Key, a.Val, out)
			}
		}
	}
}

func FuzzRenderUntrusted(f *testing.F) {
	for _, s := range []string{
		"<script>alert(1)</script>",
		"<img src=x onerror=alert(1)>",
		"[x](javascript:alert(1))",
		"[x](JaVaScRiPt:alert(1))",
		"![x](javascript:alert(1))",
		"<a href=\"javascript:alert(1)\">x</a>",
		"<style>body{display:none}</style>",
		"<iframe src=//evil></iframe>",
		"`<b>` **<i>x</i>**",
		"> [!NOTE]\n> <svg onload=alert(1)>",
		"| a |\n|---|\n| <b onclick=x>1</b> |",
		"<details open ontoggle=alert(1)>",
		"```html\n<script>x</script>\n```",
		"[x](data:text/html;base64,PHNjcmlwdD4=)",
		"## Heading {#custom onclick=x}",
		"<!-- comment --> <?php x ?> <![CDATA[x]]>",
		"www.example.com/<script>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkSafe(t, in, RenderUntrusted(in))
	})
}

// FuzzLoadLesson feeds arbitrary text as a lesson: Load must either succeed
// or return a *LoadError naming the file — never panic, since author mode
// reloads whatever is on disk mid-edit.
func FuzzLoadLesson(f *testing.F) {
	for _, name := range []string{"gfm", "alerts", "code", "links", "quiz"} {
		if src, err := os.ReadFile("testdata/" + name + ".md"); err == nil {
			f.Add(string(src))
		}
	}
	f.Add("---\ntitle: T\nsummary: S\n---\n```quiz\nid: x\nquestions: 3\n```\n")
	f.Add("---\ntitle: T\nsummary: S\n---\n```quiz\n- q: [1]\n  choices: {a: 1}\n```\n")
	f.Add("---\ntitle: T\nsummary: S\n---\n> [!NOTE]\n")
	f.Fuzz(func(t *testing.T, src string) {
		fsys := baseCourse()
		fsys["m/01-a.md"] = file(src)
		c, err := Load(fsys)
		if err == nil {
			if _, ok := c.Lesson("a"); !ok {
				if _, ok := c.Lesson("target"); !ok {
					t.Fatalf("Load succeeded without the lessons")
				}
			}
			return
		}
		var le *LoadError
		if !errors.As(err, &le) || len(le.Problems) == 0 {
			t.Fatalf("Load error %v is not a LoadError with problems", err)
		}
	})
}
