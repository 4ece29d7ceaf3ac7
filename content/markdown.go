package content

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/yuin/goldmark"
	highlighting "github.com/yuin/goldmark-highlighting/v2"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	goldhtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// The two Markdown pipelines. Both are built once and shared: goldmark keeps
// no per-document state outside the parser.Context of each call.
var (
	trustedMarkdown = sync.OnceValue(func() goldmark.Markdown {
		return goldmark.New(
			goldmark.WithExtensions(gfm()...),
			goldmark.WithParserOptions(
				parser.WithAutoHeadingID(),
				parser.WithASTTransformers(
					util.Prioritized(alertTransformer{}, 100),
					util.Prioritized(linkTransformer{}, 200),
				),
			),
			// Course Markdown is written by the course authors, who may use
			// raw HTML (a <details>, a <kbd>); nothing a student types goes here.
			goldmark.WithRendererOptions(
				goldhtml.WithUnsafe(),
				renderer.WithNodeRenderers(
					util.Prioritized(headingRenderer{}, 100),
					util.Prioritized(alertRenderer{}, 100),
					util.Prioritized(sourceNoteRenderer{}, 100),
				),
			),
		)
	})
	untrustedMarkdown = sync.OnceValue(func() goldmark.Markdown {
		return goldmark.New(
			goldmark.WithExtensions(gfm()...),
			goldmark.WithParserOptions(
				parser.WithASTTransformers(util.Prioritized(alertTransformer{}, 100)),
			),
			// No WithUnsafe: goldmark also drops javascript: and similar
			// link targets. Raw HTML is shown as text rather than dropped
			// so that nothing the student wrote silently disappears.
			goldmark.WithRendererOptions(
				renderer.WithNodeRenderers(
					util.Prioritized(alertRenderer{}, 100),
					util.Prioritized(escapedHTMLRenderer{}, 100),
				),
			),
		)
	})
)

// gfm is GitHub Flavored Markdown (what extension.GFM bundles) plus code
// highlighting, with table alignment as align="…" attributes rather than
// inline styles, so pages work under a Content-Security-Policy without
// 'unsafe-inline' styles.
func gfm() []goldmark.Extender {
	return []goldmark.Extender{
		extension.Linkify,
		extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
		extension.Strikethrough,
		extension.TaskList,
		codeHighlighting(),
	}
}

func codeHighlighting() goldmark.Extender {
	// Class-based output: the colours live in HighlightCSS, so one rendered
	// lesson serves light and dark mode alike.
	return highlighting.NewHighlighting(
		highlighting.WithFormatOptions(chromahtml.WithClasses(true)),
	)
}

// RenderUntrusted renders Markdown typed by a student (a forum post, a note)
// to HTML. Raw HTML is escaped and shown as text, dangerous link schemes are
// dropped, and headings get no ids (so they cannot clash with the page's).
func RenderUntrusted(md string) string {
	var buf bytes.Buffer
	if err := untrustedMarkdown().Convert([]byte(md), &buf); err != nil {
		// Convert writes to a bytes.Buffer, which does not fail; escaping
		// the input keeps the contract "never raw HTML" even so.
		return "<p>" + html.EscapeString(md) + "</p>\n"
	}
	return buf.String()
}

// RenderTrusted renders Markdown written by the course's authors outside a
// lesson file (a lab's instructions) with the lessons' pipeline: raw HTML
// kept, code highlighted, alerts, headings with ids and anchors. Links are
// left as written: there is no lesson file to resolve relative ones from.
func RenderTrusted(md string) string {
	var buf bytes.Buffer
	if err := trustedMarkdown().Convert([]byte(md), &buf); err != nil {
		return "<p>" + html.EscapeString(md) + "</p>\n"
	}
	return buf.String()
}

