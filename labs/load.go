package labs

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Options are what Load needs from the rest of the program.
type Options struct {
	// Kinds are the step kinds by name (package grader's). "checkpoint" is
	// the loader's own and need not be listed.
	Kinds map[string]StepKind
	// Lesson reports whether a "module/lesson" slug is a lesson of the
	// course; nil: lessons are not checked.
	Lesson func(slug string) bool
	// ReadyLayers reports whether the server can build a ready layer
	// ("xray-sdk") named in resources.layers; nil: not checked.
	ReadyLayers func(name string) bool
	// Ceilings bound every lab's limits. A zero field means the default
	// ceiling: 300s of grading, 2000 invokes.
	Ceilings Limits
}

// Defaults of FORMAT.md.
const (
	defaultMemoryMB     = 128
	defaultTimeoutS     = 3
	defaultCheckTimeout = 30 * time.Second
	defaultGradingTime  = 60 * time.Second
	defaultInvokes      = 200
	ceilingGradingTime  = 300 * time.Second
	ceilingInvokes      = 2000
	// End is the checkpoint at the end of the actions, where checks run
	// unless they say otherwise.
	End = "end"
)

// Runtimes are the runtimes a lab's function may use.
var Runtimes = []string{"python3.13", "nodejs20.x", "provided.al2023", "provided.al2"}

var (
	idPattern   = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
	pyIdent     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	jsIdent     = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)
	frontmatter = []byte("---")
)

// Load reads every lab in fsys, one folder per lab named by its id
// (FORMAT.md), validates them against each other and against opts, and
// returns them sorted by id. Files at the root of fsys and its testdata
// folder are ignored. When anything is wrong, Load returns an error
// wrapping a *LoadError whose problems each name the file and line; it
// reports every problem it finds, not only the first.
func Load(fsys fs.FS, opts Options) ([]*Lab, error) {
	if opts.Ceilings.GradingTime <= 0 {
		opts.Ceilings.GradingTime = ceilingGradingTime
	}
	if opts.Ceilings.Invokes <= 0 {
		opts.Ceilings.Invokes = ceilingInvokes
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("load labs: %w", err)
	}
	var probs problems
	var labs []*Lab
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || name == "testdata" || strings.HasPrefix(name, ".") || junk(name) {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(name, "lab.md")); err != nil {
			probs.add(name, 0, "folder has no lab.md; every folder here is a lab, starting with its lab.md (see FORMAT.md)")
			continue
		}
		if lab := loadLab(fsys, name, opts, &probs); lab != nil {
			labs = append(labs, lab)
		}
	}
	if err := probs.err(); err != nil {
		return nil, fmt.Errorf("load labs: %w", err)
	}
	slices.SortFunc(labs, func(a, b *Lab) int { return strings.Compare(a.ID, b.ID) })
	return labs, nil
}

// labLoader reads one lab.
type labLoader struct {
	opts  Options
	dir   string // the lab's folder within Load's root
	fsys  fs.FS  // the lab's folder, without junk files
	probs *problems
	lab   *Lab

	lines  map[lineKey]int  // file line of each decoded value
	failed map[lineKey]bool // values that did not decode, already reported
	refs   []ref            // names that must exist, resolved once all files are read

	labOK   bool // the frontmatter was read
	tasksOK bool // the body was read
	checkOK bool // checks.yaml was read

	createdBuckets  map[string]bool // by create_bucket steps
	publishedLayers map[string]bool // by publish_layer steps

	checkFiles  []*checkFile     // beside lab.Checks
	checkpoints map[*Variant]set // checkpoints of each variant's actions
	answerLines map[*Variant]map[string]int
	failLines   map[*Variant][]int
	fnLines     []functionLines
}

type set = map[string]bool

// ref is a name that a lab file mentions and something must provision.
type ref struct {
	kind string   // a lab tag: "bucket", "function", "question", "layer", "file", "dir", "regexp"
	name string   // what was written
	via  string   // the ${…} it came from, or ""
	key  string   // the YAML key, for messages
	what string   // message prefix ("step put_object")
	dirs []string // for "dir": the submission folders it must exist in
	file string
	line int
}

func loadLab(root fs.FS, dir string, opts Options, probs *problems) *Lab {
	sub, err := fs.Sub(root, dir)
	if err != nil {
		probs.add(dir, 0, "open lab folder: %v", err)
		return nil
	}
	clean := cleanFS{sub}
	ll := &labLoader{
		opts:            opts,
		dir:             dir,
		fsys:            clean,
		probs:           probs,
		lab:             &Lab{FS: clean},
		lines:           map[lineKey]int{},
		failed:          map[lineKey]bool{},
		createdBuckets:  set{},
		publishedLayers: set{},
		checkpoints:     map[*Variant]set{},
		answerLines:     map[*Variant]map[string]int{},
		failLines:       map[*Variant][]int{},
	}
	before := len(probs.list)
	ll.findVariants()
	ll.readLabFile()
	ll.readChecks()
	for _, v := range ll.variants() {
		ll.readVariant(v)
	}
	ll.resolveRefs()
	if ll.labOK {
		ll.checkCode()
	}
	ll.crossCheck()
	if len(probs.list) > before {
		return nil
	}
	ll.lab.madeBuckets, ll.lab.madeLayers = ll.createdBuckets, ll.publishedLayers
	return ll.lab
}

// file is a lab file's name as problems show it.
func (ll *labLoader) file(name string) string { return path.Join(ll.dir, name) }

func (ll *labLoader) decoder(name string, base int, what string) *decoder {
	return &decoder{ll: ll, file: ll.file(name), base: base, what: what}
}

// lineOf returns the file line a decoded value came from, or 0 when it was
// not in the file.
func (ll *labLoader) lineOf(ptr any) int {
	v := reflect.ValueOf(ptr)
	return ll.lines[lineKey{v.Pointer(), v.Type().Elem()}]
}

