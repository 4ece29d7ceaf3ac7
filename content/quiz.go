package content

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/yuin/goldmark/ast"
	"gopkg.in/yaml.v3"
)

// quizYAML is the long form of a quiz block: an id and the questions. The
// short form is the bare list of questions.
type quizYAML struct {
	ID        string         `yaml:"id"`
	Reveal    string         `yaml:"reveal"`
	Questions []questionYAML `yaml:"questions"`
}

// Reveal is a quiz's rule for showing the right answers in a result.
type Reveal struct {
	// AfterCorrect holds them back until an attempt had every question right.
	AfterCorrect bool
	// AfterAttempts holds them back for this many attempts (an all-correct
	// attempt reveals them sooner); 0 sets no count.
	AfterAttempts int
}

// maxRevealAttempts bounds "reveal: after N".
const maxRevealAttempts = 100

// parseReveal reads a quiz's reveal: value; "" reveals always.
func parseReveal(v string) (Reveal, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "" || v == "always":
		return Reveal{}, nil
	case v == "after-correct":
		return Reveal{AfterCorrect: true}, nil
	}
	var n int
	if rest, ok := strings.CutPrefix(v, "after "); ok {
		if _, err := fmt.Sscanf(rest, "%d", &n); err == nil && fmt.Sprint(n) == strings.TrimSpace(rest) && n >= 1 && n <= maxRevealAttempts {
			return Reveal{AfterAttempts: n}, nil
		}
	}
	return Reveal{}, fmt.Errorf("reveal %q must be after-correct, or after N with N from 1 to %d", v, maxRevealAttempts)
}

// Reveals says whether a result may show the right answers and the
// explanations, given how many attempts the student has made (the shown
// one included) and whether any of them had every question right.
func (q *Quiz) Reveals(attempts int, allCorrect bool) bool {
	switch {
	case allCorrect:
		return true
	case q.Reveal.AfterAttempts > 0:
		return attempts >= q.Reveal.AfterAttempts
	default:
		return !q.Reveal.AfterCorrect
	}
}

type questionYAML struct {
	ID       string       `yaml:"id"`
	Q        string       `yaml:"q"`
	Multiple bool         `yaml:"multiple"`
	Choices  []choiceYAML `yaml:"choices"`
	Explain  string       `yaml:"explain"`
}

type choiceYAML struct {
	ID      string `yaml:"id"`
	Text    string `yaml:"text"`
	Correct bool   `yaml:"correct"`
}

// parseQuiz reads the YAML of a ```quiz block. n is the quiz's 1-based
// position in the lesson, for its default id. It returns nil after
// reporting a problem.
func (r *lessonRenderer) parseQuiz(st *docState, fc *ast.FencedCodeBlock, src []byte, n int) *Quiz {
	fence := st.lineAt(fc.Info.Segment.Start)
	var body bytes.Buffer
	for i := 0; i < fc.Lines().Len(); i++ {
		line := fc.Lines().At(i)
		body.Write(line.Value(src))
	}
	// fence+k is the file line of YAML line k.
	bad := func(k int, format string, args ...any) *Quiz {
		st.problem(fence+k, "quiz: "+format, args...)
		return nil
	}
	if len(bytes.TrimSpace(body.Bytes())) == 0 {
		return bad(0, "empty: write a list of questions, each with q, choices (text, correct) and explain")
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(body.Bytes(), &doc); err != nil {
		r.probs.addYAML(st.lesson.File, fence, "quiz", err)
		return nil
	}
	root := doc.Content[0]
	qz := quizYAML{}
	var qNodes []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(body.Bytes()))
	dec.KnownFields(true)
	var err error
	switch root.Kind {
	case yaml.SequenceNode:
		err = dec.Decode(&qz.Questions)
		qNodes = root.Content
	case yaml.MappingNode:
		err = dec.Decode(&qz)
		qNodes = seqItems(valueOf(root, "questions"))
	default:
		return bad(root.Line, "write a list of questions (or id: and questions:), not a single value")
	}
	if err != nil {
		r.probs.addYAML(st.lesson.File, fence, "quiz", err)
		return nil
	}

	q := &Quiz{ID: fmt.Sprintf("quiz-%d", n)}
	if qz.ID != "" {
		if !slugPattern.MatchString(qz.ID) {
			return bad(keyLine(root, "id"), "id %q must be lower-case letters, digits and dashes", qz.ID)
		}
		q.ID = qz.ID
	}
	rv, err := parseReveal(qz.Reveal)
	if err != nil {
		return bad(keyLine(root, "reveal"), "%v", err)
	}
	q.Reveal = rv
	if len(qz.Questions) == 0 {
		return bad(root.Line, "no questions")
	}
	ok := true
	seenQ := map[string]bool{}
	for i, qy := range qz.Questions {
		qn := qNodes[i]
		line := qn.Line
		qu := &Question{ID: fmt.Sprintf("q%d", i+1), Multiple: qy.Multiple}
		if qy.ID != "" {
			qu.ID = qy.ID
		}
		at := func(key string) int {
			if l := keyLine(qn, key); l > 0 {
				return l
			}
			return line
		}
		fail := func(k int, format string, args ...any) {
			bad(k, "question %d: "+format, append([]any{i + 1}, args...)...)
			ok = false
		}
		switch {
		case !slugPattern.MatchString(qu.ID):
			fail(at("id"), "id %q must be lower-case letters, digits and dashes", qu.ID)
			continue
		case seenQ[qu.ID]:
			fail(at("id"), "id %q is used twice in this quiz", qu.ID)
			continue
		}
		seenQ[qu.ID] = true
		if strings.TrimSpace(qy.Q) == "" {
			fail(line, "missing q (the question text)")
			continue
		}
		if strings.TrimSpace(qy.Explain) == "" {
			fail(line, "missing explain (shown with the result, whatever the answer)")
			continue
		}
		if len(qy.Choices) < 2 {
			fail(at("choices"), "needs at least two choices, has %d", len(qy.Choices))
			continue
		}
		cNodes := seqItems(valueOf(qn, "choices"))
		nCorrect := 0
		seenC := map[string]bool{}
		for j, cy := range qy.Choices {
			cline := line
			if j < len(cNodes) {
				cline = cNodes[j].Line
			}
			id := cy.ID
			if id == "" {
				id = choiceID(j)
			}
			if !slugPattern.MatchString(id) || seenC[id] {
				fail(cline, "choice id %q must be unique lower-case letters, digits and dashes", id)
				continue
			}
			seenC[id] = true
			if strings.TrimSpace(cy.Text) == "" {
				fail(cline, "choice %d has no text", j+1)
				continue
			}
			if cy.Correct {
				nCorrect++
			}
			qu.Choices = append(qu.Choices, &Choice{
				ID:      id,
				Text:    r.renderText(st, fence+cline, cy.Text, true),
				Correct: cy.Correct,
			})
		}
		switch {
		case nCorrect == 0:
			fail(at("choices"), "no choice is marked correct: true")
			continue
		case nCorrect > 1 && !qu.Multiple:
			fail(at("choices"), "%d choices are correct but the question is single choice: add multiple: true", nCorrect)
			continue
		}
		qu.Prompt = r.renderText(st, fence+line, qy.Q, true)
		qu.Explanation = r.renderText(st, fence+at("explain"), qy.Explain, false)
		q.Questions = append(q.Questions, qu)
	}
	if !ok {
		return nil
	}
	return q
}

// choiceID names choices a, b, c… as a printed quiz would.
func choiceID(i int) string {
	if i < 26 {
		return string(rune('a' + i))
	}
	return fmt.Sprintf("c%d", i+1)
}
