package content

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// maxLessonBytes bounds one Markdown file: far above any real lesson, low
// enough that a stray binary renamed .md cannot stall a reload.
const maxLessonBytes = 2 << 20

var (
	slugPattern     = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	lessonFileName  = regexp.MustCompile(`^(?:(\d+)-)?(.+)\.md$`)
	frontmatterLine = []byte("---")
)

// courseFile is course.yaml.
type courseFile struct {
	Title   string `yaml:"title"`
	Modules []struct {
		Slug    string `yaml:"slug"`
		Title   string `yaml:"title"`
		Summary string `yaml:"summary"`
	} `yaml:"modules"`
}

// frontmatter is the YAML block at the top of a lesson.
type frontmatter struct {
	Title   string `yaml:"title"`
	Module  string `yaml:"module"`
	Order   *int   `yaml:"order"`
	Summary string `yaml:"summary"`
	Slug    string `yaml:"slug"`
}

// Load reads the course in fsys (course.yaml plus one folder of lessons per
// module), validates it and renders every lesson once. The returned Course is
// immutable. When anything is wrong, Load returns an error wrapping a
// *LoadError whose problems each name the file and line.
func Load(fsys fs.FS) (*Course, error) {
	var probs problems
	c := &Course{Assets: fsys, bySlug: map[string]*Lesson{}}

	if !loadCourseFile(fsys, c, &probs) {
		return nil, fmt.Errorf("load course: %w", probs.err())
	}

	byFile := map[string]*Lesson{}
	sources := map[*Lesson][]byte{}
	for _, m := range c.Modules {
		entries, err := fs.ReadDir(fsys, m.Slug)
		if err != nil {
			probs.add("course.yaml", m.line, "module %q: read folder %s/: %v", m.Slug, m.Slug, unwrapPath(err))
			continue
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".md") || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			file := path.Join(m.Slug, e.Name())
			l, body := readLesson(fsys, file, m, &probs)
			if l == nil {
				continue
			}
			if other, dup := c.bySlug[l.Slug]; dup {
				probs.add(file, 1, "duplicate lesson slug %q (also used by %s)", l.Slug, other.File)
				continue
			}
			c.bySlug[l.Slug] = l
			byFile[file] = l
			sources[l] = body
			m.Lessons = append(m.Lessons, l)
		}
	}

	for _, m := range c.Modules {
		slices.SortFunc(m.Lessons, func(a, b *Lesson) int {
			return cmp.Or(cmp.Compare(a.Order, b.Order), strings.Compare(a.File, b.File))
		})
		for i := 1; i < len(m.Lessons); i++ {
			if a, b := m.Lessons[i-1], m.Lessons[i]; a.Order == b.Order {
				probs.add(b.File, 1, "order %d is also used by %s; reading order would be ambiguous", b.Order, a.File)
			}
		}
		if len(m.Lessons) == 0 {
			probs.add("course.yaml", m.line, "module %q has no lessons in folder %s/", m.Slug, m.Slug)
		}
		c.Lessons = append(c.Lessons, m.Lessons...)
	}
	for i, l := range c.Lessons {
		if i > 0 {
			l.Prev = c.Lessons[i-1]
		}
		if i+1 < len(c.Lessons) {
			l.Next = c.Lessons[i+1]
		}
	}

	r := newRenderer(fsys, byFile, &probs)
	for _, l := range c.Lessons {
		r.renderLesson(l, sources[l])
	}
	r.checkAnchors()

	if err := probs.err(); err != nil {
		return nil, fmt.Errorf("load course: %w", err)
	}
	return c, nil
}

// loadCourseFile reads course.yaml into c. It reports false when the course
// cannot be read any further.
func loadCourseFile(fsys fs.FS, c *Course, probs *problems) bool {
	const file = "course.yaml"
	src, err := fs.ReadFile(fsys, file)
	if err != nil {
		probs.add(file, 0, "read course description: %v", unwrapPath(err))
		return false
	}
	var cf courseFile
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&cf); err != nil {
		probs.addYAML(file, 0, "course description", err)
		return false
	}
	var doc yaml.Node
	_ = yaml.Unmarshal(src, &doc) // cannot fail: the same text decoded above
	if cf.Title = strings.TrimSpace(cf.Title); cf.Title == "" {
		probs.add(file, keyLine(&doc, "title"), "missing title")
	}
	c.Title = cf.Title
	if len(cf.Modules) == 0 {
		probs.add(file, keyLine(&doc, "modules"), "no modules: list them under modules: with slug, title and summary")
	}
	modNodes := seqItems(valueOf(&doc, "modules"))
	seen := map[string]bool{}
	for i, mf := range cf.Modules {
		line := 0
		if i < len(modNodes) {
			line = modNodes[i].Line
		}
		m := &Module{line: line, Slug: mf.Slug, Title: strings.TrimSpace(mf.Title), Summary: strings.TrimSpace(mf.Summary)}
		switch {
		case !slugPattern.MatchString(m.Slug):
			probs.add(file, line, "module slug %q must be lower-case letters, digits and dashes (it is also the folder name)", m.Slug)
			continue
		case seen[m.Slug]:
			probs.add(file, line, "duplicate module slug %q", m.Slug)
			continue
		case m.Title == "":
			probs.add(file, line, "module %q: missing title", m.Slug)
		}
		seen[m.Slug] = true
		c.Modules = append(c.Modules, m)
	}
	return len(probs.list) == 0
}