// failedAt reports whether a decoded value was mistyped, and so reported.
func (ll *labLoader) failedAt(ptr any) bool {
	v := reflect.ValueOf(ptr)
	return ll.failed[lineKey{v.Pointer(), v.Type().Elem()}]
}

// variants returns the starter, the solution and the wrong variants that
// exist.
func (ll *labLoader) variants() []*Variant {
	var vs []*Variant
	for _, v := range append([]*Variant{ll.lab.Starter, ll.lab.Solution}, ll.lab.Wrong...) {
		if v != nil {
			vs = append(vs, v)
		}
	}
	return vs
}

func (ll *labLoader) findVariants() {
	for _, name := range []string{"starter", "solution"} {
		purpose := map[string]string{"starter": "the files the student starts from", "solution": "the reference solution"}[name]
		info, err := fs.Stat(ll.fsys, name)
		switch {
		case err != nil:
			ll.probs.add(ll.dir, 0, "missing folder %s/ (%s)", name, purpose)
			continue
		case !info.IsDir():
			ll.probs.add(ll.file(name), 0, "is a file; want a folder of %s", purpose)
			continue
		}
		v := &Variant{Name: name, Dir: name}
		if name == "starter" {
			ll.lab.Starter = v
		} else {
			ll.lab.Solution = v
		}
	}
	entries, err := fs.ReadDir(ll.fsys, "wrong")
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		ll.probs.add(ll.file("wrong"), 0, "read wrong variants: %v", unwrapPath(err))
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			ll.probs.add(ll.file("wrong/"+e.Name()), 0, "is a file; wrong/ holds one folder per wrong variant, each with its expect.yaml")
			continue
		}
		ll.lab.Wrong = append(ll.lab.Wrong, &Variant{Name: e.Name(), Dir: "wrong/" + e.Name()})
	}
}

// The frontmatter of lab.md.
type labFile struct {
	ID        string         `yaml:"id"`
	Title     string         `yaml:"title"`
	Lesson    string         `yaml:"lesson"`
	Minutes   int            `yaml:"minutes"`
	Functions []functionFile `yaml:"functions"`
	Resources struct {
		Buckets []bucketFile `yaml:"buckets"`
		Layers  []string     `yaml:"layers"`
	} `yaml:"resources"`
	Questions []questionFile `yaml:"questions"`
	Limits    struct {
		GradingSeconds *int `yaml:"grading_seconds"`
		Invokes        *int `yaml:"invokes"`
	} `yaml:"limits"`
}

type functionFile struct {
	Name        string            `yaml:"name"`
	Runtime     string            `yaml:"runtime"`
	Handler     string            `yaml:"handler"`
	Memory      *int              `yaml:"memory"`
	Timeout     *int              `yaml:"timeout"`
	Code        *string           `yaml:"code"`
	Environment map[string]string `yaml:"environment"`
}

// functionLines are where a function's fields are, for the code checks
// made once the variants are read.
type functionLines struct {
	item, handler, code int
}

type bucketFile struct {
	Name    string       `yaml:"name"`
	Objects []objectFile `yaml:"objects"`
}

type objectFile struct {
	Key  string `yaml:"key"`
	Body `yaml:",inline"`
}

type questionFile struct {
	ID   string `yaml:"id"`
	Text string `yaml:"text"`
	Kind string `yaml:"kind"`
	Unit string `yaml:"unit"`
}

func (ll *labLoader) readLabFile() {
	name := "lab.md"
	file := ll.file(name)
	src, err := fs.ReadFile(ll.fsys, name)
	if err != nil {
		ll.probs.add(file, 0, "read: %v", unwrapPath(err))
		return
	}
	if !utf8.Valid(src) {
		ll.probs.add(file, 0, "not UTF-8 text")
		return
	}
	src = bytes.TrimPrefix(src, []byte("\ufeff"))
	fm, end, ok := splitFrontmatter(src)
	if !ok {
		ll.probs.add(file, 1, "missing frontmatter: lab.md starts with a --- line, YAML (id, title, lesson, minutes, functions), and another --- line")
		return
	}
	if end < 0 {
		ll.probs.add(file, 1, "frontmatter is not closed: add a --- line after it")
		return
	}
	ll.readTasks(src[end:], bytes.Count(src[:end], []byte("\n"))+1)

	var doc yaml.Node
	if err := yaml.Unmarshal(fm, &doc); err != nil {
		ll.probs.addYAML(file, 1, fm, err)
		return
	}
	var f labFile
	d := ll.decoder(name, 1, "")
	d.decode(&doc, &f)
	ll.labOK = true
	ll.labFields(d, &f)
	ll.functions(d, &doc, f.Functions)
	ll.resources(d, &f)
	ll.questions(d, f.Questions)
	ll.limits(d, &f)
}

func (ll *labLoader) labFields(d *decoder, f *labFile) {
	lab := ll.lab
	at := func(ptr any) int { return cmp.Or(ll.lineOf(ptr), 1) }
	switch lab.ID = f.ID; {
	case lab.ID == "":
		d.errorf(1, "missing id: a lab's id is the name of its folder, here %q", ll.dir)
	case lab.ID != ll.dir:
		d.errorf(at(&f.ID), "id %q is not the name of the lab's folder, %q; rename one of them", lab.ID, ll.dir)
	case !idPattern.MatchString(lab.ID):
		d.errorf(at(&f.ID), "id %q must be lower-case letters, digits and dashes", lab.ID)
	}
	if lab.Title = strings.TrimSpace(f.Title); lab.Title == "" {
		d.errorf(at(&f.Title), "missing title")
	}
	switch lab.Lesson = strings.TrimSpace(f.Lesson); {
	case lab.Lesson == "":
		d.errorf(at(&f.Lesson), "missing lesson: the module/lesson slug of the lesson this lab practises")
	case ll.opts.Lesson != nil && !ll.opts.Lesson(lab.Lesson):
		d.errorf(at(&f.Lesson), "lesson %q is not a lesson of the course (write its module/lesson slug)", lab.Lesson)
	}
	switch lab.Minutes = f.Minutes; {
	case ll.failedAt(&f.Minutes):
	case ll.lineOf(&f.Minutes) == 0:
		d.errorf(1, "missing minutes: how long the lab takes, in minutes")
	case lab.Minutes <= 0:
		d.errorf(at(&f.Minutes), "minutes must be more than 0, not %d", lab.Minutes)
	}
}

