package grader

// The answer step: a student's answer to one of the lab's questions. A
// message never shows the expected value, only that the answer is not
// right, so that failing a check does not hand out the answer.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// answerArgs are answer's fields: Number (within Tolerance, absolute;
// 1 % of Number by default) for a number question; Text (the same words,
// ignoring case and spacing) and/or Matches (a regular expression, case
// ignored) for a text question.
type answerArgs struct {
	Question  string   `yaml:"question" lab:"question"`
	Number    *float64 `yaml:"number"`
	Tolerance *float64 `yaml:"tolerance"`
	Text      *string  `yaml:"text"`
	Matches   string   `yaml:"matches" lab:"regexp"`
}

// Validate checks that the step says what a right answer is.
func (a *answerArgs) Validate() error {
	if a.Question == "" {
		return errors.New("question is required")
	}
	switch {
	case a.Number == nil && a.Text == nil && a.Matches == "":
		return errors.New("give number, text or matches")
	case a.Number != nil && (a.Text != nil || a.Matches != ""):
		return errors.New("number does not go with text or matches")
	case a.Tolerance != nil && a.Number == nil:
		return errors.New("tolerance goes with number")
	case a.Tolerance != nil && *a.Tolerance < 0:
		return errors.New("tolerance must not be negative")
	}
	if a.Matches != "" {
		if _, err := regexp.Compile("(?i)" + a.Matches); err != nil {
			return fmt.Errorf("matches: %w", err)
		}
	}
	return nil
}

// numberRE finds a number as students write one: 16.7, 16,7, 1,000.5,
// .5, with a sign or without; thousandsRE is one grouped by commas.
var (
	numberRE    = regexp.MustCompile(`[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?|\.\d+)`)
	thousandsRE = regexp.MustCompile(`^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$`)
)

// parseAnswerNumber takes the first number in s: "about 17 rps" is 17,
// "16,7" is 16.7 and "1,000" is 1000 (a comma before exactly three
// digits groups thousands).
func parseAnswerNumber(s string) (float64, bool) {
	m := numberRE.FindString(s)
	if m == "" {
		return 0, false
	}
	if thousandsRE.MatchString(m) {
		m = strings.ReplaceAll(m, ",", "")
	} else {
		m = strings.Replace(m, ",", ".", 1)
	}
	f, err := strconv.ParseFloat(m, 64)
	return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

// sameWords compares texts ignoring case and runs of spaces.
func sameWords(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

func runAnswer(ctx context.Context, env *Env, a *answerArgs) error {
	text, unit := a.Question, ""
	if env.Lab != nil {
		for _, q := range env.Lab.Questions {
			if q.ID == a.Question {
				text, unit = q.Text, q.Unit
			}
		}
	}
	given := strings.TrimSpace(env.Answers[a.Question])
	if given == "" {
		return Failf("you have not answered the question %q", text)
	}
	inUnit := ""
	if unit != "" {
		inUnit = " (the question asks for " + unit + ")"
	}
	if a.Number != nil {
		got, ok := parseAnswerNumber(given)
		if !ok {
			return Failf("your answer %s to %q has no number in it%s", quoteBytes([]byte(given)), text, inUnit)
		}
		tol := math.Abs(*a.Number) / 100
		if a.Tolerance != nil {
			tol = *a.Tolerance
		}
		// A little room for the float behind a decimal written in YAML.
		if math.Abs(got-*a.Number) > tol+1e-9*math.Max(1, math.Abs(*a.Number)) {
			return Failf("your answer %s to %q is not right%s", strconv.FormatFloat(got, 'f', -1, 64), text, inUnit)
		}
		return nil
	}
	if a.Text != nil && !sameWords(given, *a.Text) {
		return Failf("your answer %s to %q is not right", quoteBytes([]byte(given)), text)
	}
	if a.Matches != "" {
		re, err := regexp.Compile("(?i)" + a.Matches)
		if err != nil {
			return fmt.Errorf("answer pattern %q: %w", a.Matches, err)
		}
		if !re.MatchString(given) {
			return Failf("your answer %s to %q is not right", quoteBytes([]byte(given)), text)
		}
	}
	return nil
}