var (
	highlightCSS = sync.OnceValue(func() string {
		f := chromahtml.New(chromahtml.WithClasses(true))
		var b strings.Builder
		b.WriteString("/* Code highlighting (chroma classes): light */\n")
		_ = f.WriteCSS(&b, styles.Get("github"))
		b.WriteString("/* dark */\n@media (prefers-color-scheme: dark) {\n")
		_ = f.WriteCSS(&b, styles.Get("github-dark"))
		b.WriteString("}\n")
		return b.String()
	})
)

// HighlightCSS returns the stylesheet for highlighted code blocks: chroma's
// classes with a light style, and a dark one under
// @media (prefers-color-scheme: dark).
func HighlightCSS() string { return highlightCSS() }

// ProseCSS returns a small stylesheet for the other classes that rendered
// lessons use: alert callouts (.markdown-alert-*), heading anchors
// (a.anchor) and the dated note after an external link (.source-note), in
// light and dark mode. Pages may use it or style these
// classes themselves.
func ProseCSS() string { return proseCSS }

const proseCSS = `.markdown-alert { padding: .5rem 1rem; margin: 1rem 0; border-left: .25rem solid var(--alert-color); border-radius: .25rem; background: color-mix(in srgb, var(--alert-color) 8%, transparent); }
.markdown-alert > :last-child { margin-bottom: 0; }
.markdown-alert-title { font-weight: 600; color: var(--alert-color); margin: 0 0 .25rem; }
.markdown-alert-note { --alert-color: #0969da; }
.markdown-alert-tip { --alert-color: #1a7f37; }
.markdown-alert-important { --alert-color: #8250df; }
.markdown-alert-warning { --alert-color: #9a6700; }
.markdown-alert-caution { --alert-color: #cf222e; }
@media (prefers-color-scheme: dark) {
  .markdown-alert-note { --alert-color: #4493f8; }
  .markdown-alert-tip { --alert-color: #3fb950; }
  .markdown-alert-important { --alert-color: #ab7df8; }
  .markdown-alert-warning { --alert-color: #d29922; }
  .markdown-alert-caution { --alert-color: #f85149; }
}
h1 a.anchor, h2 a.anchor, h3 a.anchor, h4 a.anchor, h5 a.anchor, h6 a.anchor { margin-left: .3em; text-decoration: none; opacity: 0; }
h1:hover a.anchor, h2:hover a.anchor, h3:hover a.anchor, h4:hover a.anchor, h5:hover a.anchor, h6:hover a.anchor, a.anchor:focus { opacity: .6; }
.source-note { font-size: .8em; color: #59636e; white-space: nowrap; }
@media (prefers-color-scheme: dark) {
  .source-note { color: #9198a1; }
}
`

// --- per-document state -----------------------------------------------------

var stateKey = parser.NewContextKey()

// lessonRenderer renders the lessons of one Load. It is not shared between
// loads, so it needs no locking.
type lessonRenderer struct {
	fsys    fs.FS
	byFile  map[string]*Lesson
	probs   *problems
	ids     map[*Lesson]map[string]bool // heading ids per lesson
	anchors []anchorRef                 // links with #fragment, checked once every lesson is rendered
}

type anchorRef struct {
	file   string
	line   int
	target *Lesson
	frag   string
}

func newRenderer(fsys fs.FS, byFile map[string]*Lesson, probs *problems) *lessonRenderer {
	return &lessonRenderer{fsys: fsys, byFile: byFile, probs: probs, ids: map[*Lesson]map[string]bool{}}
}

// docState is what the AST transformers need to know about the document
// being parsed; it travels in the parser.Context.
type docState struct {
	r          *lessonRenderer
	lesson     *Lesson
	lineStarts []int // offsets where each line of the file begins
	// fixedLine, when set, is where every problem in this text is reported:
	// quiz text is parsed apart from the file, so its offsets mean nothing.
	fixedLine int
}