func (ll *labLoader) functions(d *decoder, doc *yaml.Node, fns []functionFile) {
	if len(fns) == 0 {
		d.errorf(1, "missing functions: a lab is about at least one function (name, runtime, handler)")
		return
	}
	fnNodes := seqItems(valueOf(doc, "functions"))
	seen := map[string]int{}
	for i := range fns {
		f := &fns[i]
		item := ll.lineOf(f)
		at := func(ptr any) int { return cmp.Or(ll.lineOf(ptr), item) }
		label := fmt.Sprintf("function %d", i+1)
		fn := Function{
			Name:        f.Name,
			Runtime:     f.Runtime,
			Handler:     f.Handler,
			MemoryMB:    defaultMemoryMB,
			TimeoutS:    defaultTimeoutS,
			Code:        ".",
			Environment: f.Environment,
		}
		switch {
		case fn.Name == "":
			d.errorf(item, "%s: missing name", label)
		case !functionName.MatchString(fn.Name):
			d.errorf(at(&f.Name), "function name %q: letters, digits, - and _, at most 64", fn.Name)
		default:
			label = fmt.Sprintf("function %q", fn.Name)
			if first, dup := seen[fn.Name]; dup {
				d.errorf(at(&f.Name), "%s is listed twice (also at line %d)", label, first)
			}
			seen[fn.Name] = at(&f.Name)
		}
		switch {
		case fn.Runtime == "":
			d.errorf(item, "%s: missing runtime (%s)", label, strings.Join(Runtimes, ", "))
		case !slices.Contains(Runtimes, fn.Runtime):
			if s := didYouMean(fn.Runtime, Runtimes); s != "" {
				d.errorf(at(&f.Runtime), "%s: unknown runtime %q%s", label, fn.Runtime, s)
			} else {
				d.errorf(at(&f.Runtime), "%s: unknown runtime %q (runtimes: %s)", label, fn.Runtime, strings.Join(Runtimes, ", "))
			}
		}
		if fn.Handler == "" {
			d.errorf(item, "%s: missing handler", label)
		} else if msg := handlerSyntax(fn.Runtime, fn.Handler); msg != "" {
			d.errorf(at(&f.Handler), "%s: handler %q: %s", label, fn.Handler, msg)
		}
		if f.Memory != nil {
			if fn.MemoryMB = *f.Memory; fn.MemoryMB < 128 || fn.MemoryMB > 10240 {
				d.errorf(at(&f.Memory), "%s: memory %d MB is outside Lambda's 128 to 10240", label, fn.MemoryMB)
			}
		}
		if f.Timeout != nil {
			if fn.TimeoutS = *f.Timeout; fn.TimeoutS < 1 || fn.TimeoutS > 900 {
				d.errorf(at(&f.Timeout), "%s: timeout %d s is outside Lambda's 1 to 900", label, fn.TimeoutS)
			}
		}
		if f.Code != nil {
			fn.Code = path.Clean(*f.Code)
			if !fs.ValidPath(fn.Code) {
				d.errorf(at(f.Code), "%s: code %q must be a folder inside the submission, like . or src", label, *f.Code)
			}
		}
		for k := range f.Environment {
			if !envKey.MatchString(k) {
				d.errorf(at(&f.Environment), "%s: environment variable %q: a letter, then letters, digits and _", label, k)
			}
		}
		if i < len(fnNodes) {
			// Environment values reach the function as the grader
			// provisions it, where ${…} are expanded.
			dv := *d
			dv.values = true
			dv.scalars(valueOf(fnNodes[i], "environment"), func(s *yaml.Node) { dv.checkString(s, "environment", "") })
		}
		ll.lab.Functions = append(ll.lab.Functions, fn)
		ll.fnLines = append(ll.fnLines, functionLines{item: item, handler: at(&f.Handler), code: at(&f.Code)})
	}
}

var envKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// handlerSyntax says what is wrong with a handler's form, or "".
func handlerSyntax(runtime, handler string) string {
	mod, name, ok := cutLast(handler, ".")
	switch {
	case strings.HasPrefix(runtime, "python"):
		if !ok || mod == "" || !pyIdent.MatchString(name) {
			return "want MODULE.FUNCTION, like app.handler"
		}
	case strings.HasPrefix(runtime, "nodejs"):
		if !ok || mod == "" || !jsIdent.MatchString(name) {
			return "want FILE.EXPORT, like index.handler"
		}
	}
	return ""
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func (ll *labLoader) resources(d *decoder, f *labFile) {
	seen := map[string]int{}
	for i := range f.Resources.Buckets {
		b := &f.Resources.Buckets[i]
		item := ll.lineOf(b)
		at := func(ptr any) int { return cmp.Or(ll.lineOf(ptr), item) }
		switch {
		case b.Name == "":
			d.errorf(item, "bucket %d: missing name", i+1)
			continue
		case !bucketRE.MatchString(b.Name) || strings.Contains(b.Name, ".."):
			d.errorf(at(&b.Name), "bucket name %q: 3 to 63 lower-case letters, digits, dots and dashes, starting and ending with a letter or digit", b.Name)
		}
		if first, dup := seen[b.Name]; dup {
			d.errorf(at(&b.Name), "bucket %q is listed twice (also at line %d)", b.Name, first)
		}
		seen[b.Name] = at(&b.Name)
		bucket := Bucket{Name: b.Name}
		keys := map[string]int{}
		for j := range b.Objects {
			o := &b.Objects[j]
			oline := cmp.Or(ll.lineOf(o), item)
			if o.Key == "" {
				d.errorf(oline, "bucket %q: object %d: missing key", b.Name, j+1)
				continue
			}
			if first, dup := keys[o.Key]; dup {
				d.errorf(oline, "bucket %q: object %q is listed twice (also at line %d)", b.Name, o.Key, first)
			}
			keys[o.Key] = oline
			if msg := o.Body.problem(); msg != "" {
				d.errorf(oline, "bucket %q: object %q: %s", b.Name, o.Key, msg)
			}
			bucket.Objects = append(bucket.Objects, Object{Key: o.Key, Body: o.Body})
		}
		ll.lab.Resources.Buckets = append(ll.lab.Resources.Buckets, bucket)
	}
	layers := map[string]bool{}
	for i, name := range f.Resources.Layers {
		line := cmp.Or(ll.lineOf(&f.Resources.Layers[i]), 1)
		switch {
		case name == "":
			d.errorf(line, "resources.layers: an empty layer name")
			continue
		case layers[name]:
			d.errorf(line, "layer %q is listed twice", name)
		case ll.opts.ReadyLayers != nil && !ll.opts.ReadyLayers(name):
			d.errorf(line, "layer %q is not a ready layer the server can build", name)
		}
		layers[name] = true
		ll.lab.Resources.Layers = append(ll.lab.Resources.Layers, name)
	}
}

// problem says what is wrong with a body, or "".
func (b Body) problem() string {
	n := 0
	for _, set := range []bool{b.Text != "", b.File != "", b.Generate != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return "give one of body, file and generate"
	case b.Generate != nil && b.Generate.Line == "":
		return "generate: missing line, the text to repeat"
	case b.Generate != nil && b.Generate.Bytes <= 0:
		return "generate: bytes must be more than 0"
	}
	return ""
}

func (ll *labLoader) questions(d *decoder, qs []questionFile) {
	seen := map[string]int{}
	for i := range qs {
		q := &qs[i]
		item := ll.lineOf(q)
		at := func(ptr any) int { return cmp.Or(ll.lineOf(ptr), item) }
		switch {
		case q.ID == "":
			d.errorf(item, "question %d: missing id", i+1)
			continue
		case !idPattern.MatchString(q.ID):
			d.errorf(at(&q.ID), "question id %q must be lower-case letters, digits and dashes", q.ID)
		}
		if first, dup := seen[q.ID]; dup {
			d.errorf(at(&q.ID), "question %q is listed twice (also at line %d)", q.ID, first)
		}
		seen[q.ID] = at(&q.ID)
		if strings.TrimSpace(q.Text) == "" {
			d.errorf(item, "question %q: missing text", q.ID)
		}
		switch q.Kind {
		case "number", "text":
		case "":
			d.errorf(item, "question %q: missing kind (number or text)", q.ID)
		default:
			d.errorf(at(&q.Kind), "question %q: kind %q is neither number nor text", q.ID, q.Kind)
		}
		ll.lab.Questions = append(ll.lab.Questions, Question{ID: q.ID, Text: strings.TrimSpace(q.Text), Kind: q.Kind, Unit: q.Unit})
	}
}

func (ll *labLoader) limits(d *decoder, f *labFile) {
	ceil := ll.opts.Ceilings
	lim := Limits{GradingTime: defaultGradingTime, Invokes: defaultInvokes}
	if s := f.Limits.GradingSeconds; s != nil {
		lim.GradingTime = time.Duration(*s) * time.Second
		line := ll.lineOf(s)
		switch {
		case *s <= 0:
			d.errorf(line, "limits: grading_seconds must be more than 0, not %d", *s)
		case lim.GradingTime > ceil.GradingTime:
			d.errorf(line, "limits: grading_seconds %d is over the server's ceiling of %d", *s, int(ceil.GradingTime/time.Second))
		}
	}
	if n := f.Limits.Invokes; n != nil {
		lim.Invokes = *n
		line := ll.lineOf(n)
		switch {
		case *n <= 0:
			d.errorf(line, "limits: invokes must be more than 0, not %d", *n)
		case *n > ceil.Invokes:
			d.errorf(line, "limits: invokes %d is over the server's ceiling of %d", *n, ceil.Invokes)
		}
	}
	ll.lab.Limits = lim
}

var (
	taskHeading = regexp.MustCompile(`^##[ \t]+(.*?)[ \t]*$`)
	taskID      = regexp.MustCompile(`^(.*?)[ \t]*\{#([^}]*)\}$`)
	slugDrop    = regexp.MustCompile(`[^a-z0-9]+`)
)

// readTasks splits lab.md's body, whose first line is file line first, into
// the intro and the tasks.
func (ll *labLoader) readTasks(body []byte, first int) {
	file := ll.file("lab.md")
	lines := strings.Split(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
	var cur []string
	var task *Task
	seen := map[string]int{}
	flush := func() {
		md := trimBlankLines(cur)
		if task == nil {
			ll.lab.Intro = md
		} else {
			task.Markdown = md
			ll.lab.Tasks = append(ll.lab.Tasks, *task)
		}
		cur = nil
	}
	fence := ""
	for i, line := range lines {
		n := first + i
		if f := fenceOf(line); f != "" {
			switch {
			case fence == "":
				fence = f
			case strings.HasPrefix(f, fence) && strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), fence[:1])) == "":
				fence = ""
			}
			cur = append(cur, line)
			continue
		}
		m := taskHeading.FindStringSubmatch(line)
		if fence != "" || m == nil {
			cur = append(cur, line)
			continue
		}
		flush()
		heading := m[1]
		t := &Task{Title: heading}
		if idm := taskID.FindStringSubmatch(heading); idm != nil {
			t.Title, t.ID = idm[1], idm[2]
		}
		switch {
		case t.ID == "":
			slug := strings.Trim(slugDrop.ReplaceAllString(strings.ToLower(heading), "-"), "-")
			ll.probs.add(file, n, "task heading %q needs an id: write \"## %s {#%s}\"", heading, heading, cmp.Or(slug, "task-id"))
		case !idPattern.MatchString(t.ID):
			ll.probs.add(file, n, "task id %q must be lower-case letters, digits and dashes", t.ID)
		case seen[t.ID] > 0:
			ll.probs.add(file, n, "task id %q is used twice (also at line %d)", t.ID, seen[t.ID])
		case t.Title == "":
			ll.probs.add(file, n, "task {#%s} has no title", t.ID)
		}
		if seen[t.ID] == 0 {
			seen[t.ID] = n
		}
		task = t
	}
	flush()
	if len(ll.lab.Tasks) == 0 {
		ll.probs.add(file, first, "no tasks: each \"## Title {#id}\" heading of the instructions starts one, and checks name them")
	}
	ll.tasksOK = true
}

