package labs

import (
	"fmt"
	"io/fs"
	"time"

	"gopkg.in/yaml.v3"
)

// Lab is one loaded, validated lab.
type Lab struct {
	ID, Title string
	Lesson    string // "module/lesson" slug
	Minutes   int
	Functions []Function
	Resources Resources
	Questions []Question
	Limits    Limits

	Intro string // Markdown before the first task
	Tasks []Task
	// Checks in file order.
	Checks []Check

	Starter  *Variant
	Solution *Variant
	Wrong    []*Variant // by name

	// FS is the lab's folder: seed files and the variants' folders.
	FS fs.FS

	// made are the buckets its create_bucket steps and the layers its
	// publish_layer steps make, anywhere in the lab: a submission may name
	// them as the lab's own variants do (LoadSubmission).
	madeBuckets, madeLayers map[string]bool
}

// Function is one function the lab is about.
type Function struct {
	Name        string
	Runtime     string
	Handler     string
	MemoryMB    int
	TimeoutS    int
	Code        string // folder within a submission holding its files; "." by default
	Environment map[string]string
}

// Resources are what the grader provisions before replaying actions.
type Resources struct {
	Buckets []Bucket
	Layers  []string // ready layers the lab needs ("xray-sdk")
}

// Bucket is a bucket to create, with seed objects.
type Bucket struct {
	Name    string
	Objects []Object
}

// Object is a seed object.
type Object struct {
	Key string
	Body
}

// Body is an object's content: exactly one of Text (yaml "body"), File (a
// file of the lab folder) or Generate. Step kinds embed it inline.
type Body struct {
	Text     string    `yaml:"body"`
	File     string    `yaml:"file" lab:"file"`
	Generate *Generate `yaml:"generate"`
}

// Generate is a large body: Line repeated up to Bytes.
type Generate struct {
	Line  string `yaml:"line"`
	Bytes int    `yaml:"bytes"`
}

// Question is asked of the student and graded by an answer step.
type Question struct {
	ID, Text string
	Kind     string // "number" or "text"
	Unit     string
}

// Limits are one lab's bounds on a grading run.
type Limits struct {
	GradingTime time.Duration
	Invokes     int
}

// Task is one "## Title {#id}" section of the instructions.
type Task struct {
	ID, Title string
	Markdown  string // the section's body, without its heading
}

// Check is one graded check.
type Check struct {
	ID, Title, Task string
	DependsOn       []string
	Hidden          bool
	// Once marks a check of a stage the learner's account moves past (a
	// canary before its rollback): once passed it stays passed.
	Once    bool
	Message string
	At      string // checkpoint name; "end" by default
	Timeout time.Duration
	Hints   []Hint
	Steps   []Step
	File    string // e.g. "s3-transform/checks.yaml"
	Line    int
}

// Hint is unlocked after After failed attempts.
type Hint struct {
	After int
	Text  string
}

// Step is one decoded step: Args is what the kind's StepKind.Args made,
// filled from the YAML (for "checkpoint", the name as a string).
type Step struct {
	Kind string
	Args any
	File string
	Line int
}

// Variant is a submission the lab ships: the starter, the solution or a
// wrong variant.
type Variant struct {
	Name    string // "starter", "solution" or the wrong variant's folder name
	Dir     string // its folder within the lab's FS, e.g. "wrong/no-decode"
	Actions []Step
	Answers map[string]string
	// Fails lists the checks a wrong variant must fail (expect.yaml); Note
	// says what mistake it makes.
	Fails []string
	Note  string
}

// Where says in which files a step kind may appear.
type Where int

const (
	InBoth    Where = iota // actions.yaml and checks.yaml
	InActions              // actions.yaml only
	InChecks               // checks.yaml only
)

// StepKind is what the loader needs of a step kind, which grader defines:
// Args returns a pointer to a fresh arguments struct. Its fields carry yaml
// tags; an unknown field is an error. Tags `lab:"bucket"`, `lab:"function"`,
// `lab:"question"`, `lab:"file"` (of the lab folder), `lab:"dir"` (of every
// submission), `lab:"regexp"` and `lab:"layer"` make the loader check what
// they name. If the struct has a Validate() error method, the loader calls
// it after decoding.
type StepKind struct {
	Args  func() any
	Where Where
}

// Duration is a Go duration in YAML ("500ms", "5s").
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (write 500ms, 5s or 2m)", s)
	}
	if v < 0 {
		return fmt.Errorf("duration %s is negative", s)
	}
	*d = Duration(v)
	return nil
}

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