// readLesson reads a lesson's frontmatter. It returns the lesson without its
// rendered body, and the file's text with the frontmatter blanked out (its
// newlines kept) so that Markdown positions are still file line numbers.
func readLesson(fsys fs.FS, file string, m *Module, probs *problems) (*Lesson, []byte) {
	src, err := readLimited(fsys, file)
	if err != nil {
		probs.add(file, 0, "%v", err)
		return nil, nil
	}
	if !utf8.Valid(src) {
		probs.add(file, 0, "not UTF-8 text")
		return nil, nil
	}
	src = bytes.TrimPrefix(src, []byte("\ufeff"))
	src = expandFacts(file, src, probs)
	fm, fmEnd, ok := splitFrontmatter(src)
	if !ok {
		probs.add(file, 1, "missing frontmatter: a lesson starts with a --- line, YAML (title, module, order, summary), and another --- line")
		return nil, nil
	}
	if fmEnd < 0 {
		probs.add(file, 1, "frontmatter is not closed: add a --- line after it")
		return nil, nil
	}

	var f frontmatter
	dec := yaml.NewDecoder(bytes.NewReader(fm))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			probs.add(file, 1, "frontmatter is empty: it needs at least title, module, order and summary")
		} else {
			probs.addYAML(file, 1, "frontmatter", err)
		}
		return nil, nil
	}
	var doc yaml.Node
	_ = yaml.Unmarshal(fm, &doc)
	at := func(key string) int {
		if n := keyLine(&doc, key); n > 0 {
			return n + 1 // the opening --- is line 1
		}
		return 1
	}

	name := path.Base(file)
	nameParts := lessonFileName.FindStringSubmatch(name)
	l := &Lesson{
		File:    file,
		Module:  m,
		Title:   strings.TrimSpace(f.Title),
		Summary: strings.TrimSpace(f.Summary),
		Slug:    cmp.Or(f.Slug, nameParts[2]),
	}
	bad := false
	if l.Title == "" {
		probs.add(file, at("title"), "missing title")
		bad = true
	}
	if l.Summary == "" {
		probs.add(file, at("summary"), "missing summary")
		bad = true
	}
	if f.Module != "" && f.Module != m.Slug {
		probs.add(file, at("module"), "module %q does not match the folder %s/ the lesson is in", f.Module, m.Slug)
		bad = true
	}
	switch {
	case f.Order != nil:
		l.Order = *f.Order
	case nameParts[1] != "":
		l.Order, _ = strconv.Atoi(nameParts[1])
	default:
		probs.add(file, at("order"), "missing order (or a file name starting with a number, like 01-intro.md)")
		bad = true
	}
	if !slugPattern.MatchString(l.Slug) {
		if f.Slug != "" {
			probs.add(file, at("slug"), "slug %q must be lower-case letters, digits and dashes", l.Slug)
		} else {
			probs.add(file, 1, "file name %q gives slug %q, which is not lower-case letters, digits and dashes: rename the file or set slug:", name, l.Slug)
		}
		bad = true
	}
	if bad {
		return nil, nil
	}

	body := slices.Clone(src)
	for i := 0; i < fmEnd; i++ {
		if body[i] != '\n' {
			body[i] = ' '
		}
	}
	return l, body
}

// splitFrontmatter returns the YAML between the first two --- lines and the
// offset just past the closing line (-1 when it is missing). ok is false
// when the file does not start with ---.
func splitFrontmatter(src []byte) (fm []byte, end int, ok bool) {
	first, rest, _ := bytes.Cut(src, []byte("\n"))
	if !bytes.Equal(bytes.TrimRight(first, " \t\r"), frontmatterLine) {
		return nil, 0, false
	}
	off := len(first) + 1
	for off <= len(src) && len(rest) > 0 {
		line, next, found := bytes.Cut(rest, []byte("\n"))
		if bytes.Equal(bytes.TrimRight(line, " \t\r"), frontmatterLine) {
			end := off + len(line)
			if found {
				end++
			}
			return src[len(first)+1 : off], end, true
		}
		off += len(line) + 1
		rest = next
		if !found {
			break
		}
	}
	return nil, -1, true
}

func readLimited(fsys fs.FS, file string) ([]byte, error) {
	info, err := fs.Stat(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("read: %w", unwrapPath(err))
	}
	if info.Size() > maxLessonBytes {
		return nil, fmt.Errorf("file is %d bytes, more than the %d a lesson may have", info.Size(), maxLessonBytes)
	}
	src, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("read: %w", unwrapPath(err))
	}
	return src, nil
}

// unwrapPath drops the *fs.PathError wrapper: the problem already names the file.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// valueOf returns the value node of key in a YAML mapping document, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// keyLine returns the line of key in a YAML mapping document, or 0.
func keyLine(n *yaml.Node, key string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return 0
}

func seqItems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}