// fenceOf returns the fence (``` or ~~~, and longer) a line opens or
// closes, or "".
func fenceOf(line string) string {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return ""
	}
	for _, c := range []string{"`", "~"} {
		n := len(t) - len(strings.TrimLeft(t, c))
		if n >= 3 {
			return strings.Repeat(c, n)
		}
	}
	return ""
}

func trimBlankLines(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// checks.yaml.
type checksFile struct {
	Checks []checkFile `yaml:"checks"`
}

type checkFile struct {
	ID        string     `yaml:"id"`
	Title     string     `yaml:"title"`
	Task      string     `yaml:"task"`
	DependsOn []string   `yaml:"depends_on"`
	Hidden    bool       `yaml:"hidden"`
	Once      bool       `yaml:"once"`
	Message   string     `yaml:"message"`
	At        string     `yaml:"at"`
	Timeout   *Duration  `yaml:"timeout"`
	Hints     []hintFile `yaml:"hints"`
	Steps     yaml.Node  `yaml:"steps"`
}

type hintFile struct {
	After int    `yaml:"after"`
	Text  string `yaml:"text"`
}

func (ll *labLoader) readChecks() {
	name := "checks.yaml"
	var doc yaml.Node
	if !ll.readYAML(name, &doc, true) {
		return
	}
	var f checksFile
	d := ll.decoder(name, 0, "")
	d.decode(&doc, &f)
	ll.checkOK = true
	if len(f.Checks) == 0 {
		d.errorf(cmp.Or(ll.lineOf(&f.Checks), 1), "no checks: list them under checks: (see FORMAT.md)")
	}
	var dirs []string
	for _, v := range ll.variants() {
		dirs = append(dirs, v.Dir)
	}
	seen := map[string]int{}
	for i := range f.Checks {
		cf := &f.Checks[i]
		item := ll.lineOf(cf)
		at := func(ptr any) int { return cmp.Or(ll.lineOf(ptr), item) }
		c := Check{
			ID:        cf.ID,
			Title:     strings.TrimSpace(cf.Title),
			Task:      cf.Task,
			DependsOn: cf.DependsOn,
			Hidden:    cf.Hidden,
			Once:      cf.Once,
			Message:   strings.TrimSpace(cf.Message),
			At:        cmp.Or(cf.At, End),
			Timeout:   defaultCheckTimeout,
			File:      d.file,
			Line:      item,
		}
		label := fmt.Sprintf("check %d", i+1)
		switch {
		case c.ID == "":
			d.errorf(item, "%s: missing id", label)
		case !idPattern.MatchString(c.ID):
			d.errorf(at(&cf.ID), "check id %q must be lower-case letters, digits and dashes", c.ID)
		default:
			label = fmt.Sprintf("check %q", c.ID)
			if first, dup := seen[c.ID]; dup {
				d.errorf(at(&cf.ID), "duplicate check id %q (also at line %d)", c.ID, first)
			}
			seen[c.ID] = item
		}
		if c.Title == "" {
			d.errorf(item, "%s: missing title", label)
		}
		if c.Task == "" {
			d.errorf(item, "%s: missing task: the id of the lab.md task it belongs to", label)
		}
		if c.Once && c.At == End {
			d.errorf(at(&cf.Once), "%s: once needs at: a checkpoint (a stage the account moves past); at the end nothing comes after", label)
		}
		if cf.Timeout != nil {
			c.Timeout = cf.Timeout.D()
			if c.Timeout <= 0 {
				d.errorf(at(cf.Timeout), "%s: timeout must be more than 0s", label)
			}
		}
		for j := range cf.Hints {
			h := &cf.Hints[j]
			hl := cmp.Or(ll.lineOf(h), item)
			if h.After < 0 && !ll.failedAt(&h.After) {
				d.errorf(at(&h.After), "%s: hint after %d: the number of failed attempts must be 0 or more", label, h.After)
			}
			if strings.TrimSpace(h.Text) == "" {
				d.errorf(hl, "%s: hint without text", label)
			}
			c.Hints = append(c.Hints, Hint{After: h.After, Text: strings.TrimSpace(h.Text)})
		}
		if isEmpty(&cf.Steps) {
			d.errorf(item, "%s: no steps", label)
		} else {
			c.Steps = ll.steps(&cf.Steps, name, false, dirs, nil)
		}
		ll.lab.Checks = append(ll.lab.Checks, c)
		ll.checkFiles = append(ll.checkFiles, cf)
	}
}

// readYAML parses a lab file into doc. It reports false when the file is
// missing (a problem when required) or is not YAML.
func (ll *labLoader) readYAML(name string, doc *yaml.Node, required bool) bool {
	src, err := fs.ReadFile(ll.fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		if required {
			ll.probs.add(ll.dir, 0, "missing %s (see FORMAT.md)", name)
		}
		return false
	}
	if err != nil {
		ll.probs.add(ll.file(name), 0, "read: %v", unwrapPath(err))
		return false
	}
	if !utf8.Valid(src) {
		ll.probs.add(ll.file(name), 0, "not UTF-8 text")
		return false
	}
	if err := yaml.Unmarshal(src, doc); err != nil {
		ll.probs.addYAML(ll.file(name), 0, src, err)
		return false
	}
	return true
}

type actionsFile struct {
	Actions yaml.Node `yaml:"actions"`
}

type answersFile struct {
	Answers yaml.Node `yaml:"answers"`
}

type expectFile struct {
	Fails []string `yaml:"fails"`
	Note  string   `yaml:"note"`
}

func (ll *labLoader) readVariant(v *Variant) {
	var doc yaml.Node
	if name := path.Join(v.Dir, "actions.yaml"); ll.readYAML(name, &doc, false) {
		var f actionsFile
		ll.decoder(name, 0, "").decode(&doc, &f)
		cps := set{}
		v.Actions = ll.steps(&f.Actions, name, true, []string{v.Dir}, cps)
		ll.checkpoints[v] = cps
	}
	doc = yaml.Node{}
	if name := path.Join(v.Dir, "answers.yaml"); ll.readYAML(name, &doc, false) {
		var f answersFile
		d := ll.decoder(name, 0, "")
		d.decode(&doc, &f)
		v.Answers = map[string]string{}
		ll.answerLines[v] = map[string]int{}
		if n := resolve(&f.Answers); n.Kind == yaml.MappingNode {
			for _, p := range pairs(n) {
				val := resolve(p.value)
				if val.Kind != yaml.ScalarNode {
					d.errorf(d.line(val), "answer to %q: want a number or text, found %s", p.key.Value, describe(val))
					continue
				}
				v.Answers[p.key.Value] = val.Value
				ll.answerLines[v][p.key.Value] = d.line(p.key)
			}
		} else if !isEmpty(n) {
			d.errorf(d.line(n), "answers: want a mapping of question ids to answers, found %s", describe(n))
		}
	}
	if !strings.HasPrefix(v.Dir, "wrong/") {
		return
	}
	doc = yaml.Node{}
	name := path.Join(v.Dir, "expect.yaml")
	if _, err := fs.Stat(ll.fsys, name); errors.Is(err, fs.ErrNotExist) {
		ll.probs.add(ll.file(v.Dir), 0, "missing expect.yaml: a wrong variant names the checks it fails (fails: [check-id, …]) and its mistake (note: …)")
		return
	}
	if !ll.readYAML(name, &doc, true) {
		return
	}
	var f expectFile
	d := ll.decoder(name, 0, "")
	d.decode(&doc, &f)
	if len(f.Fails) == 0 {
		d.errorf(cmp.Or(ll.lineOf(&f.Fails), 1), "fails is empty: name the checks this variant must fail, as fails: [check-id, …]")
	}
	if v.Note = strings.TrimSpace(f.Note); v.Note == "" {
		d.errorf(cmp.Or(ll.lineOf(&f.Note), 1), "missing note: say what mistake this variant makes")
	}
	v.Fails = f.Fails
	for i := range f.Fails {
		ll.failLines[v] = append(ll.failLines[v], cmp.Or(ll.lineOf(&f.Fails[i]), 1))
	}
}

// steps decodes a list of steps of file: actions (inActions) or a check's.
// dirs are the submission folders its lab:"dir" fields must exist in;
// checkpoints, when not nil, receives the checkpoint names.
func (ll *labLoader) steps(n *yaml.Node, file string, inActions bool, dirs []string, checkpoints set) []Step {
	n = resolve(n)
	if isEmpty(n) {
		return nil
	}
	d := ll.decoder(file, 0, "")
	if n.Kind != yaml.SequenceNode {
		d.errorf(d.line(n), "steps: want a list of steps (- kind: {…}), found %s", describe(n))
		return nil
	}
	cpLines := map[string]int{}
	var out []Step
	for _, item := range n.Content {
		item = resolve(item)
		line := d.line(item)
		switch {
		case item.Kind == yaml.ScalarNode:
			if _, ok := ll.opts.Kinds[item.Value]; ok {
				d.errorf(line, "step %s: write it as \"- %s: {…}\" with its fields", item.Value, item.Value)
			} else {
				d.errorf(line, "step %s: a step is a mapping with one key, its kind, like \"- put_object: {bucket: b, key: k}\"", describe(item))
			}
			continue
		case item.Kind != yaml.MappingNode:
			d.errorf(line, "a step is a mapping with one key, its kind, like \"- put_object: {bucket: b, key: k}\"; found %s", describe(item))
			continue
		case len(item.Content) == 0:
			d.errorf(line, "empty step")
			continue
		case len(item.Content) > 2:
			var keys []string
			for i := 0; i < len(item.Content); i += 2 {
				keys = append(keys, item.Content[i].Value)
			}
			d.errorf(line, "a step has one key, its kind, but this one has %d (%s): indent its fields under the kind, or start another step with -", len(keys), strings.Join(keys, ", "))
			continue
		}
		kind, val := item.Content[0].Value, resolve(item.Content[1])
		step := Step{Kind: kind, File: d.file, Line: line}
		if kind == "checkpoint" {
			if !inActions {
				d.errorf(line, "step checkpoint: belongs in actions.yaml, where it marks the point of the replay at which checks with that at: run")
				continue
			}
			name := ""
			if val.Kind == yaml.ScalarNode && val.ShortTag() != "!!null" {
				name = val.Value
			}
			switch {
			case name == "":
				d.errorf(line, "step checkpoint: want a name, as \"- checkpoint: canary\"")
				continue
			case name == End:
				d.errorf(line, "step checkpoint: %q is the checkpoint after the last action and cannot be placed", End)
			case !idPattern.MatchString(name):
				d.errorf(line, "step checkpoint: name %q must be lower-case letters, digits and dashes", name)
			case cpLines[name] > 0:
				d.errorf(line, "step checkpoint: %q is used twice (also at line %d)", name, cpLines[name])
			}
			cpLines[name] = line
			if checkpoints != nil {
				checkpoints[name] = true
			}
			step.Args = name
			out = append(out, step)
			continue
		}
		k, ok := ll.opts.Kinds[kind]
		if !ok {
			d.errorf(line, "step %q: unknown step kind%s", kind, didYouMean(kind, append(sortedKeys(ll.opts.Kinds), "checkpoint")))
			continue
		}
		switch {
		case k.Where == InActions && !inActions:
			d.errorf(line, "step %s: belongs in actions.yaml (something the student does), not in a check", kind)
		case k.Where == InChecks && inActions:
			d.errorf(line, "step %s: is an inspection, for the steps of a check in checks.yaml; actions.yaml holds what the student does", kind)
		}
		var args any
		if k.Args != nil {
			args = k.Args()
		}
		if args == nil {
			if !isEmpty(val) {
				d.errorf(line, "step %s: takes no fields", kind)
			}
			out = append(out, step)
			continue
		}
		rv := reflect.ValueOf(args)
		if rv.Kind() != reflect.Pointer || rv.IsNil() {
			d.errorf(line, "step %s: its kind's Args returns %T, not a pointer (a bug in the step kind)", kind, args)
			continue
		}
		before := len(ll.probs.list)
		sd := &decoder{ll: ll, file: d.file, what: "step " + kind, values: true, dirs: dirs}
		if !isEmpty(val) {
			sd.value(val, rv.Elem(), "", "")
		}
		if len(ll.probs.list) == before {
			if v, ok := args.(interface{ Validate() error }); ok {
				if err := v.Validate(); err != nil {
					sd.errorf(line, "%v", err)
				}
			}
		}
		// What steps make, later steps (or checks) may name.
		switch kind {
		case "create_bucket":
			if b := valueOf(val, "bucket"); b != nil && b.Kind == yaml.ScalarNode {
				ll.createdBuckets[b.Value] = true
			}
		case "publish_layer":
			if l := valueOf(val, "layer"); l != nil && l.Kind == yaml.ScalarNode {
				ll.publishedLayers[l.Value] = true
			}
		}
		step.Args = args
		out = append(out, step)
	}
	return out
}

// isEmpty reports whether a node is absent or null.
func isEmpty(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// resolveRefs checks that every name the lab's files mention exists.
func (ll *labLoader) resolveRefs() {
	lab := ll.lab
	known := map[string][]string{}
	for _, f := range lab.Functions {
		known["function"] = append(known["function"], f.Name)
	}
	for _, b := range lab.Resources.Buckets {
		known["bucket"] = append(known["bucket"], b.Name)
	}
	known["bucket"] = append(known["bucket"], sortedKeys(ll.createdBuckets)...)
	known["layer"] = append(slices.Clone(lab.Resources.Layers), sortedKeys(ll.publishedLayers)...)
	for _, q := range lab.Questions {
		known["question"] = append(known["question"], q.ID)
	}
	for _, r := range ll.refs {
		var msgs []string
		switch r.kind {
		case "function", "bucket", "layer", "question":
			if !ll.labOK || slices.Contains(known[r.kind], r.name) || (r.kind != "question" && strings.HasPrefix(r.name, "arn:")) {
				continue
			}
			where := map[string]string{
				"function": "is not one of the lab's functions",
				"bucket":   "is neither in resources.buckets of lab.md nor made by a create_bucket step",
				"layer":    "is neither in resources.layers of lab.md nor published by a publish_layer step",
				"question": "is not one of the questions of lab.md",
			}[r.kind]
			msg := fmt.Sprintf("%s %q %s", r.kind, r.name, where)
			if s := didYouMean(r.name, known[r.kind]); s != "" {
				msg += s
			} else if r.kind == "function" && len(known[r.kind]) > 0 {
				msg += " (" + strings.Join(known[r.kind], ", ") + ")"
			}
			msgs = append(msgs, msg)
		case "file":
			p := path.Clean(r.name)
			if !fs.ValidPath(p) {
				msgs = append(msgs, fmt.Sprintf("%s %q must be a path inside the lab folder, like seeds/app.log", r.key, r.name))
				break
			}
			info, err := fs.Stat(ll.fsys, p)
			switch {
			case err != nil:
				msgs = append(msgs, fmt.Sprintf("%s %q is not in the lab folder %s/", r.key, r.name, ll.dir))
			case info.IsDir():
				msgs = append(msgs, fmt.Sprintf("%s %q is a folder, not a file", r.key, r.name))
			}
		case "dir":
			p := path.Clean(r.name)
			if !fs.ValidPath(p) {
				msgs = append(msgs, fmt.Sprintf("%s %q must be a folder inside the submission, like . or v2", r.key, r.name))
				break
			}
			for _, dir := range r.dirs {
				if info, err := fs.Stat(ll.fsys, path.Join(dir, p)); err != nil || !info.IsDir() {
					msgs = append(msgs, fmt.Sprintf("%s %q: %s/ has no such folder", r.key, r.name, dir))
				}
			}
		case "regexp":
			if _, err := regexp.Compile(r.name); err != nil {
				msgs = append(msgs, fmt.Sprintf("%s %q is not a regular expression: %s", r.key, r.name, regexpMessage(err)))
			}
		default:
			msgs = append(msgs, fmt.Sprintf("field %s has lab tag %q, which the loader does not know (a bug in the step kind)", r.key, r.kind))
		}
		for _, msg := range msgs {
			if r.via != "" {
				msg = r.via + ": " + msg
			}
			if r.what != "" {
				msg = r.what + ": " + msg
			}
			ll.probs.add(r.file, r.line, "%s", msg)
		}
	}
}

// regexpMessage is what regexp.Compile found wrong, without the expression
// the message already shows.
func regexpMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
	if i := strings.LastIndex(msg, ": `"); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// crossCheck checks what one file says of another: checks' tasks,
// dependencies and checkpoints, wrong variants' failing checks, answers.
func (ll *labLoader) crossCheck() {
	lab := ll.lab
	file := ll.file("checks.yaml")
	var tasks []string
	for _, t := range lab.Tasks {
		tasks = append(tasks, t.ID)
	}
	var ids []string
	index := map[string]int{}
	for i, c := range lab.Checks {
		ids = append(ids, c.ID)
		if _, dup := index[c.ID]; !dup && c.ID != "" {
			index[c.ID] = i
		}
	}
	for i, c := range lab.Checks {
		cf := ll.checkFiles[i]
		at := func(ptr any) int { return cmp.Or(ll.lineOf(ptr), c.Line) }
		label := fmt.Sprintf("check %q", c.ID)
		if ll.tasksOK && c.Task != "" && !slices.Contains(tasks, c.Task) {
			msg := fmt.Sprintf("%s: task %q is not a task of lab.md", label, c.Task)
			if s := didYouMean(c.Task, tasks); s != "" {
				msg += s
			} else if len(tasks) > 0 {
				msg += " (tasks: " + strings.Join(tasks, ", ") + ")"
			}
			ll.probs.add(file, at(&cf.Task), "%s", msg)
		}
		for j, dep := range c.DependsOn {
			if _, ok := index[dep]; !ok {
				ll.probs.add(file, at(&cf.DependsOn[j]), "%s: depends on %q, which is not a check of this lab%s", label, dep, didYouMean(dep, ids))
			}
		}
		if c.At != End && lab.Solution != nil && !ll.checkpoints[lab.Solution][c.At] {
			ll.probs.add(file, at(&cf.At), "%s: at %q, but solution/actions.yaml never reaches \"- checkpoint: %s\"", label, c.At, c.At)
		}
		if c.Timeout > lab.Limits.GradingTime && lab.Limits.GradingTime > 0 {
			ll.probs.add(file, at(&cf.Timeout), "%s: timeout %s is longer than the lab's whole grading run (%s, limits.grading_seconds)", label, c.Timeout, lab.Limits.GradingTime)
		}
	}
	for _, cycle := range dependencyCycles(lab.Checks, index) {
		first := index[cycle[0]]
		j := slices.Index(lab.Checks[first].DependsOn, cycle[1])
		line := cmp.Or(ll.lineOf(&ll.checkFiles[first].DependsOn[j]), lab.Checks[first].Line)
		ll.probs.add(file, line, "check %q: dependency cycle %s", cycle[0], strings.Join(cycle, " → "))
	}
	if ll.checkOK {
		for _, v := range lab.Wrong {
			for i, id := range v.Fails {
				if _, ok := index[id]; !ok {
					ll.probs.add(ll.file(path.Join(v.Dir, "expect.yaml")), ll.failLines[v][i], "fails: %q is not a check of checks.yaml%s", id, didYouMean(id, ids))
				}
			}
		}
	}
	if ll.labOK {
		var qids []string
		for _, q := range lab.Questions {
			qids = append(qids, q.ID)
		}
		for _, v := range ll.variants() {
			for _, id := range sortedKeys(v.Answers) {
				line := ll.answerLines[v][id]
				i := slices.IndexFunc(lab.Questions, func(q Question) bool { return q.ID == id })
				switch {
				case i < 0:
					ll.probs.add(ll.file(path.Join(v.Dir, "answers.yaml")), line, "answer to %q, which is not a question of lab.md%s", id, didYouMean(id, qids))
				case lab.Questions[i].Kind == "number":
					if _, err := strconv.ParseFloat(v.Answers[id], 64); err != nil {
						ll.probs.add(ll.file(path.Join(v.Dir, "answers.yaml")), line, "answer to %q: question %q wants a number, not %q", id, id, v.Answers[id])
					}
				}
			}
		}
	}
}

// dependencyCycles returns each cycle of depends_on once, as the ids along
// it starting and ending with the check that comes first in the file.
func dependencyCycles(checks []Check, index map[string]int) [][]string {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]int, len(checks))
	var stack []int
	var cycles [][]string
	seen := map[string]bool{}
	var visit func(i int)
	visit = func(i int) {
		state[i] = onPath
		stack = append(stack, i)
		for _, dep := range checks[i].DependsOn {
			j, ok := index[dep]
			if !ok {
				continue
			}
			switch state[j] {
			case unseen:
				visit(j)
			case onPath:
				k := slices.Index(stack, j)
				members := slices.Clone(stack[k:])
				low := slices.Index(members, slices.Min(members))
				members = append(members[low:], members[:low]...)
				var ids []string
				for _, m := range members {
					ids = append(ids, checks[m].ID)
				}
				ids = append(ids, ids[0])
				if key := strings.Join(ids, " "); !seen[key] {
					seen[key] = true
					cycles = append(cycles, ids)
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range checks {
		if state[i] == unseen {
			visit(i)
		}
	}
	return cycles
}

// splitFrontmatter returns the YAML between the first two --- lines and the
// offset just past the closing line (-1 when it is missing). ok is false
// when the file does not start with ---.
func splitFrontmatter(src []byte) (fm []byte, end int, ok bool) {
	first, rest, _ := bytes.Cut(src, []byte("\n"))
	if !bytes.Equal(bytes.TrimRight(first, " \t\r"), frontmatter) {
		return nil, 0, false
	}
	off := len(first) + 1
	for len(rest) > 0 {
		line, next, found := bytes.Cut(rest, []byte("\n"))
		if bytes.Equal(bytes.TrimRight(line, " \t\r"), frontmatter) {
			end := off + len(line)
			if found {
				end++
			}
			return src[len(first)+1 : off], end, true
		}
		off += len(line) + 1
		rest = next
	}
	return nil, -1, true
}

// unwrapPath drops the *fs.PathError wrapper: the problem already names the file.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// valueOf returns the value node of key in a YAML mapping (or a document
// holding one), or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = resolve(n.Content[0])
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for _, p := range pairs(n) {
		if p.key.Value == key {
			return resolve(p.value)
		}
	}
	return nil
}

func seqItems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}