func newDocState(r *lessonRenderer, l *Lesson, src []byte) *docState {
	st := &docState{r: r, lesson: l, lineStarts: []int{0}}
	for i, b := range src {
		if b == '\n' {
			st.lineStarts = append(st.lineStarts, i+1)
		}
	}
	return st
}

func (st *docState) lineAt(off int) int {
	if st.fixedLine > 0 {
		return st.fixedLine
	}
	return sort.SearchInts(st.lineStarts, off+1)
}

// lineOf finds the source line of a node. Inline nodes carry no position of
// their own, so use their first text, or else the enclosing block.
func (st *docState) lineOf(n ast.Node) int {
	if st.fixedLine > 0 {
		return st.fixedLine
	}
	off := -1
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			off = t.Segment.Start
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	for p := n; off < 0 && p != nil; p = p.Parent() {
		if p.Type() == ast.TypeBlock && p.Lines().Len() > 0 {
			off = p.Lines().At(0).Start
		}
	}
	if off < 0 {
		return 0
	}
	return st.lineAt(off)
}

func (st *docState) problem(line int, format string, args ...any) {
	st.r.probs.add(st.lesson.File, line, format, args...)
}

// renderLesson parses one lesson, renders its Markdown around its quizzes,
// and fills l.Parts and l.Quizzes.
func (r *lessonRenderer) renderLesson(l *Lesson, src []byte) {
	md := trustedMarkdown()
	st := newDocState(r, l, src)
	pc := parser.NewContext()
	pc.Set(stateKey, st)
	doc := md.Parser().Parse(text.NewReader(src), parser.WithContext(pc))

	ids := map[string]bool{}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			if id, ok := n.AttributeString("id"); ok {
				if b, ok := id.([]byte); ok {
					ids[string(b)] = true
				}
			}
		case *ast.FencedCodeBlock:
			if isQuiz(n, src) && n.Parent() != doc {
				st.problem(st.lineAt(n.Info.Segment.Start), "a quiz must stand on its own, not inside a list or a quote")
			}
			if isCalculator(n, src) && n.Parent() != doc {
				st.problem(st.lineAt(n.Info.Segment.Start), "a calculator must stand on its own, not inside a list or a quote")
			}
		}
		return ast.WalkContinue, nil
	})
	r.ids[l] = ids

	var buf bytes.Buffer
	flush := func() {
		if buf.Len() > 0 {
			l.Parts = append(l.Parts, Part{HTML: buf.String()})
			buf.Reset()
		}
	}
	quizIDs := map[string]int{}
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if fc, ok := n.(*ast.FencedCodeBlock); ok && isQuiz(fc, src) {
			flush()
			q := r.parseQuiz(st, fc, src, len(l.Quizzes)+1)
			if q == nil {
				continue
			}
			line := st.lineAt(fc.Info.Segment.Start)
			if prev, dup := quizIDs[q.ID]; dup {
				st.problem(line, "quiz id %q is also used by the quiz at line %d", q.ID, prev)
				continue
			}
			quizIDs[q.ID] = line
			l.Quizzes = append(l.Quizzes, q)
			l.Parts = append(l.Parts, Part{Quiz: q})
			continue
		}
		if fc, ok := n.(*ast.FencedCodeBlock); ok && isCalculator(fc, src) {
			flush()
			if name, ok := calculatorName(st, fc, src); ok {
				l.Parts = append(l.Parts, Part{Calculator: name})
			}
			continue
		}
		if err := md.Renderer().Render(&buf, src, n); err != nil {
			st.problem(st.lineOf(n), "render: %v", err)
		}
	}
	flush()
	// Quiz texts are rendered after the prose, so their lab links were
	// appended late.
	slices.SortStableFunc(l.LabLinks, func(a, b LabLink) int { return cmp.Compare(a.Line, b.Line) })
	l.ReadingMinutes = readingMinutes(l)
}

