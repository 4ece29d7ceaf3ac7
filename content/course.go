package content

import (
	"embed"
	"io/fs"
)

//go:embed course
var embedded embed.FS

// Embedded returns the course compiled into the binary, rooted at the course
// folder so that Load(Embedded()) works.
func Embedded() fs.FS {
	sub, err := fs.Sub(embedded, "course")
	if err != nil {
		// fs.Sub only fails on an invalid path, and "course" is a constant.
		panic(err)
	}
	return sub
}

// Course is a loaded, validated and fully rendered course. It is read-only
// once Load returns, so it can be shared between requests without locking.
type Course struct {
	Title   string
	Modules []*Module // in course.yaml order
	Lessons []*Lesson // all lessons in reading order: module order, then lesson order
	// Assets is the course file system, for images: the web layer serves
	// GET /content/{path...} from it (images only).
	Assets fs.FS

	bySlug map[string]*Lesson
}

// Lesson returns the lesson with the given slug.
func (c *Course) Lesson(slug string) (*Lesson, bool) {
	l, ok := c.bySlug[slug]
	return l, ok
}

// Module is one chapter of the course, declared in course.yaml.
type Module struct {
	Slug, Title, Summary string
	Lessons              []*Lesson // in order

	line int // in course.yaml, for errors
}

// Lesson is one rendered Markdown page.
type Lesson struct {
	Slug, Title, Summary string
	Module               *Module
	Order                int
	Parts                []Part  // the rendered body, split around quizzes
	Quizzes              []*Quiz // the same quizzes, in order of appearance
	Prev, Next           *Lesson // neighbours in reading order; nil at the ends
	File                 string  // path within the course FS, e.g. "compute/01-options.md"
	// ReadingMinutes estimates the time to read the lesson: the words of
	// its prose, code and quizzes at 200 a minute, rounded up; at least 1.
	ReadingMinutes int
	// LabLinks are the lesson's links to /labs/ID, in order of
	// appearance. Load cannot know which labs exist; the caller that
	// loads the labs checks them with Course.CheckLabLinks.
	LabLinks []LabLink
}

// LabLink is one link from a lesson to a lab's page.
type LabLink struct {
	ID   string // the lab's id, as in /labs/{ID}
	Line int    // the line of the lesson file the link is on
}

// CheckLabLinks reports every lab link of the course whose lab does not
// exist (exists returns false for its id), as a *LoadError naming the
// lesson file and line of each; nil when every link resolves.
func (c *Course) CheckLabLinks(exists func(id string) bool) error {
	var probs problems
	for _, l := range c.Lessons {
		for _, ll := range l.LabLinks {
			if !exists(ll.ID) {
				probs.add(l.File, ll.Line, "link to lab %q, which does not exist", ll.ID)
			}
		}
	}
	return probs.err()
}

// Quiz returns the lesson's quiz with the given id, for grading a
// submission.
func (l *Lesson) Quiz(id string) (*Quiz, bool) {
	for _, q := range l.Quizzes {
		if q.ID == id {
			return q, true
		}
	}
	return nil, false
}

// Part is trusted, rendered HTML, a quiz or a calculator: exactly one of the
// three is set. The web layer renders a quiz as a form (and, after
// submission, the graded result) in place, and a calculator as the named
// interactive calculator.
type Part struct {
	HTML string
	Quiz *Quiz
	// Calculator is the name of a ```calculator NAME block, one of
	// Calculators.
	Calculator string
}

// Calculators are the names a ```calculator block may take: "billing"
// (monthly cost of a workload) and "rps" (requests per second from
// duration and concurrency, or the instances a rate needs). The web layer
// renders each; a lesson naming any other is a load error.
var Calculators = []string{"billing", "rps"}

// Quiz is a set of questions from one ```quiz block.
type Quiz struct {
	ID        string // stable within the lesson: "quiz-1", "quiz-2", … or the block's id: field
	Questions []*Question
	// Reveal is when a result may show the right answers; the zero value
	// shows them always (see Reveals).
	Reveal Reveal
}

// Question is one quiz question.
type Question struct {
	ID          string // stable within the quiz: "q1", "q2", … or the question's id: field
	Prompt      string // rendered inline HTML
	Multiple    bool   // more than one choice may be selected
	Choices     []*Choice
	Explanation string // rendered HTML, shown only after submission
}

// Choice is one possible answer.
type Choice struct {
	ID   string // stable within the question: "a", "b", … or the choice's id: field
	Text string // rendered inline HTML
	// Correct tells whether this choice is part of the right answer. It must
	// never be written into a page before the student has submitted: treat it
	// as private to grading and to the result view.
	Correct bool
}

// Grade is the result of grading one submission of a quiz.
type Grade struct {
	Score, Total int
	Questions    []QuestionGrade // one per question, in quiz order
}

// QuestionGrade is the result for one question.
type QuestionGrade struct {
	Question *Question
	Chosen   []string // the valid choice ids the student picked, in choice order
	Correct  bool
}

// Grade grades answers, a map from question id to chosen choice ids. Unknown
// question and choice ids are ignored. A question is correct when the chosen
// set equals the set of correct choices.
func (q *Quiz) Grade(answers map[string][]string) Grade {
	g := Grade{Total: len(q.Questions)}
	for _, qu := range q.Questions {
		chosen := map[string]bool{}
		for _, id := range answers[qu.ID] {
			chosen[id] = true
		}
		qg := QuestionGrade{Question: qu, Correct: true}
		for _, c := range qu.Choices {
			if chosen[c.ID] {
				qg.Chosen = append(qg.Chosen, c.ID)
			}
			if chosen[c.ID] != c.Correct {
				qg.Correct = false
			}
		}
		if qg.Correct {
			g.Score++
		}
		g.Questions = append(g.Questions, qg)
	}
	return g
}