// renderText renders a snippet of lesson text (quiz prompts, choices and
// explanations) with the lesson's rules. With inline set, a lone paragraph
// loses its <p> so the text can sit inside a label.
func (r *lessonRenderer) renderText(st *docState, line int, src string, inline bool) string {
	md := trustedMarkdown()
	sub := *st
	sub.fixedLine = line
	pc := parser.NewContext()
	pc.Set(stateKey, &sub)
	b := []byte(src)
	doc := md.Parser().Parse(text.NewReader(b), parser.WithContext(pc))
	var buf bytes.Buffer
	var err error
	if p, ok := doc.FirstChild().(*ast.Paragraph); inline && ok && p.NextSibling() == nil {
		for c := p.FirstChild(); c != nil && err == nil; c = c.NextSibling() {
			err = md.Renderer().Render(&buf, b, c)
		}
	} else {
		err = md.Renderer().Render(&buf, b, doc)
	}
	if err != nil {
		st.problem(line, "render: %v", err)
	}
	return strings.TrimSpace(buf.String())
}

func (r *lessonRenderer) checkAnchors() {
	for _, a := range r.anchors {
		if !r.ids[a.target][a.frag] {
			if a.target.File == a.file {
				r.probs.add(a.file, a.line, "link to #%s: no heading with that anchor in this lesson", a.frag)
			} else {
				r.probs.add(a.file, a.line, "link to %s#%s: no heading with that anchor there", a.target.File, a.frag)
			}
		}
	}
}

// --- links and images ----------------------------------------------------------

// linkTransformer rewrites relative links between lesson files into site
// URLs (/lessons/{slug}#anchor) and relative images into /content/{path},
// and reports links to lessons, anchors or images that do not exist.
type linkTransformer struct{}

func (linkTransformer) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	st, ok := pc.Get(stateKey).(*docState)
	if !ok {
		return
	}
	src := reader.Source()
	// Collected first: an external link gains a sibling (its source note),
	// which must not be inserted while the walk is on that level.
	var nodes []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		switch n.(type) {
		case *ast.Link, *ast.Image, *ast.AutoLink:
			if entering {
				nodes = append(nodes, n)
			}
		}
		return ast.WalkContinue, nil
	})
	for _, n := range nodes {
		switch n := n.(type) {
		case *ast.Link:
			if isExternal(string(n.Destination)) {
				st.external(n)
				continue
			}
			if dest, ok := st.resolve(n, string(n.Destination), false); ok {
				n.Destination = []byte(dest)
			}
		case *ast.Image:
			if strings.TrimSpace(inlineText(n, src)) == "" {
				st.problem(st.lineOf(n), "image %s has no text alternative: write ![what the picture shows](%s)", n.Destination, n.Destination)
			}
			if dest, ok := st.resolve(n, string(n.Destination), true); ok {
				n.Destination = []byte(dest)
			}
		case *ast.AutoLink:
			if n.AutoLinkType == ast.AutoLinkURL {
				st.problem(st.autoLinkLine(n, src), "bare link %s: write it as [text](%s \"Source, read Month YYYY\") so it says where it is from and when it was read", n.URL(src), n.URL(src))
			}
		}
	}
}

// isExternal reports whether dest leaves the site for the web.
func isExternal(dest string) bool {
	u, err := url.Parse(dest)
	return err == nil && (strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https"))
}

// sourceDate is the month and year in an external link's title, which
// says when the page was read: AWS changes its figures, so a reader must
// be able to tell how old a quoted one is.
var sourceDate = regexp.MustCompile(`\b(?:January|February|March|April|May|June|July|August|September|October|November|December) \d{4}\b`)

// external checks an external link's dated title, marks the link
// rel="noopener" and adds the visible note "(read Month YYYY)" after it.
func (st *docState) external(n *ast.Link) {
	title := string(n.Title)
	date := sourceDate.FindString(title)
	switch {
	case strings.TrimSpace(title) == "":
		st.problem(st.lineOf(n), "external link %s has no title: give its source and the month it was read, as in \"AWS Lambda Developer Guide, read February 2026\"", n.Destination)
		return
	case date == "":
		st.problem(st.lineOf(n), "external link %s: title %q names no month and year; say when the page was read, as in \"AWS Lambda Developer Guide, read February 2026\"", n.Destination, title)
		return
	}
	n.SetAttributeString("rel", []byte("noopener"))
	n.Parent().InsertAfter(n.Parent(), n, &sourceNote{date: date})
}

// autoLinkLine finds an autolink's line. An AutoLink carries no public
// position, but its label is a slice of the source, so the label's offset
// is where its capacity says it starts.
func (st *docState) autoLinkLine(n *ast.AutoLink, src []byte) int {
	label := n.Label(src)
	if off := cap(src) - cap(label); st.fixedLine == 0 && off >= 0 && off < len(src) {
		return st.lineAt(off)
	}
	return st.lineOf(n)
}

// inlineText is the plain text of an inline node's children: an image's
// alt text.
func inlineText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
		case *ast.String:
			b.Write(c.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

var kindSourceNote = ast.NewNodeKind("SourceNote")

// sourceNote is the visible "(read Month YYYY)" after an external link.
type sourceNote struct {
	ast.BaseInline
	date string
}

func (n *sourceNote) Kind() ast.NodeKind { return kindSourceNote }

func (n *sourceNote) Dump(src []byte, level int) {
	ast.DumpHelper(n, src, level, map[string]string{"Date": n.date}, nil)
}

type sourceNoteRenderer struct{}

func (sourceNoteRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(kindSourceNote, func(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			fmt.Fprintf(w, ` <span class="source-note">(read %s)</span>`, html.EscapeString(node.(*sourceNote).date))
		}
		return ast.WalkContinue, nil
	})
}

// imageExts are the files the web layer serves from /content/.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".svg": true, ".webp": true, ".avif": true}

// IsImage reports whether name is a file type that lessons may embed as an
// image; the web layer serves only these from Course.Assets.
func IsImage(name string) bool {
	return imageExts[strings.ToLower(path.Ext(name))]
}

func (st *docState) resolve(n ast.Node, dest string, image bool) (string, bool) {
	what := "link"
	if image {
		what = "image"
	}
	if dest == "" {
		return "", false
	}
	u, err := url.Parse(dest)
	if err != nil {
		st.problem(st.lineOf(n), "%s %q is not a valid URL", what, dest)
		return "", false
	}
	if !image && u.Scheme == "" && u.Host == "" && (strings.HasPrefix(u.Path, "/labs/") && u.Path != "/labs/") {
		st.labLink(n, u)
		return "", false
	}
	if u.Scheme != "" || u.Host != "" || strings.HasPrefix(dest, "/") {
		return "", false // external or already a site URL
	}
	if u.Path == "" {
		if u.Fragment != "" {
			st.r.anchors = append(st.r.anchors, anchorRef{st.lesson.File, st.lineOf(n), st.lesson, u.Fragment})
		}
		return "", false
	}
	p := path.Join(path.Dir(st.lesson.File), u.Path)
	if p == ".." || strings.HasPrefix(p, "../") {
		st.problem(st.lineOf(n), "%s %q points outside the course folder", what, dest)
		return "", false
	}
	if !image && strings.HasSuffix(p, ".md") {
		target := st.r.byFile[p]
		if target == nil {
			st.problem(st.lineOf(n), "link to %s: no such lesson", p)
			return "", false
		}
		out := "/lessons/" + target.Slug
		if u.Fragment != "" {
			out += "#" + u.Fragment
			st.r.anchors = append(st.r.anchors, anchorRef{st.lesson.File, st.lineOf(n), target, u.Fragment})
		}
		return out, true
	}
	if !IsImage(p) {
		st.problem(st.lineOf(n), "%s %q: inside the course only lessons (.md) and images can be linked", what, dest)
		return "", false
	}
	if info, err := fs.Stat(st.r.fsys, p); err != nil || info.IsDir() {
		st.problem(st.lineOf(n), "%s %s: no such file", what, p)
		return "", false
	}
	return (&url.URL{Path: "/content/" + p}).EscapedPath(), true
}

// labLink records a link to /labs/ID[#fragment] for Course.CheckLabLinks.
func (st *docState) labLink(n ast.Node, u *url.URL) {
	id := strings.TrimPrefix(u.Path, "/labs/")
	line := st.lineOf(n)
	if !slugPattern.MatchString(id) {
		st.problem(line, "link to a lab %q: write /labs/ID, the lab's own page (like /labs/concurrency)", u.Path)
		return
	}
	st.lesson.LabLinks = append(st.lesson.LabLinks, LabLink{ID: id, Line: line})
}

// --- quizzes ------------------------------------------------------------------

func isQuiz(n *ast.FencedCodeBlock, src []byte) bool {
	return n.Info != nil && string(n.Language(src)) == "quiz"
}

// --- calculators ----------------------------------------------------------------

func isCalculator(n *ast.FencedCodeBlock, src []byte) bool {
	return n.Info != nil && string(n.Language(src)) == "calculator"
}

// calculatorName reads the NAME of a ```calculator NAME block, which must
// be one of Calculators and have an empty body: the reader sets the inputs
// on the page, so there is nothing for the author to configure.
func calculatorName(st *docState, fc *ast.FencedCodeBlock, src []byte) (string, bool) {
	line := st.lineAt(fc.Info.Segment.Start)
	words := strings.Fields(string(fc.Info.Segment.Value(src)))[1:]
	known := strings.Join(Calculators, ", ")
	switch {
	case len(words) == 0:
		st.problem(line, "calculator: name which one, as in ```calculator billing (known: %s)", known)
		return "", false
	case len(words) > 1:
		st.problem(line, "calculator %s: write only its name after calculator, not %q", words[0], strings.Join(words, " "))
		return "", false
	case !slices.Contains(Calculators, words[0]):
		st.problem(line, "unknown calculator %q (known: %s)", words[0], known)
		return "", false
	}
	for i := 0; i < fc.Lines().Len(); i++ {
		seg := fc.Lines().At(i)
		if len(bytes.TrimSpace(seg.Value(src))) > 0 {
			st.problem(st.lineAt(seg.Start), "calculator %s: the block must be empty (the reader sets the inputs on the page)", words[0])
			return "", false
		}
	}
	return words[0], true
}

// --- heading anchors ------------------------------------------------------------

// headingRenderer writes headings with their id and a trailing "#" link to
// themselves, so any section can be linked to.
type headingRenderer struct{}

func (headingRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindHeading, renderHeading)
}

func renderHeading(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	n := node.(*ast.Heading)
	if entering {
		fmt.Fprintf(w, "<h%d", n.Level)
		if n.Attributes() != nil {
			goldhtml.RenderAttributes(w, n, goldhtml.HeadingAttributeFilter)
		}
		_ = w.WriteByte('>')
		return ast.WalkContinue, nil
	}
	if v, ok := n.AttributeString("id"); ok {
		if id, ok := v.([]byte); ok && len(id) > 0 {
			fmt.Fprintf(w, ` <a class="anchor" href="#%s" aria-label="Link to this section">#</a>`, html.EscapeString(string(id)))
		}
	}
	fmt.Fprintf(w, "</h%d>\n", n.Level)
	return ast.WalkContinue, nil
}

// --- alerts ----------------------------------------------------------------------

// GitHub-style alerts ("> [!NOTE]" as the first line of a quote). No
// maintained goldmark extension renders GitHub's markup for these (the one
// found renders Obsidian-style <details> and calls itself unstable), so this
// is a small AST transformer of our own.

var (
	kindAlert     = ast.NewNodeKind("Alert")
	alertMarker   = regexp.MustCompile(`(?i)^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*$`)
	alertTitles   = map[string]string{"note": "Note", "tip": "Tip", "important": "Important", "warning": "Warning", "caution": "Caution"}
	alertRoleNote = "note"
)

type alertNode struct {
	ast.BaseBlock
	kind string // note, tip, important, warning, caution
}

func (n *alertNode) Kind() ast.NodeKind { return kindAlert }

func (n *alertNode) Dump(src []byte, level int) {
	ast.DumpHelper(n, src, level, map[string]string{"Kind": n.kind}, nil)
}

type alertTransformer struct{}

func (alertTransformer) Transform(doc *ast.Document, reader text.Reader, _ parser.Context) {
	src := reader.Source()
	var quotes []*ast.Blockquote
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if q, ok := n.(*ast.Blockquote); ok && entering {
			quotes = append(quotes, q)
		}
		return ast.WalkContinue, nil
	})
	for _, q := range quotes {
		p, ok := q.FirstChild().(*ast.Paragraph)
		if !ok || p.Lines().Len() == 0 {
			continue
		}
		first := p.Lines().At(0)
		m := alertMarker.FindSubmatch(bytes.TrimSpace(first.Value(src)))
		if m == nil {
			continue
		}
		// Drop the inline nodes of the marker line; the rest of the
		// paragraph (if any) becomes the alert's first paragraph.
		for c := p.FirstChild(); c != nil; {
			next := c.NextSibling()
			t, ok := c.(*ast.Text)
			if !ok || t.Segment.Start >= first.Stop {
				break
			}
			p.RemoveChild(p, c)
			c = next
		}
		if p.ChildCount() == 0 {
			q.RemoveChild(q, p)
		} else {
			lines := p.Lines()
			rest := text.NewSegments()
			for i := 1; i < lines.Len(); i++ {
				rest.Append(lines.At(i))
			}
			p.SetLines(rest)
		}
		a := &alertNode{kind: strings.ToLower(string(m[1]))}
		a.SetLines(q.Lines())
		for c := q.FirstChild(); c != nil; {
			next := c.NextSibling()
			a.AppendChild(a, c)
			c = next
		}
		q.Parent().ReplaceChild(q.Parent(), q, a)
	}
}

type alertRenderer struct{}

func (alertRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(kindAlert, func(w util.BufWriter, _ []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
		n := node.(*alertNode)
		if entering {
			fmt.Fprintf(w, "<div class=\"markdown-alert markdown-alert-%s\" role=\"%s\">\n<p class=\"markdown-alert-title\">%s</p>\n",
				n.kind, alertRoleNote, alertTitles[n.kind])
		} else {
			_, _ = w.WriteString("</div>\n")
		}
		return ast.WalkContinue, nil
	})
}

// --- raw HTML from students --------------------------------------------------------

// escapedHTMLRenderer shows raw HTML as text.
type escapedHTMLRenderer struct{}

func (escapedHTMLRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, func(w util.BufWriter, src []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			segs := node.(*ast.RawHTML).Segments
			for i := 0; i < segs.Len(); i++ {
				s := segs.At(i)
				_, _ = w.WriteString(html.EscapeString(string(s.Value(src))))
			}
		}
		return ast.WalkSkipChildren, nil
	})
	reg.Register(ast.KindHTMLBlock, func(w util.BufWriter, src []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		n := node.(*ast.HTMLBlock)
		var b strings.Builder
		for i := 0; i < n.Lines().Len(); i++ {
			line := n.Lines().At(i)
			b.Write(line.Value(src))
		}
		if n.HasClosure() {
			b.Write(n.ClosureLine.Value(src))
		}
		_, _ = w.WriteString("<p>" + html.EscapeString(strings.TrimRight(b.String(), "\n")) + "</p>\n")
		return ast.WalkSkipChildren, nil
	})
}
